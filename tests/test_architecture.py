"""The shape of the core, checked: one way to open DuckDB, one SQL quoter.

The layers themselves are import-linter contracts (``[tool.importlinter]`` in
pyproject.toml, run by ``tox -e lint``); these are the rules a graph of
imports cannot see.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "core" / "harmonia"
SOURCES = sorted(CORE.rglob("*.py"))
#: The code of every pack and contrib connector in the repository (their tests aside).
PACK_SOURCES = sorted(
    path
    for folder in ("plugins", "country_packs", "therapy_areas", "contrib")
    for path in (ROOT / folder).rglob("*.py")
    if "tests" not in path.relative_to(ROOT).parts
)


def _offending(pattern: str, allowed: set[str], sources: list[Path] = SOURCES) -> list[str]:
    found = []
    for path in sources:
        name = path.relative_to(CORE if path.is_relative_to(CORE) else ROOT).as_posix()
        if name in allowed:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(pattern, line):
                found.append(f"{name}:{number}: {line.strip()}")
    return found


def test_every_duckdb_connection_goes_through_compute() -> None:
    """A raw duckdb.connect() skips harmonia's memory limit; packs use harmonia.duckdb_connection."""
    assert _offending(r"duckdb\.connect\(", {"compute.py"}, SOURCES + PACK_SOURCES) == []


@pytest.mark.parametrize(
    "pattern",
    [r"""replace\(\s*["']'["']\s*,\s*["']''["']""", r"""replace\(\s*'"'\s*,\s*'""'"""],
    ids=["literal", "identifier"],
)
def test_sql_literals_and_identifiers_are_quoted_in_one_place(pattern: str) -> None:
    """harmonia.sql quotes (packs: harmonia.sql_literal); a hand-written quoter is one more to keep right."""
    assert _offending(pattern, {"sql.py"}, SOURCES + PACK_SOURCES) == []
