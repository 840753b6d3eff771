"""Operations a user expects (issue 17, point 9), as typed: list load batches and what
each brought, show the audit trail, look up one customer outside a cycle, cancel a
running cycle (a real process, really stopped)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import tiny_market

from harmonia.plugin.catalog import Catalog
from harmonia.store.facts import copy_store

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def market(
    harmonia_cli: Callable, tiny: Catalog, harmonia_database: str, wide_terminal: None
) -> Callable:
    """The CLI on a store with the tiny market's 2027-H1 files loaded, one by one."""
    for name in ("customers", "metrics", "responses"):
        loaded = harmonia_cli("load", str(tiny_market.DATA / "h1" / f"{name}.csv"), "-c", "NL")
        assert loaded.exit_code == 0, loaded.output
    return harmonia_cli


def test_load_list_shows_each_batch_and_what_it_brought(market: Callable) -> None:
    listed = market("load", "list")
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.output.splitlines() if "customers.csv" in line]
    assert len(lines) == 1 and "loaded" in lines[0] and "NL" in lines[0]
    batches = json.loads(market("load", "list", "--json").stdout)
    assert [b["kind"] for b in batches] == ["responses", "metrics", "customers"]  # newest first
    customers = batches[-1]
    assert (customers["rows_read"], customers["rows_loaded"], customers["status"]) == (
        10,
        10,
        "loaded",
    )
    metrics = json.loads(market("load", "list", "--kind", "metrics", "--json").stdout)
    assert [b["kind"] for b in metrics] == ["metrics"]


def test_audit_shows_the_trail_with_filters(market: Callable, tmp_path: Path) -> None:
    ran = market(
        "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--out", str(tmp_path)
    )
    assert ran.exit_code == 0, ran.output
    shown = market("audit")
    assert shown.exit_code == 0, shown.output
    assert "cycle.run" in shown.output and "load_batch:1" in shown.output
    everything = json.loads(market("audit", "--json").stdout)
    assert everything[0]["id"] > everything[-1]["id"]  # newest first
    cycle = json.loads(market("audit", "--subject", "cycle:1", "--json").stdout)
    assert {"cycle.run", "cycle.publish"} <= {e["action"] for e in cycle}
    assert next(e for e in cycle if e["action"] == "cycle.run")["details"]["customers"] == 10
    loads = json.loads(market("audit", "--action", "load", "--json").stdout)
    assert len(loads) == 3 and all(e["action"] == "load" for e in loads)
    assert json.loads(market("audit", "--since", "2999-01-01", "--json").stdout) == []
    refused = market("audit", "--since", "last tuesday")
    assert refused.exit_code == 1 and "is not a date or a time" in refused.output


def test_customer_show_gives_ids_identifiers_and_latest_segments(
    market: Callable, tmp_path: Path
) -> None:
    before = market("customer", "show", "C01")
    assert before.exit_code == 0, before.output
    assert "No completed cycle has segmented this customer yet." in before.output
    ran = market(
        "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--out", str(tmp_path)
    )
    assert ran.exit_code == 0, ran.output
    shown = market("customer", "show", "C01")
    assert shown.exit_code == 0, shown.output
    assert "Anna de Vries" in shown.output and "10000016" in shown.output
    assert "cardiology" in shown.output and "draft" in shown.output
    document = json.loads(market("customer", "show", "C01", "--json").stdout)
    assert document["ids"] == [{"system": "csv", "source_id": "C01"}]
    assert document["identifiers"] == [{"scheme": "TINY", "value": "10000016"}]
    (latest,) = document["segments"]
    assert latest["cycle"] == 1 and latest["segment"] and latest["tier"]
    # The same customer by its national identifier and by its harmonia id.
    by_identifier = json.loads(market("customer", "show", "10000016", "--json").stdout)
    by_id = json.loads(
        market("customer", "show", str(document["id"]), "--system", "harmonia", "--json").stdout
    )
    assert by_identifier["id"] == by_id["id"] == document["id"]
    missing = market("customer", "show", "C99")
    assert missing.exit_code == 1 and "no customer 'C99'" in missing.output


#: Runs the tiny market's cycle and stops for good once it starts segmenting.
DRIVER = """
import sys, time
from helpers import tiny_catalog
from harmonia.app import Harmonia

url, target = sys.argv[1:3]
app = Harmonia(url, tiny_catalog())

def stage(name):
    print(name, flush=True)
    if name == "segmenting":
        time.sleep(600)

app.cycles.run(country="NL", therapy_area="cardiology", period="2027-H1",
               directory=__import__("pathlib").Path(target), on_stage=stage)
"""


@pytest.mark.slow
@pytest.mark.store
def test_cycle_cancel_stops_a_running_cycle_and_marks_it_failed(
    harmonia_cli: Callable, tiny: Catalog, sqlite_h1: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store.db"
    copy_store(sqlite_h1, store)
    url = f"sqlite:///{store}"
    environment = {**os.environ, "PYTHONPATH": str(FIXTURES)}
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, url, str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        env=environment,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip() == "segmenting":
                break
        cli = lambda *args: harmonia_cli("--database", url, *args)  # noqa: E731
        (running,) = json.loads(cli("cycle", "list", "--json").stdout)
        assert running["status"] == "running"
        started = time.monotonic()
        cancelled = cli("cycle", "cancel", str(running["id"]), "--reason", "wrong period")
        assert cancelled.exit_code == 0, cancelled.output
        assert f"cycle {running['id']} cancelled: failed" in cancelled.output
        assert process.wait(timeout=10) != 0 and time.monotonic() - started < 10
        (after,) = json.loads(cli("cycle", "list", "--json").stdout)
        assert after["status"] == "failed"
        (move,) = json.loads(cli("cycle", "history", str(running["id"]), "--json").stdout)
        assert (move["from_status"], move["to_status"]) == ("running", "failed")
        assert move["note"].endswith("wrong period") and "cancelled by" in move["note"]
        again = cli("cycle", "cancel", str(running["id"]))
        assert again.exit_code == 1 and "is failed, not running" in again.output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.store
def test_cycle_cancel_leaves_a_run_that_finished_meanwhile_as_it_is(
    tiny: Catalog, sqlite_h1: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancel claims the cycle before it removes anything: a run that ends between
    the check and the claim keeps its assignments (the claim is refused)."""
    from sqlalchemy import text

    from harmonia.app import Harmonia
    from harmonia.errors import ConfigError
    from harmonia.store import recovery

    store = tmp_path / "store.db"
    copy_store(sqlite_h1, store)
    app = Harmonia(f"sqlite:///{store}", tiny)
    cycle = app.cycles.run(
        country="NL", therapy_area="cardiology", period="2027-H1", directory=tmp_path / "out"
    ).cycle
    engine = app.database.engine

    def count() -> int:
        with engine.connect() as connection:
            query = text("SELECT COUNT(*) FROM assignment WHERE cycle_id = :id")
            return connection.execute(query, {"id": cycle.id}).scalar_one()

    stored = count()
    assert stored > 0
    with engine.begin() as connection:  # as seen while it still ran
        connection.execute(
            text("UPDATE cycle SET status = 'running' WHERE id = :id"), {"id": cycle.id}
        )

    def finishes_meanwhile(owner: str | None) -> bool:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE cycle SET status = 'draft' WHERE id = :id"), {"id": cycle.id}
            )
        return False

    monkeypatch.setattr(recovery, "owner_alive", finishes_meanwhile)
    with pytest.raises(ConfigError, match="no longer running"):
        app.cycles.cancel(cycle.id)
    assert count() == stored
    assert app.cycles.show(cycle.id).cycle.status == "draft"
