"""The shape of the core, checked: one way to open DuckDB, one SQL quoter.

The layers themselves are import-linter contracts (``[tool.importlinter]`` in
pyproject.toml, run by ``tox -e lint``); these are the rules a graph of
imports cannot see.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "core" / "harmonia"
SOURCES = sorted(CORE.rglob("*.py"))


def _offending(pattern: str, allowed: set[str]) -> list[str]:
    found = []
    for path in SOURCES:
        name = path.relative_to(CORE).as_posix()
        if name in allowed:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(pattern, line):
                found.append(f"{name}:{number}: {line.strip()}")
    return found


def test_every_duckdb_connection_goes_through_compute() -> None:
    """A raw duckdb.connect() skips harmonia's memory limit."""
    assert _offending(r"duckdb\.connect\(", {"compute.py"}) == []


@pytest.mark.parametrize(
    "pattern",
    [r"""replace\(\s*["']'["']\s*,\s*["']''["']""", r"""replace\(\s*'"'\s*,\s*'""'"""],
    ids=["literal", "identifier"],
)
def test_sql_literals_and_identifiers_are_quoted_in_one_place(pattern: str) -> None:
    assert _offending(pattern, {"sql.py"}) == []
