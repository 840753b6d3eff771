"""Every field a pack declares is documented, and docs/definitions.md is generated from them.

The definition classes are the reference: a field without a ``#:`` comment,
or a page that no longer matches the classes, fails here (run
``python tools/gen_definition_docs.py``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_definition_docs", ROOT / "tools/gen_definition_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()
CLASSES = [cls for _, _, classes in GENERATOR.sections() for cls in classes]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_field_is_documented(cls: type) -> None:
    comments = GENERATOR.field_comments(cls)
    fields = [f.name for f in attrs.fields(cls) if f.name not in GENERATOR.FILLED_IN]
    undocumented = [name for name in fields if not comments.get(name)]
    assert not undocumented, f"{cls.__name__}: add a '#:' comment above {undocumented}"


def test_the_reference_is_up_to_date() -> None:
    page = (ROOT / "docs" / "definitions.md").read_text(encoding="utf-8")
    assert page == GENERATOR.render(), "run: python tools/gen_definition_docs.py"


def test_every_option_of_the_catalogue_is_in_the_reference() -> None:
    import tomllib

    catalogue = ROOT / "core" / "harmonia" / "builtin" / "data" / "catalogue.toml"
    page = (ROOT / "docs" / "definitions.md").read_text(encoding="utf-8")
    for option in tomllib.loads(catalogue.read_text(encoding="utf-8"))["options"]:
        assert f"`{option['name']}`" in page


def test_every_relative_link_in_the_docs_points_at_a_file() -> None:
    import re

    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken
