"""Fixtures of the harmonia-excel tests: a French market with customers, workbooks."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import harmonia_excel
import harmonia_fr
import harmonia_oncology
from harmonia import Harmonia

CUSTOMERS = """customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory
C3;FR;HCP;Zoé;Martin;medical_oncology;75013;Paris;FR-T001
C1;FR;HCP;Claire;Leroy;pulmonology;69003;Lyon;FR-T001
C2;FR;HCO;;Institut Curie;;75005;Paris;FR-T001
C4;FR;HCP;=Paul;Bernard;haematology;31000;Toulouse;FR-T001
C9;FR;HCP;Jean;Ailleurs;medical_oncology;33000;Bordeaux;FR-T002
"""


@pytest.fixture
def harmonia_packs() -> list[Any]:
    """Built-ins plus the oncology, France and Excel packs (harmonia.testing's fixtures)."""
    return [harmonia_oncology, harmonia_fr, harmonia_excel]


@pytest.fixture
def catalog(harmonia_catalog: Any) -> Any:
    return harmonia_catalog


@pytest.fixture
def load(harmonia_app: Harmonia) -> Callable[..., list[Any]]:
    """Load files as ``harmonia load`` does (country FR by default); the load results."""

    def run(*paths: Path, country: str | None = "FR", system: str | None = None) -> list[Any]:
        jobs = harmonia_app.loads.plan(list(paths))
        return harmonia_app.loads.run(jobs, country=country, system=system)

    return run


@pytest.fixture
def market(tmp_path: Path, load: Callable[..., list[Any]]) -> Path:
    """A database with five French customers (four in FR-T001), loaded from CSV."""
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS, encoding="utf-8")
    (result,) = load(path)
    assert result.rows_quarantined == 0, result.reasons
    return tmp_path


@pytest.fixture
def workbook_command(catalog: Any, harmonia_cli: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``harmonia questionnaire workbook`` with the test's packs and database."""

    def run(*args: str) -> Any:
        return harmonia_cli("questionnaire", "workbook", *args)

    return run


@pytest.fixture
def territory_workbook(market: Path, workbook_command: Callable[..., Any]) -> Path:
    """The French rep workbook of FR-T001."""
    out = market / "FR-T001.xlsx"
    result = workbook_command(
        "--therapy-area", "oncology", "--country", "FR", "--territory", "FR-T001",
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def fill() -> Callable[..., Path]:
    """Fill a rep workbook as a rep would: ``fill(path, {"C1": {item or (item, option): value}})``.

    Columns are found through the hidden sheet (by item id and option code);
    the values are what the rep types or picks (the French texts).
    """

    def run(path: Path, answers: dict[str, dict[Any, Any]], out: Path | None = None) -> Path:
        from openpyxl import load_workbook

        from harmonia_excel.metadata import WorkbookMeta

        workbook = load_workbook(path)
        meta = WorkbookMeta.read(workbook)
        assert meta is not None
        sheet = workbook[meta.sheet]
        letters = {
            (c.option and (c.item, c.option)) or c.item or c.role: c.letter for c in meta.columns
        }
        rows = {sheet[f"A{row}"].value: row for row in range(meta.first_row, sheet.max_row + 1)}
        for customer, values in answers.items():
            for key, value in values.items():
                sheet[f"{letters[key]}{rows[customer]}"] = value
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
        workbook.save(out or path)
        return out or path

    return run


@pytest.fixture
def convert(tmp_path: Path) -> Callable[..., list[Path]]:
    """``soffice --headless --convert-to FORMAT FILE...``: the converted files.

    One LibreOffice run converts every file given (a start costs seconds).
    Skips when LibreOffice is not installed, except under CI (``.ci/run``
    installs it): then it fails. A conversion that fails is a test failure.
    """
    executable = shutil.which("soffice") or shutil.which("libreoffice")
    if executable is None:
        message = "LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set, so this fails instead of skipping)")
        pytest.skip(message)
    directory = tmp_path / "libreoffice"

    def run(target_format: str, *sources: Path) -> list[Path]:
        command = [
            executable,
            f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}",  # no lock clashes
            "--headless",
            "--convert-to",
            target_format,
            "--outdir",
            str(directory),
            *map(str, sources),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        suffix = target_format.split(":", 1)[0]
        converted = [directory / f"{source.stem}.{suffix}" for source in sources]
        missing = [path.name for path in converted if not path.is_file()]
        assert done.returncode == 0 and not missing, done.stdout + done.stderr
        return converted

    return run
