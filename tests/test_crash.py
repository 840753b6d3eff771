"""kill -9 at many points of a load and of a cycle run: the next command opens a
consistent store, says what it cleaned up, and running again gives a clean run's
result (issue 11, crash safety). Real subprocesses, really killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tiny_market
from helpers import load, query, tiny_catalog

from harmonia.app import Harmonia
from harmonia.store.facts import copy_store, facts_folder

pytestmark = [pytest.mark.store, pytest.mark.slow]

FIXTURES = Path(__file__).parent / "fixtures"

#: Runs a load of the H1 metrics or the H1 cycle, printing each stage as it
#: starts, so the test can kill it at a point after one.
DRIVER = """
import sys
from helpers import tiny_catalog
from harmonia.app import Harmonia

url, what, target = sys.argv[1:4]
app = Harmonia(url, tiny_catalog())

def stage(*args):
    print(args[-1], flush=True)

if what == "load":
    jobs = app.loads.plan([__import__("pathlib").Path(target)])
    app.loads.run(jobs, country="NL", progress=stage)
else:
    app.cycles.run(country="NL", therapy_area="cardiology", period="2027-H1",
                   directory=__import__("pathlib").Path(target), on_stage=stage)
print("done", flush=True)
"""


def run_and_kill(url: str, what: str, target: Path, after_lines: int, delay: float = 0) -> bool:
    """Run the driver and SIGKILL it ``delay`` seconds after it printed ``after_lines`` stages.

    Returns whether it was killed (False: it finished first).
    """
    environment = {**os.environ, "PYTHONPATH": str(FIXTURES)}
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, url, what, str(target)],
        stdout=subprocess.PIPE,
        env=environment,
        text=True,
    )
    assert process.stdout is not None
    for seen, line in enumerate(process.stdout, start=1):
        if line.strip() == "done":
            break
        if seen == after_lines:
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
    assert process.wait() == 0
    return False


def metrics(url: str) -> list[dict]:
    return query(url, "SELECT customer_id, metric, period, value FROM metric ORDER BY 1, 2, 3")


def answers(url: str) -> list[dict]:
    return query(
        url,
        "SELECT r.id, r.customer_id, r.respondent, r.answered_at, a.question, a.value "
        "FROM response r JOIN answer a ON a.response_id = r.id ORDER BY 1, 5, 6",
    )


#: A load of each kind of facts, and how to read what it stored.
FACTS = {"metrics": metrics, "responses": answers}


def folders_of_uncommitted_batches(url: str) -> list[str]:
    """Batch folders of facts whose batch is not committed (a killed load's leftovers)."""
    from harmonia.store.facts import facts_folder

    loaded = {row["id"] for row in query(url, "SELECT id FROM load_batch WHERE status = 'loaded'")}
    root = facts_folder(Path(url.removeprefix("sqlite:///")))
    return [
        str(folder)
        for folder in root.glob("*/batch=*")
        if int(folder.name.removeprefix("batch=")) not in loaded
    ]


def inputs_folders(url: str) -> set[int]:
    """The cycles that have an assignment inputs folder beside the store."""
    root = facts_folder(Path(url.removeprefix("sqlite:///"))) / "assignment_input"
    return {int(folder.name.removeprefix("cycle=")) for folder in root.glob("cycle=*")}


def cycles_with_rows(url: str) -> set[int]:
    return {row["cycle_id"] for row in query(url, "SELECT DISTINCT cycle_id FROM assignment")}


def reopened(url: str) -> list[str]:
    """What the next command's opening of the store cleaned up."""
    app = Harmonia(url, tiny_catalog())
    app.database  # noqa: B018 (opening it is the point)
    assert app.recovered is not None
    statuses = {row["status"] for row in query(url, "SELECT status FROM load_batch")}
    statuses |= {row["status"] for row in query(url, "SELECT status FROM cycle")}
    assert "running" not in statuses
    return app.recovered.messages()


@pytest.mark.parametrize("kind", sorted(FACTS))
def test_a_load_killed_anywhere_leaves_a_consistent_store(
    harmonia_database: str, tmp_path: Path, kind: str
) -> None:
    stored = FACTS[kind]
    load(harmonia_database, tiny_catalog(), tiny_market.DATA / "h1" / "customers.csv", country="NL")
    customers_only = tmp_path / "customers-only.db"
    copy_store(Path(harmonia_database.removeprefix("sqlite:///")), customers_only)
    clean = tmp_path / "clean.db"
    copy_store(customers_only, clean)
    facts_file = tiny_market.DATA / "h1" / f"{kind}.csv"
    load(f"sqlite:///{clean}", tiny_catalog(), facts_file, country="NL")
    expected = stored(f"sqlite:///{clean}")
    assert expected
    killed_at = []
    # After reading the file, while checking it, while storing, while committing.
    for point, delay in ((1, 0), (2, 0), (2, 0.03), (2, 0.1)):
        store = tmp_path / f"killed-{point}-{delay}.db"
        copy_store(customers_only, store)
        url = f"sqlite:///{store}"
        if not run_and_kill(url, "load", facts_file, point, delay):
            continue
        killed_at.append((point, delay))
        said = reopened(url)
        # All or nothing: the killed batch is invisible, unless it had committed.
        assert stored(url) in ([], expected)
        if not stored(url):
            assert any("marked abandoned" in message for message in said), said
        assert folders_of_uncommitted_batches(url) == []
        load(url, tiny_catalog(), facts_file, country="NL")
        assert stored(url) == expected
    assert len(killed_at) >= 3, killed_at


def test_a_cycle_killed_anywhere_is_marked_failed_and_runs_again_cleanly(
    sqlite_h1: Path, tmp_path: Path
) -> None:
    clean = tmp_path / "clean.db"
    copy_store(sqlite_h1, clean)
    Harmonia(f"sqlite:///{clean}", tiny_catalog()).cycles.run(
        country="NL", therapy_area="cardiology", period="2027-H1", directory=tmp_path / "out"
    )
    columns = "customer_id, segment, tier, final_segment, origin, inputs"
    expected = query(f"sqlite:///{clean}", f"SELECT {columns} FROM assignment ORDER BY 1")
    killed_at = []
    # Up to the stages that write the inputs file and commit the rows, some a little after.
    for point, delay in ((1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (5, 0.3)):
        store = tmp_path / f"killed-{point}-{delay}.db"
        copy_store(sqlite_h1, store)
        url = f"sqlite:///{store}"
        if not run_and_kill(url, "cycle", tmp_path / f"out-{point}-{delay}", point, delay):
            continue
        killed_at.append((point, delay))
        said = reopened(url)
        # No inputs file without committed rows, no rows without their file.
        assert inputs_folders(url) == cycles_with_rows(url)
        cycles = query(url, "SELECT id, status FROM cycle")
        if cycles and cycles[0]["status"] == "failed":
            assert any("marked failed" in message for message in said), said
            assert query(url, "SELECT COUNT(*) AS n FROM assignment") == [{"n": 0}]
            moves = "SELECT from_status, to_status, actor FROM cycle_transition"
            assert query(url, moves) == [
                {"from_status": "running", "to_status": "failed", "actor": "recovery"}
            ]
        result = Harmonia(url, tiny_catalog()).cycles.run(
            country="NL", therapy_area="cardiology", period="2027-H1", directory=tmp_path / "again"
        )
        assert result.cycle.status == "draft"
        assert inputs_folders(url) == cycles_with_rows(url)
        assert result.cycle.id in inputs_folders(url)
        rows = query(
            url, f"SELECT {columns} FROM assignment WHERE cycle_id = {result.cycle.id} ORDER BY 1"
        )
        assert rows == expected
    assert len(killed_at) >= 3, killed_at
