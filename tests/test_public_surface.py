"""The public surface: what packs may import, documented, and nothing else used.

``harmonia.__all__`` (with :mod:`harmonia.files` for canonical files and
:mod:`harmonia.testing` for pack tests) is what a pack may use; docs/api.md
documents it. Everything else is internal and may change between releases, so
a bundled pack or contrib connector that imports it fails here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import harmonia

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "docs" / "api.md"

#: The modules a pack may import.
PUBLIC_MODULES = {"harmonia", "harmonia.files", "harmonia.testing"}

#: Every name harmonia exported before the architecture step: packs use them, so they stay.
KEPT = {
    "OUTPUT_KINDS", "RECORD_KINDS", "AnswerOption", "AttributeFeature", "Band", "Batch",
    "ChannelPlan", "ConfigError", "ConsistencyFeature", "CountryProfile", "CsvConventions",
    "CycleInfo", "DataSource", "DefinitionError", "Dimension", "EnableWhen", "EngagementStrategy",
    "Group", "HarmoniaError", "IdentifierScheme", "InputError", "InvalidIdentifier", "Item",
    "Matrix", "MatrixAxis", "MetricFeature", "Missing", "Option", "OutputSink", "Period",
    "PluginError", "Problem", "ProfileDimension", "ProfileFeature", "Provenance", "PullThrough",
    "QuantileFeature", "Questionnaire", "RefinementPolicy", "Rule", "RuleSet", "SinkRequest",
    "SourceRequest", "TherapyAreaChoice", "VersionLink", "hookimpl", "load_definitions",
    "source_request",
}  # fmt: skip


def test_every_name_once_exported_is_still_exported() -> None:
    assert set(harmonia.__all__) >= KEPT


@pytest.mark.parametrize("name", sorted(harmonia.__all__))
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(harmonia, name) is not None


@pytest.mark.parametrize("module", sorted(PUBLIC_MODULES - {"harmonia"}))
def test_every_public_module_declares_its_names(module: str) -> None:
    imported = __import__(module, fromlist=["_"])
    assert imported.__all__ and all(hasattr(imported, name) for name in imported.__all__)


def test_harmonia_testing_imports_without_pytest() -> None:
    """Pack helpers work in scripts too; only the fixtures (its plugin) need pytest."""
    code = (
        "import sys; sys.modules['pytest'] = None\n"
        "import harmonia.testing\n"
        "print(harmonia.testing.module_pack('demo').__name__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "demo"


def test_docs_api_documents_every_public_name_and_module() -> None:
    page = API.read_text(encoding="utf-8")
    names = {
        *harmonia.__all__,
        *harmonia.files.__all__,
        *__import__("harmonia.testing").testing.__all__,
    }
    missing = sorted(name for name in names if f"`{name}`" not in page)
    assert not missing, f"docs/api.md does not document {missing}"
    assert all(f"`{module}`" in page for module in PUBLIC_MODULES)


# --- no pack imports a private module ---------------------------------------------------


def _pack_sources() -> list[Path]:
    """The code of every bundled pack and contrib connector (not their tests)."""
    folders = [ROOT / "plugins", ROOT / "country_packs", ROOT / "therapy_areas", ROOT / "contrib"]
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else ():
            parts = path.relative_to(folder).parts
            if "tests" not in parts and not path.name.startswith("test_"):
                found.append(path)
    return found


def _builtin_sources() -> list[Path]:
    """The built-in packs, which use the public surface exactly like external ones."""
    return sorted((ROOT / "core" / "harmonia" / "builtin").glob("*.py"))


def imported_harmonia_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every ``harmonia...`` module ``path`` imports, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "harmonia":
                    yield node.lineno, alias.name
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] == "harmonia"
        ):
            yield node.lineno, node.module


def _private_imports(paths: list[Path]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for path in paths
        for line, module in imported_harmonia_modules(path)
        if module not in PUBLIC_MODULES
    ]


def test_the_packs_checked_are_the_bundled_ones() -> None:
    names = {path.relative_to(ROOT).parts[1] for path in _pack_sources()}
    assert {"excel", "synthetic", "fr", "oncology"} <= names


def test_no_bundled_pack_or_contrib_connector_imports_a_private_module() -> None:
    assert _private_imports(_pack_sources()) == []


def test_the_builtins_use_only_the_public_surface() -> None:
    assert _builtin_sources() and _private_imports(_builtin_sources()) == []


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    pack = tmp_path / "sneaky.py"
    pack.write_text("from harmonia.store.bulk import BulkConnection\nimport harmonia.files\n")
    assert [module for _, module in imported_harmonia_modules(pack)] == [
        "harmonia.store.bulk",
        "harmonia.files",
    ]
