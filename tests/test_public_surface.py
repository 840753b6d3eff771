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


def _distributions() -> list[Path]:
    """Every pack and contrib distribution in the repository: each folder with its own
    pyproject.toml, wherever it is (the core's is the root's)."""
    return sorted(
        path.parent
        for path in ROOT.rglob("pyproject.toml")
        if path.parent != ROOT and not {".git", ".tox", "node_modules"} & set(path.parts)
    )


def _pack_sources() -> list[Path]:
    """The code of every bundled pack and contrib connector, their tests included: a
    pack's tests are pack code too and have the public fixtures (harmonia.testing)."""
    return [path for folder in _distributions() for path in sorted(folder.rglob("*.py"))]


def _builtin_sources() -> list[Path]:
    """The built-in packs, which use the public surface exactly like external ones."""
    return sorted((ROOT / "core" / "harmonia" / "builtin").glob("*.py"))


def _public_names(module: str) -> set[str]:
    return set(__import__(module, fromlist=["_"]).__all__)


def imported_harmonia_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every ``harmonia...`` module or name ``path`` imports, at any
    depth: ``import harmonia.x``, ``from harmonia.x import y`` (as ``harmonia.x``),
    ``from harmonia import y`` (as ``harmonia.y`` when ``y`` is not a public name of
    ``harmonia``: a submodule or a private name), and ``importlib.import_module`` or
    ``__import__`` of a literal name."""
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
            module = node.module or ""
            if module not in PUBLIC_MODULES:
                yield node.lineno, module
                continue
            public = _public_names(module)
            names = [alias.name for alias in node.names]
            if set(names) <= public:
                yield node.lineno, module
            else:
                for name in names:
                    yield node.lineno, module if name in public else f"{module}.{name}"
        elif isinstance(node, ast.Call) and _imports_by_name(node.func) and node.args:
            argument = node.args[0]
            named = argument.value if isinstance(argument, ast.Constant) else None
            if isinstance(named, str) and named.split(".")[0] == "harmonia":
                yield node.lineno, named


def _imports_by_name(function: ast.expr) -> bool:
    """``importlib.import_module(...)``, ``__import__(...)``, ``pytest.importorskip(...)``."""
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    return name in ("import_module", "__import__", "importorskip")


def _private_imports(paths: list[Path]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for path in paths
        for line, module in imported_harmonia_modules(path)
        if module not in PUBLIC_MODULES
    ]


def test_the_packs_checked_are_every_distribution_in_the_repository() -> None:
    names = {folder.name for folder in _distributions()}
    assert {"excel", "synthetic", "fr", "oncology", "diabetes", "immunology"} <= names
    checked = {path.relative_to(ROOT).parts[:2] for path in _pack_sources()}
    assert {folder.relative_to(ROOT).parts[:2] for folder in _distributions()} == checked
    assert any("tests" in path.parts for path in _pack_sources())  # their tests too


def test_no_bundled_pack_or_contrib_connector_imports_a_private_module() -> None:
    assert _private_imports(_pack_sources()) == []


def test_the_builtins_use_only_the_public_surface() -> None:
    assert _builtin_sources() and _private_imports(_builtin_sources()) == []


def test_the_check_sees_every_way_to_import_a_private_module(tmp_path: Path) -> None:
    pack = tmp_path / "sneaky.py"
    pack.write_text(
        "import importlib\n"
        "from harmonia.store.bulk import BulkConnection\n"
        "import harmonia.files\n"
        "from harmonia import RuleSet, hookimpl\n"
        "from harmonia import store, RuleSet\n"
        "from harmonia.files import read_csv, _private\n"
        "def later():\n"
        "    from harmonia.plugin.catalog import Catalog\n"
        "    importlib.import_module('harmonia.engine')\n"
        "    __import__('harmonia.ingest')\n"
        "    pytest.importorskip('harmonia.rules')\n"
    )
    assert [module for _, module in imported_harmonia_modules(pack)] == [
        "harmonia.store.bulk",
        "harmonia.files",
        "harmonia",
        "harmonia.store",
        "harmonia",
        "harmonia.files",
        "harmonia.files._private",
        "harmonia.plugin.catalog",
        "harmonia.engine",
        "harmonia.ingest",
        "harmonia.rules",
    ]
    assert len(_private_imports_of(pack)) == 7


def _private_imports_of(path: Path) -> list[str]:
    return [module for _, module in imported_harmonia_modules(path) if module not in PUBLIC_MODULES]
