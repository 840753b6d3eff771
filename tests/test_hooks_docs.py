"""Every hook is documented, exercised by a test, and in the generated reference.

Modelled on datasette's tests/test_docs.py: the hook specifications are the
reference, and these tests fail when one is undocumented, untested, or when
docs/hooks.md no longer matches them.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest

from harmonia.plugin import hookspecs

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent

#: The hooks of DESIGN.md: the contract packs are written against.
DESIGNED = {
    "harmonia_data_sources",
    "harmonia_questionnaires",
    "harmonia_segmentation_rules",
    "harmonia_refinement_policies",
    "harmonia_output_sinks",
    "harmonia_country_profiles",
    "harmonia_engagement_strategies",
    "harmonia_identifier_schemes",
    "harmonia_register_commands",
    "harmonia_commands",
}

SECTIONS = ("Parameters", "Returns", "Calling convention", "Example")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_hook_docs", ROOT / "tools/gen_hook_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HOOKS = sorted(
    name
    for name, value in vars(hookspecs).items()
    if name.startswith("harmonia_") and inspect.isfunction(value)
)


def test_the_spec_module_declares_exactly_the_designed_hooks() -> None:
    assert set(HOOKS) == DESIGNED


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_marked_as_a_specification(hook: str) -> None:
    assert hasattr(getattr(hookspecs, hook), "harmonia_spec")


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_docstring_has_the_reference_sections(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    missing = [s for s in SECTIONS if not re.search(rf"^\*\*{s}:?\*\*", doc, re.MULTILINE)]
    assert not missing, f"{hook} docstring lacks {missing}"
    example = doc.split("**Example**", 1)[1]
    assert f"def {hook}(" in example, f"{hook}'s example does not implement the hook"
    assert "collect-all" in doc or "first-result" in doc, f"{hook}: say how it is called"


def _test_sources() -> dict[Path, str]:
    return {
        path: path.read_text(encoding="utf-8")
        for path in TESTS.rglob("test_*.py")
        if path.resolve() != Path(__file__).resolve()
    }


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_exercised_by_a_test(hook: str) -> None:
    users = [path.name for path, text in _test_sources().items() if hook in text]
    assert users, f"no test under tests/ uses {hook}; write one that implements and calls it"


def test_hooks_md_is_generated_from_the_spec_module() -> None:
    page = ROOT / "docs" / "hooks.md"
    expected = _generator().render()
    assert page.exists(), "docs/hooks.md is missing: run `python tools/gen_hook_docs.py`"
    assert page.read_text(encoding="utf-8") == expected, (
        "docs/hooks.md is stale: run `python tools/gen_hook_docs.py`"
    )


def test_the_generated_reference_documents_every_hook_with_its_example() -> None:
    page = _generator().render()
    for hook in HOOKS:
        assert f"## {hook}\n" in page
        assert f"def {hook}(" in page
    assert ":class:" not in page and "``" not in page.replace("```", "")
