"""The pack's lower bounds admit only versions that have the APIs it calls."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"

#: The newest version of each library without an API the workbooks use.
TOO_OLD = {
    "xlsxwriter": "3.1.8",  # worksheet.very_hidden() came in 3.1.9
    "python-calamine": "0.2.3",  # CalamineWorkbook as a context manager came in 0.3.0
}


def test_the_lower_bounds_exclude_versions_without_the_apis_used() -> None:
    declared = {
        requirement.name: requirement.specifier
        for requirement in map(
            Requirement, tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
        )
    }
    for name, version in TOO_OLD.items():
        assert version not in declared[name], f"{name} {version} lacks an API the pack calls"
