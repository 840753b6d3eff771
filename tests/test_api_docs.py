"""docs/api.md's code examples run, so the page cannot go stale.

Each ```python block is extracted from the page: a block that defines
``test_`` functions is a pack's test module and runs under pytest; any other
runs as a script in a folder holding what it names (``data/``: a French
oncology universe from the synthetic pack; ``reps.csv``: its territories'
reps), with the installed packs, exactly as a reader would run it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "docs" / "api.md"


def code_blocks(page: str) -> list[tuple[int, str]]:
    """(line, code) of every ```python block of a markdown page."""
    return [
        (page.count("\n", 0, match.start()) + 2, match.group(1))
        for match in re.finditer(r"^```python\n(.*?)^```", page, re.S | re.M)
    ]


BLOCKS = code_blocks(API.read_text(encoding="utf-8"))


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 2 and all(code.strip() for _, code in BLOCKS)


@pytest.fixture
def reader_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with what the examples name, made with the installed packs."""
    import csv

    from harmonia import Harmonia
    from harmonia.files import write_csv

    monkeypatch.delenv("HARMONIA_DATABASE_URL", raising=False)
    maker = Harmonia(tmp_path / "scratch.db")
    request = maker.source_request({"customers": "300", "therapy_area": "oncology"}, "FR")
    profile = maker.catalog.country_profiles["FR"]
    written = write_csv(
        maker.catalog.data_sources["synthetic"].read(request),
        tmp_path / "data",
        delimiter=profile.csv.delimiter,
        decimal=profile.csv.decimal,
    )
    with written["customers"].open(encoding="utf-8") as handle:
        territories = {row["territory"] for row in csv.DictReader(handle, delimiter=";")}
    lines = ["territory,reps", *(f"{t},1" for t in sorted(territories) if t)]
    (tmp_path / "reps.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("line", "code"), [b for b in BLOCKS if "def test_" not in b[1]], ids=lambda v: str(v)[:12]
)
def test_a_script_example_runs(reader_folder: Path, line: int, code: str) -> None:
    try:
        exec(compile(code, f"{API}:{line}", "exec"), {"__name__": "docs_example"})
    except Exception as error:  # any failure: the page's line is the point
        pytest.fail(f"docs/api.md, the example at line {line} fails: {error!r}")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("line", "code"), [b for b in BLOCKS if "def test_" in b[1]], ids=lambda v: str(v)[:12]
)
def test_a_test_example_passes_under_pytest(tmp_path: Path, line: int, code: str) -> None:
    module = tmp_path / "test_example.py"
    module.write_text(code, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, f"docs/api.md, the example at line {line}:\n{run.stdout}"
