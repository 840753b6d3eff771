"""The facts store: Parquet per load batch on SQLite, tables on PostgreSQL; commits,
change-only writes, input snapshots and ``--as-of``, cleaning up after dead runs,
the upgrade of a store written before facts moved (issue 11)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tiny_market
from helpers import load, path_of, potential, query, write

from harmonia.plugin.catalog import Catalog
from harmonia.store import Database
from harmonia.store.database import SCHEMA_REVISION
from harmonia.store.facts import facts_folder, facts_of
from harmonia.store.models import LoadBatch
from harmonia.store.recovery import owner_alive, recover, this_owner

pytestmark = pytest.mark.store

METRICS_HEADER = "customer_id;therapy_area;metric;period;value"


def batch_files(url: str) -> dict[int, int]:
    """Files per batch folder of the metric facts."""
    root = facts_folder(path_of(url)) / "metric"
    return {
        int(folder.name.removeprefix("batch=")): len(list(folder.glob("*.parquet")))
        for folder in sorted(root.glob("batch=*"))
    }


def test_metrics_are_parquet_files_per_batch_beside_the_sqlite_file(h1: str) -> None:
    files = batch_files(h1)
    assert len(files) == 1 and next(iter(files.values())) >= 1
    # The SQLite table holds none: the files are the facts.
    with Database(h1).engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM metric").scalar() == 0
    assert potential(h1, "C01") == 80.0
    assert query(h1, "SELECT COUNT(*) AS n FROM metric") == [{"n": 38}]


def test_a_reload_of_the_same_file_writes_nothing_and_a_change_writes_only_it(
    h1: str, tiny: Catalog, tmp_path: Path
) -> None:
    before = batch_files(h1)
    (again,) = load(h1, tiny, tiny_market.DATA / "h1" / "metrics.csv", country="NL")
    assert (again.rows_new, again.rows_updated, again.rows_unchanged) == (0, 0, 38)
    assert again.skipped  # the same content, loaded last: not even read
    assert batch_files(h1) == before  # no file for a batch that changed nothing
    moved = tmp_path / "elsewhere" / "renamed.csv"
    moved.parent.mkdir()
    moved.write_bytes((tiny_market.DATA / "h1" / "metrics.csv").read_bytes())
    (again,) = load(h1, tiny, moved, country="NL")
    assert again.skipped  # the same content from another place: the same load
    changed = write(
        tmp_path / "metrics.csv",
        f"{METRICS_HEADER}\nC01;cardiology;potential;2026;5\nC02;cardiology;potential;2026;70\n",
    )
    (result,) = load(h1, tiny, changed, country="NL")
    assert (result.rows_new, result.rows_updated, result.rows_unchanged) == (0, 1, 1)
    stored = facts_of(Database(h1))
    assert batch_files(h1)[result.batch_id] == 1
    written = query_files(stored.files("metric", [result.batch_id]))
    assert written == [{"customer_id": written[0]["customer_id"], "value": 5.0}]
    assert potential(h1, "C01") == 5.0 and potential(h1, "C02") == 70.0
    assert query(h1, "SELECT COUNT(*) AS n FROM metric") == [{"n": 38}]
    # The first file again: a later load changed its metrics, so it is loaded
    # (and writes back only the row that differs).
    (restored,) = load(h1, tiny, tiny_market.DATA / "h1" / "metrics.csv", country="NL")
    assert not restored.skipped and (restored.rows_updated, restored.rows_unchanged) == (1, 37)
    assert potential(h1, "C01") == 80.0


def query_files(files: list[Path]) -> list[dict[str, Any]]:
    import duckdb

    listed = ", ".join(f"'{path}'" for path in files)
    return (
        duckdb.sql(f"SELECT customer_id, value FROM read_parquet([{listed}])")
        .to_arrow_table()
        .to_pylist()
    )


def test_a_failed_load_leaves_no_facts_and_is_marked_failed(
    h1: str, tiny: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harmonia.ingest.metrics import MetricMerger

    def broken(self: Any) -> None:
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(MetricMerger, "finish", broken)
    changed = write(
        tmp_path / "metrics.csv", f"{METRICS_HEADER}\nC01;cardiology;potential;2026;1\n"
    )
    with pytest.raises(RuntimeError, match="disk went away"):
        load(h1, tiny, changed, country="NL")
    (batch,) = query(h1, "SELECT id, status FROM load_batch ORDER BY id DESC LIMIT 1")
    assert batch["status"] == "failed"
    assert batch["id"] not in batch_files(h1)
    assert potential(h1, "C01") == 80.0


def test_the_next_command_cleans_up_after_a_dead_load_and_a_dead_cycle(
    h1: str, harmonia_cli: Callable
) -> None:
    dead = dead_owner()
    database = Database(h1)
    facts = facts_of(database)
    (committed,) = batch_files(h1)
    with database.session() as session:
        batch = LoadBatch(source="csv", system="csv", kind="metrics", location="x", owner=dead)
        failed = LoadBatch(
            source="csv", system="csv", kind="metrics", location="y", status="failed"
        )
        session.add_all([failed, batch])
        session.commit()
        batch_id, failed_id = batch.id, failed.id
    assert batch_id is not None and failed_id is not None
    # Its files, half written: a reader never sees them (the batch is not loaded).
    folder = facts.batch_folder("metric", batch_id)  # type: ignore[attr-defined]
    folder.mkdir(parents=True)
    (folder / "part-00001.parquet").write_bytes(b"half a file")
    assert potential(h1, "C01") == 80.0
    # A leftover of a batch that failed and could not remove its files.
    leftover = facts.batch_folder("metric", failed_id)  # type: ignore[attr-defined]
    leftover.mkdir(parents=True)
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO cycle (country, therapy_area, period, status, engine, rule_set, "
            "rule_set_version, customers, snapshot, summary, actor, started_at, owner) VALUES "
            "('NL', 'cardiology', '2027-H1', 'running', 'duckdb', 'tiny-core', '1', 0, '{}', "
            f"'{{}}', 'x', '2027-01-01 00:00:00', '{dead}')"
        )
    result = harmonia_cli("cycle", "list")
    assert result.exit_code == 0, result.output
    assert f"load batch(es) {batch_id} stopped before they finished" in result.output
    assert "cycle(s) 1 stopped before they finished" in result.output
    assert f"removed the leftover facts files of batch(es) {failed_id}" in result.output
    assert not folder.exists() and not leftover.exists()
    assert list(batch_files(h1)) == [committed]
    rows = query(h1, f"SELECT status FROM load_batch WHERE id = {batch_id}")
    assert rows == [{"status": "abandoned"}]
    assert query(h1, "SELECT status FROM cycle") == [{"status": "failed"}]
    # Said once: the next command has nothing to clean up.
    assert "cleaned up" not in harmonia_cli("cycle", "list").output


def dead_owner() -> str:
    """host:pid of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return f"{socket.gethostname()}:{process.pid}"


def test_a_live_owner_is_left_alone(h1: str) -> None:
    database = Database(h1)
    with database.session() as session:
        session.add(
            LoadBatch(
                source="csv",
                system="csv",
                kind="metrics",
                location="x.csv",
                owner=f"{socket.gethostname()}:{os.getpid()}",
            )
        )
        session.add(
            LoadBatch(source="csv", system="csv", kind="metrics", location="y", owner="elsewhere:1")
        )
        session.commit()
    assert not recover(database)


def test_an_owner_is_its_process_not_a_reused_pid() -> None:
    """After a kill -9 the system may give the owner's pid to another process:
    the start time recorded with the owner tells them apart."""
    here = socket.gethostname()
    owner = this_owner()
    host, pid, start = owner.split(":")
    assert (host, pid) == (here, str(os.getpid())) and start.isdigit()
    assert owner_alive(owner) is True
    # This very pid, started at another time: another process, so the owner is dead.
    assert owner_alive(f"{here}:{os.getpid()}:{int(start) + 1}") is False
    # Owners written before the start time was recorded are still read.
    assert owner_alive(f"{here}:{os.getpid()}") is True
    assert owner_alive(dead_owner()) is False
    assert owner_alive("elsewhere:1") is None and owner_alive("elsewhere:1:5") is None


def test_a_cycle_records_its_input_snapshot_and_as_of_reproduces_it(
    h1: str, harmonia_cli: Callable, tiny: Catalog, tmp_path: Path
) -> None:
    run = ("cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--json")
    first = json.loads(harmonia_cli(*run, "--out", str(tmp_path / "1")).output)["cycle"]["id"]
    changed = write(
        tmp_path / "metrics.csv", f"{METRICS_HEADER}\nC01;cardiology;potential;2026;5\n"
    )
    assert load(h1, tiny, changed, country="NL")[0].rows_updated == 1
    later = json.loads(harmonia_cli(*run, "--out", str(tmp_path / "2")).output)["cycle"]["id"]
    again = harmonia_cli(*run, "--as-of", f"cycle:{first}", "--out", str(tmp_path / "3"))
    assert again.exit_code == 0, again.output
    replayed = json.loads(again.output)["cycle"]["id"]

    def assignments(cycle: int) -> list[dict[str, Any]]:
        return query(
            h1,
            "SELECT customer_id, segment, tier, final_segment, inputs FROM assignment "
            f"WHERE cycle_id = {cycle} ORDER BY customer_id",
        )

    assert assignments(replayed) == assignments(first) != assignments(later)
    shown = json.loads(harmonia_cli("cycle", "show", str(first), "--json").output)
    assert shown["inputs"] and max(shown["inputs"]) < max(
        json.loads(harmonia_cli("cycle", "show", str(later), "--json").output)["inputs"]
    )
    text = harmonia_cli("cycle", "show", str(first)).output
    assert "input snapshot: load batches" in text
    # The store as loaded up to a batch: the same as the first cycle read.
    by_batch = harmonia_cli(
        *run, "--as-of", f"batch:{max(shown['inputs'])}", "--out", str(tmp_path / "4")
    )
    assert assignments(json.loads(by_batch.output)["cycle"]["id"]) == assignments(first)


CUSTOMERS_HEADER = (
    "customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory"
)


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_as_of_reads_customer_attributes_as_the_snapshot_had_them(
    h1: str, tiny: Catalog, tmp_path: Path, engine: str
) -> None:
    from harmonia.engine.cycle import run_cycle

    database = Database(h1)

    def run(as_of: str | None = None) -> list[dict[str, Any]]:
        cycle = run_cycle(
            database,
            tiny,
            country="NL",
            therapy_area="cardiology",
            period="2027-H1",
            engine=engine,
            as_of=as_of,
            directory=tmp_path / str(as_of),
        ).cycle.id
        return query(
            h1,
            "SELECT customer_id, segment, final_segment, tier, inputs FROM assignment "
            f"WHERE cycle_id = {cycle} ORDER BY customer_id",
        )

    first = run()
    cycle_a = query(h1, "SELECT MAX(id) AS id FROM cycle")[0]["id"]
    # A later load: C01 becomes a GP (its rule changes), C02 moves (a blank
    # cell keeps its name), and C11 is new.
    changed = write(
        tmp_path / "customers.csv",
        f"""{CUSTOMERS_HEADER}
        C01;NL;HCP;Anna;de Vries;general_practice;1011;Amsterdam;T1
        C02;NL;HCP;;Jansen;cardiology;9999;Maastricht;T2
        C11;NL;HCP;Kees;Dekker;general_practice;1013;Amsterdam;T1
        """,
    )
    (result,) = load(h1, tiny, changed, country="NL")
    assert (result.rows_new, result.rows_updated) == (1, 2)
    now = run()
    assert now != first and len(now) == len(first) + 1
    c01 = next(row for row in now if row["customer_id"] == 1)
    assert c01["segment"] == "monitor"
    # The snapshot: its customers as they were, none created since.
    assert run(f"cycle:{cycle_a}") == first
    last_batch = max(row["batch_id"] for row in query(h1, "SELECT batch_id FROM cycle_input"))
    assert run(f"batch:{last_batch - 1}") == first


CUSTOMERS_WITH_ID = CUSTOMERS_HEADER + ";id_scheme;id_value"


def _replayer(h1: str, tiny: Catalog, tmp_path: Path, engine: str) -> Callable:
    """Runs NL cardiology (``as_of`` a snapshot, or current); gives the cycle's id and
    its assignments."""
    from harmonia.engine.cycle import run_cycle

    database = Database(h1)
    runs = iter(range(100))

    def run(as_of: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        cycle = run_cycle(
            database,
            tiny,
            country="NL",
            therapy_area="cardiology",
            period="2027-H1",
            engine=engine,
            as_of=as_of,
            directory=tmp_path / f"run{next(runs)}",
        ).cycle.id
        assert cycle is not None
        return cycle, query(
            h1,
            "SELECT customer_id, segment, final_segment, tier FROM assignment "
            f"WHERE cycle_id = {cycle} ORDER BY customer_id",
        )

    return run


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_as_of_reads_the_customer_row_when_two_systems_disagree(
    h1: str, tiny: Catalog, tmp_path: Path, engine: str
) -> None:
    """The row follows the last batch of any system: system B's GP, then csv's cardiology
    again (which csv's own record already said, so its history has no new row)."""
    run = _replayer(h1, tiny, tmp_path, engine)
    b = write(
        tmp_path / "b.csv",
        f"{CUSTOMERS_WITH_ID}\n"
        "B01;NL;HCP;Anna;de Vries;general_practice;1011;Amsterdam;T1;TINY;10000016\n",
    )
    load(h1, tiny, b, country="NL", system="B")
    again = write(
        tmp_path / "a.csv",
        f"{CUSTOMERS_WITH_ID}\nC01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;TINY;10000016\n",
    )
    load(h1, tiny, again, country="NL")
    cycle_a, first = run()
    moved = write(
        tmp_path / "a2.csv",
        f"{CUSTOMERS_WITH_ID}\nC01;NL;HCP;Anna;de Vries;cardiology;1019;Amsterdam;T1;TINY;10000016\n",
    )
    load(h1, tiny, moved, country="NL")
    assert run(f"cycle:{cycle_a}")[1] == first


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_as_of_keeps_a_customer_who_left_the_market_later(
    h1: str, tiny: Catalog, tmp_path: Path, engine: str
) -> None:
    run = _replayer(h1, tiny, tmp_path, engine)
    cycle_a, first = run()
    changed = write(
        tmp_path / "c.csv",
        f"{CUSTOMERS_HEADER}\nC01;BE;HCP;Anna;de Vries;cardiology;1011;Brussel;T1\n",
    )
    assert load(h1, tiny, changed)[0].rows_updated == 1
    assert run()[1] != first
    assert run(f"cycle:{cycle_a}")[1] == first


def test_as_of_reads_a_customers_type_as_the_snapshot_had_it(
    h1: str, tiny: Catalog, tmp_path: Path
) -> None:
    from harmonia.store import history
    from harmonia.store.bulk import BulkConnection

    cycle_a, _ = _replayer(h1, tiny, tmp_path, "duckdb")()
    changed = write(
        tmp_path / "c.csv",
        f"{CUSTOMERS_HEADER}\nC01;NL;HCO;Anna;de Vries;cardiology;1011;Amsterdam;T1\n",
    )
    assert load(h1, tiny, changed)[0].rows_updated == 1
    snapshot = query(h1, f"SELECT batch_id FROM cycle_input WHERE cycle_id = {cycle_a}")
    with BulkConnection(Database(h1), write=False) as bulk:
        found = history.changed_since(bulk, [row["batch_id"] for row in snapshot], "NL")
    assert found is not None
    assert [(row["id"], row["as_of"], row["type"]) for row in found.to_pylist()] == [
        (1, True, "HCP")
    ]


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_as_of_leaves_out_a_customer_who_joined_the_market_later(
    h1: str, tiny: Catalog, tmp_path: Path, engine: str
) -> None:
    """C01 is BE at the snapshot and NL now: the replay has no C01, as then."""
    run = _replayer(h1, tiny, tmp_path, engine)
    away = write(
        tmp_path / "be.csv",
        f"{CUSTOMERS_HEADER}\nC01;BE;HCP;Anna;de Vries;cardiology;1011;Brussel;T1\n",
    )
    load(h1, tiny, away)
    cycle_a, first = run()
    assert 1 not in [row["customer_id"] for row in first]
    back = write(
        tmp_path / "nl.csv",
        f"{CUSTOMERS_HEADER}\nC01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1\n",
    )
    load(h1, tiny, back)
    assert 1 in [row["customer_id"] for row in run()[1]]
    assert run(f"cycle:{cycle_a}")[1] == first


def test_as_of_says_which_customers_it_reads_as_now_for_want_of_their_history(
    h1: str, tiny: Catalog, tmp_path: Path
) -> None:
    """A customer changed before schema revision 0750 has no version of its row in the
    snapshot's batches (the upgrade recorded its row under its latest batch); a
    customer created after the snapshot is not read at all, so not counted."""
    from harmonia.engine.cycle import run_cycle

    database = Database(h1)

    def run(as_of: str | None = None):
        return run_cycle(
            database,
            tiny,
            country="NL",
            therapy_area="cardiology",
            period="2027-H1",
            as_of=as_of,
            directory=tmp_path / str(as_of),
        )

    first = run()
    assert first.customers_as_now == 0
    changed = write(
        tmp_path / "customers.csv",
        f"{CUSTOMERS_HEADER}\nC01;NL;HCP;Anna;de Vries;general_practice;1011;Amsterdam;T1\n"
        "C11;NL;HCP;Kees;Dekker;general_practice;1013;Amsterdam;T1\n",
    )
    load(h1, tiny, changed, country="NL")
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "DELETE FROM customer_version WHERE id = 1 AND batch_id IN "
            f"(SELECT batch_id FROM cycle_input WHERE cycle_id = {first.cycle.id})"
        )
    replay = run(f"cycle:{first.cycle.id}")
    assert replay.customers_as_now == 1
    assert any("1 customers changed after the snapshot" in w for w in replay.warnings)
    assert json.loads(replay.cycle.summary)["customers_read_as_now"] == 1
    c01 = query(
        h1,
        f"SELECT segment FROM assignment WHERE cycle_id = {replay.cycle.id} AND customer_id = 1",
    )
    assert c01 == [{"segment": "monitor"}]  # its row as it is now


def test_as_of_what_does_not_exist_is_a_clear_error(
    h1: str, harmonia_cli: Callable, tiny: Catalog
) -> None:
    run = ("cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1")
    for as_of, message in (
        ("yesterday", "names neither a cycle nor a load batch"),
        ("cycle:99", "no cycle 99"),
        ("batch:99", "no load batch 99"),
    ):
        result = harmonia_cli(*run, "--as-of", as_of)
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output


def test_a_damaged_facts_file_is_a_clear_error(
    h1: str, harmonia_cli: Callable, tiny: Catalog
) -> None:
    (part,) = (facts_folder(path_of(h1)) / "metric").glob("batch=*/part-*.parquet")
    part.write_bytes(b"not parquet at all")
    result = harmonia_cli("cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "the facts of this store cannot be read" in result.output
    assert "damaged or foreign" in result.output


def test_the_engines_agree_on_parquet_facts(h1: str, tiny: Catalog, tmp_path: Path) -> None:
    from harmonia.engine.cycle import run_cycle

    database = Database(h1)
    results = {
        engine: run_cycle(
            database,
            tiny,
            country="NL",
            therapy_area="cardiology",
            period="2027-H1",
            engine=engine,
            directory=tmp_path / engine,
        ).cycle.id
        for engine in ("duckdb", "database")
    }
    segments = {
        engine: query(
            h1,
            "SELECT customer_id, final_segment, tier FROM assignment "
            f"WHERE cycle_id = {cycle} ORDER BY 1",
        )
        for engine, cycle in results.items()
    }
    assert segments["duckdb"] == segments["database"] and len(segments["duckdb"]) == 10


def test_the_sqlite_in_database_cycle_joins_every_step_by_index(
    h1: str, tiny: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step of the in-database cycle on SQLite is planned with index lookups.

    A step joined by scanning is run once per customer: the cycle becomes
    quadratic (a resolver that lost the id's type made 20k customers take 55 s).
    """
    from harmonia.engine.cycle import run_cycle
    from harmonia.store.bulk import BulkConnection

    plans: dict[str, list[str]] = {}
    execute = BulkConnection.execute

    def explained(bulk: BulkConnection, sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql.startswith("CREATE TEMPORARY TABLE"):
            name, body = sql.removeprefix("CREATE TEMPORARY TABLE ").split(" AS ", 1)
            plan = bulk.read(f"EXPLAIN QUERY PLAN {body}").column("detail").to_pylist()
            plans[name] = plan
        return execute(bulk, sql, *args, **kwargs)

    monkeypatch.setattr(BulkConnection, "execute", explained)
    for period in ("2027-H1", "2027-H2"):  # the second reads the first's assignments
        run_cycle(
            Database(h1),
            tiny,
            country="NL",
            therapy_area="cardiology",
            period=period,
            engine="database",
            directory=tmp_path,
        )
    assert "features" in plans
    # The previous cycle's rows are a step of their own (bd74ec6), joined by customer id.
    assert "previous" in plans, plans
    joined = [line for plan in plans.values() for line in plan]
    assert any("INDEX previous_customer (customer_id=?)" in line for line in joined), plans
    # Each outer join is an index lookup; the previous assignments' by customer
    # id (an automatic index on their rank alone still scans them per customer).
    # Except the population's list of merged and objecting ids: empty here, so
    # SQLite scans it; once it holds rows SQLite indexes it (next test).
    scanned = {
        name: [
            line
            for line in plan
            if "LEFT-JOIN" in line
            and line != "SCAN unprofiled LEFT-JOIN"
            and (line.startswith("SCAN") or ("previous" in line and "customer_id=?" not in line))
        ]
        for name, plan in plans.items()
    }
    assert not any(scanned.values()), scanned


def test_sqlite_joins_the_population_to_merged_and_objecting_ids_by_index() -> None:
    """The population's anti-join (:func:`profiled_rows`) is an index lookup on SQLite
    once there are merged or objecting ids (a scan per customer would be quadratic)."""
    import sqlite3

    from harmonia.store.identity import profiled_rows

    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE customer (id INTEGER PRIMARY KEY, country TEXT);"
        "CREATE TABLE customer_redirect (merged_id INTEGER PRIMARY KEY, survivor_id INTEGER);"
        "CREATE TABLE objection (customer_id INTEGER);"
    )
    db.executemany("INSERT INTO customer VALUES (?, 'FR')", [(i,) for i in range(20_000)])
    db.executemany(
        "INSERT INTO customer_redirect VALUES (?, ?)", [(i, i + 1) for i in range(0, 20_000, 20)]
    )
    db.executemany("INSERT INTO objection VALUES (?)", [(i,) for i in range(1, 20_000, 50)])
    db.execute("ANALYZE")
    sql = profiled_rows("SELECT id FROM customer c WHERE c.country = 'FR'")
    plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
    assert "SEARCH unprofiled USING AUTOMATIC COVERING INDEX (id=?) LEFT-JOIN" in plan, plan
    kept = {row[0] for row in db.execute(sql)}
    merged = set(range(0, 20_000, 20))
    objecting = {i + 1 if i in merged else i for i in range(1, 20_000, 50)}
    assert kept == set(range(20_000)) - merged - objecting


def test_a_store_of_the_previous_revision_upgrades_without_losing_a_metric(
    tmp_path: Path, tiny: Catalog
) -> None:
    """Revision strategy1 kept metrics in SQLite; 0300 moves every row into Parquet."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    database = Database(url)
    database.upgrade("strategy1")
    rows = [
        (area, metric, customer, period, 24300 + customer % 12, 24302 + customer % 12, value, batch)
        for customer in range(1, 401)
        for area, metric, period, value, batch in (
            ("oncology", "potential", "2026", customer * 1.5, 1),
            ("cardiology", "trx", "2027-Q1", customer % 7 + 0.25, 2),
            ("cardiology", "trx", "2027-Q2", None, 2),
        )
        if value is not None
    ]
    with database.engine.begin() as connection:
        for batch in (1, 2):
            connection.exec_driver_sql(
                "INSERT INTO load_batch (id, source, system, kind, location, status, rows_read, "
                "rows_loaded, rows_quarantined, actor, started_at) VALUES "
                f"({batch}, 'csv', 'csv', 'metrics', 'm{batch}.csv', 'loaded', 0, 0, 0, 'a', "
                "'2026-12-01 00:00:00')"
            )
        connection.exec_driver_sql(
            "INSERT INTO metric (therapy_area, metric, customer_id, period, first_month, "
            "last_month, value, batch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    database.engine.dispose()
    upgraded = Database(url)
    upgraded.upgrade()
    assert upgraded.current_revision() == SCHEMA_REVISION
    stored = query(
        url,
        "SELECT therapy_area, metric, customer_id, period, first_month, last_month, value, "
        "batch_id FROM metric ORDER BY customer_id, therapy_area, period",
    )
    expected = sorted(rows, key=lambda r: (r[2], r[0], r[3]))
    assert len(stored) == len(rows) == 800
    assert [tuple(row.values()) for row in stored] == expected
    with upgraded.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM metric").scalar() == 0
    (migration,) = query(url, "SELECT id, source, status, rows_read FROM load_batch WHERE id > 2")
    assert migration == {"id": 3, "source": "migration", "status": "loaded", "rows_read": 800}
    # 0610 counted each committed batch's files, for readers to check them against;
    # 0640 keeps the counts per fact table.
    counted = query(url, "SELECT batch_id, fact_table, files FROM fact_files ORDER BY batch_id")
    assert counted == [
        {"batch_id": 1, "fact_table": "metric", "files": 0},
        {"batch_id": 2, "fact_table": "metric", "files": 0},
        {"batch_id": 3, "fact_table": "metric", "files": batch_files(url)[3]},
    ]


@pytest.mark.postgres
def test_postgres_keeps_metrics_as_a_table_and_refuses_as_of(
    postgres_url: str, tiny: Catalog
) -> None:
    database = Database(postgres_url)
    database.upgrade()
    load(postgres_url, tiny, tiny_market.DATA / "h1", country="NL")
    assert not facts_of(database).external
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM metric").scalar() == 38
    from harmonia.engine.cycle import snapshot_batches
    from harmonia.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot be read as of"):
        snapshot_batches(database, "batch:1")


def test_a_batch_file_holds_each_area_and_metric_together(tmp_path: Path) -> None:
    """Readers of one therapy area skip the other row groups: an area's rows are
    together, in area order, each (area, metric)'s together (its customers in any
    order); the query runs once, and a query without rows leaves no file nor
    folder behind."""
    import duckdb

    from harmonia.store.facts import write_batch_file

    duck = duckdb.connect()
    rows = (
        "SELECT * FROM (VALUES ('oncology', 'trx', 7, '2026', 24312, 24323, 1.5, 9), "
        "('cardiology', 'trx', 9, '2026', 24312, 24323, 2.0, 9), "
        "('oncology', 'potential', 3, '2026', 24312, 24323, 3.0, 9), "
        "('cardiology', 'trx', 2, '2027-Q1', 24324, 24326, 4.0, 9), "
        "('oncology', 'trx', 1, '2026', 24312, 24323, 5.0, 9)) "
        "AS t(therapy_area, metric, customer_id, period, first_month, last_month, value, batch_id)"
    )
    folder = tmp_path / "metric" / "batch=9"
    assert write_batch_file(duck, folder, "metric", rows) == 5
    (part,) = folder.glob("part-*.parquet")
    written = duck.execute(
        f"SELECT therapy_area, metric, customer_id FROM read_parquet('{part}')"
    ).fetchall()
    assert [area for area, _, _ in written] == ["cardiology"] * 2 + ["oncology"] * 3
    groups = [(area, metric) for area, metric, _ in written]
    starts = [group for i, group in enumerate(groups) if i == 0 or groups[i - 1] != group]
    assert len(starts) == len(set(starts)) == 3  # each (area, metric) together
    customers = {
        (area, metric): sorted(c for a, m, c in written if (a, m) == (area, metric))
        for area, metric, _ in written
    }
    assert customers == {
        ("cardiology", "trx"): [2, 9],
        ("oncology", "potential"): [3],
        ("oncology", "trx"): [1, 7],
    }
    empty = tmp_path / "metric" / "batch=10"
    assert write_batch_file(duck, empty, "metric", f"{rows} WHERE false") == 0
    assert not empty.exists() and list(folder.glob("*")) == [part]


def test_a_reader_of_one_area_reads_only_its_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revload SHOULD-1: ordered by a hash of (area, metric), an area of several
    metrics was scattered over the file, so each row group's min/max spanned most
    areas and `WHERE therapy_area = X` read nearly all of them. Now an area's rows
    are contiguous and in area order: a row group's min/max spans only the areas
    it holds; within an area, each metric's rows together."""
    import duckdb

    from harmonia.store import facts

    options = facts.parquet_options
    monkeypatch.setattr(facts, "parquet_options", lambda f: f"{options(f)}, ROW_GROUP_SIZE 2048")
    duck = duckdb.connect()
    rows = (
        "SELECT 'area' || a AS therapy_area, 'metric' || m AS metric, c AS customer_id, "
        "'2026' AS period, 24312 AS first_month, 24323 AS last_month, 1.0 AS value, "
        "9 AS batch_id FROM range(8) x(a), range(6) y(m), range(1000) z(c) ORDER BY c DESC"
    )
    part = tmp_path / "metric" / "batch=9"
    assert facts.write_batch_file(duck, part, "metric", rows) == 48_000
    files = f"read_parquet('{part}/*.parquet')"
    written = duck.execute(f"SELECT therapy_area, metric, customer_id FROM {files}").fetchall()
    areas = [area for area, _, _ in written]
    assert areas == sorted(areas)
    groups = [(area, metric) for area, metric, _ in written]
    starts = [g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g]
    assert len(starts) == len(set(starts)) == 48  # each (area, metric) together
    assert all(
        sorted(c for a, m, c in written if (a, m) == group) == list(range(1000)) for group in starts
    )
    spans = duck.execute(
        "SELECT row_group_id, stats_min_value, stats_max_value FROM parquet_metadata("
        f"'{part}/*.parquet') WHERE path_in_schema = 'therapy_area'"
    ).fetchall()
    assert len(spans) > 8
    for area in sorted(set(areas)):
        read = [group for group, low, high in spans if low <= area <= high]
        # the row groups holding its 6000 rows, at most one more at each border
        assert len(read) <= 6000 // 2048 + 2, (area, read)


def test_a_write_without_rows_leaves_the_folders_another_load_made_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review5 finding 5: two loads into a fresh store; the one whose query found no
    row removed the parents it had created, though the other's batch folder was in
    them by then (an error: directory not empty), or under the other's feet."""
    import duckdb

    from harmonia.store import facts

    root = tmp_path / "fresh.db.facts"
    other = root / "metric" / "batch=2"
    made = facts._make_folders

    def and_another_load(folder: Path) -> list[Path]:
        created = made(folder)
        other.mkdir()  # the other load, between this one's mkdir and its removal
        return created

    monkeypatch.setattr(facts, "_make_folders", and_another_load)
    rows = (
        "SELECT * FROM (VALUES ('cardiology', 'trx', 1, '2026', 1, 2, 1.0, 1)) "
        "AS t(therapy_area, metric, customer_id, period, first_month, last_month, value, batch_id)"
    )
    own = root / "metric" / "batch=1"
    assert facts.write_batch_file(duckdb.connect(), own, "metric", f"{rows} WHERE false") == 0
    assert not own.exists() and other.is_dir()


def test_a_read_of_no_files_is_typed_or_an_error_naming_the_table() -> None:
    """Without files only the table's own types type its columns: every kind of fact
    gives them; one with an untyped column (the cycle's inputs, a struct or a text as
    its writer gave it) is refused by name, not read as ``CAST(NULL AS None)``."""
    import duckdb

    from harmonia.store.assignments import INPUTS_TABLE
    from harmonia.store.facts import FACT_TABLES, ParquetFacts

    for name, fact in FACT_TABLES.items():
        read = duckdb.sql(ParquetFacts.relation(name, []))
        assert read.columns == list(fact.column_names) and not read.fetchall()
        assert [str(kind) for kind in read.types] == [kind for _, kind in fact.columns]
    with pytest.raises(ValueError, match=r"assignment_input facts .* inputs has no type"):
        INPUTS_TABLE.no_rows()
