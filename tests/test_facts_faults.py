"""The embedded facts store under concurrency and faults (issue 11): two loads at once
commit in the order of their batch ids, a batch's files are on disk before it
commits, the sweep of leftovers never takes a batch that opened meanwhile."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import load, path_of, potential, query, read_only, write

from harmonia.plugin.catalog import Catalog
from harmonia.store import Database
from harmonia.store.facts import facts_folder

pytestmark = pytest.mark.store

FIXTURES = Path(__file__).parent / "fixtures"
METRICS_HEADER = "customer_id;therapy_area;metric;period;value"


def potential_file(folder: Path, value: float) -> Path:
    return write(
        folder / f"potential-{value:g}.csv",
        f"{METRICS_HEADER}\nC01;cardiology;potential;2026;{value:g}\n",
    )


# --- two loads at once ------------------------------------------------------------------

#: Loads a file; with a gate, stops at its first check of rows (its batch is
#: open by then) until the gate file exists.
LOADER = """
import sys, time
from pathlib import Path
from helpers import tiny_catalog
from harmonia.app import Harmonia

url, target, gate = sys.argv[1:4]
app = Harmonia(url, tiny_catalog())

def stage(done, name):
    print(name, flush=True)
    if gate != "-" and "checking rows" in name:
        while not Path(gate).exists():
            time.sleep(0.02)

app.loads.run(app.loads.plan([Path(target)]), country="NL", progress=stage)
print("done", flush=True)
"""


def start_load(url: str, target: Path, gate: Path | None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", LOADER, url, str(target), str(gate or "-")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(FIXTURES)},
        text=True,
    )


def wait_for_line(process: subprocess.Popen[str], wanted: tuple[str, ...]) -> list[str]:
    """The lines ``process`` printed up to the first containing one of ``wanted``."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line.strip())
        if any(word in line for word in wanted):
            return lines
    raise AssertionError(f"ended without {wanted}: {lines} {process.stderr.read()}")  # type: ignore[union-attr]


@pytest.mark.slow
def test_two_loads_at_once_commit_in_the_order_of_their_batch_ids(h1: str, tmp_path: Path) -> None:
    """The second load waits for the first; the one that commits last wins."""
    gate = tmp_path / "go"
    first = start_load(h1, potential_file(tmp_path, 111), gate)
    wait_for_line(first, ("checking rows",))  # its batch is open, its rows not yet stored
    second = start_load(h1, potential_file(tmp_path, 222), None)
    said = wait_for_line(second, ("waiting for another load", "done"))
    gate.touch()
    _, first_err = first.communicate(timeout=60)
    _, second_err = second.communicate(timeout=60)
    assert first.returncode == 0 and second.returncode == 0, (first_err, second_err)
    assert any("waiting for another load of this store to finish" in line for line in said), said
    batches = query(
        h1,
        "SELECT id, location FROM load_batch WHERE location LIKE '%potential-%' ORDER BY "
        "finished_at",
    )
    # Committed in the order of their ids, so the last committed is the newest batch.
    assert [b["id"] for b in batches] == sorted(b["id"] for b in batches)
    assert batches[-1]["location"].endswith("potential-222.csv")
    assert potential(h1, "C01") == 222.0


def test_a_load_that_waits_too_long_is_told_who_holds_the_store(
    h1: str, tiny: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    from harmonia.errors import ConfigError
    from harmonia.store import writer

    monkeypatch.setattr(writer, "WAIT_SECONDS", 0.3)
    lock = facts_folder(path_of(h1)) / writer.LOCK_NAME
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as holder:
        holder.write("elsewhere:4242")
        holder.flush()
        # Another open file description: flock refuses this process too.
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(ConfigError) as refused:
            load(h1, tiny, potential_file(tmp_path, 5), country="NL")
    message = refused.value.render()
    assert "another load is writing to this store (process elsewhere:4242)" in message
    assert "nothing was loaded" in message and "wait for it to finish" in message
    assert potential(h1, "C01") == 80.0
    assert query(h1, "SELECT COUNT(*) AS n FROM load_batch WHERE location LIKE '%potential-%'") == [
        {"n": 0}
    ]


# --- durability ---------------------------------------------------------------------------


def test_a_batchs_file_and_folders_are_synced_before_it_commits(
    h1: str, tiny: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harmonia.store import facts
    from harmonia.store.bulk import BulkConnection

    events: list[tuple[str, Path | None]] = []
    synced = facts.sync
    execute = BulkConnection.execute

    def sync(path: Path) -> None:
        events.append(("sync", path))
        synced(path)

    def commit_seen(bulk: BulkConnection, sql: str, *args: Any, **kwargs: Any) -> Any:
        if "SET status = 'loaded'" in sql:
            events.append(("commit", None))
        return execute(bulk, sql, *args, **kwargs)

    monkeypatch.setattr(facts, "sync", sync)
    monkeypatch.setattr(BulkConnection, "execute", commit_seen)
    (result,) = load(h1, tiny, potential_file(tmp_path, 5), country="NL")
    folder = facts_folder(path_of(h1)) / "metric" / f"batch={result.batch_id}"
    (part,) = folder.glob("part-*.parquet")
    commit = events.index(("commit", None))
    before = [path for _, path in events[:commit]]
    # The file, the new folder's entry in its parent, and the file's entry in the folder.
    assert part in before and folder in before and folder.parent in before


# --- the sweep of leftovers ------------------------------------------------------------------


def test_the_sweep_leaves_a_batch_that_opened_while_it_read_the_catalogue(
    h1: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process opens a batch between the sweep's reads: its files stay."""
    from harmonia.store import recovery

    store = path_of(h1)
    with sqlite3.connect(store) as connection:  # a dead load: recovery checks its owner
        connection.execute(
            "INSERT INTO load_batch (source, system, kind, location, status, rows_read, "
            "rows_loaded, rows_quarantined, actor, started_at, owner) VALUES ('csv', 'csv', "
            "'metrics', 'dead.csv', 'running', 0, 0, 0, '', '2027-01-01', 'nohost:1')"
        )
    opened: list[Path] = []
    alive = recovery.owner_alive

    def meanwhile(owner: str | None) -> bool | None:
        if not opened:  # another process opens a batch and starts writing its files
            with sqlite3.connect(store) as connection:
                batch = connection.execute(
                    "INSERT INTO load_batch (source, system, kind, location, status, rows_read, "
                    "rows_loaded, rows_quarantined, actor, started_at, owner) VALUES ('csv', "
                    "'csv', 'metrics', 'new.csv', 'running', 0, 0, 0, '', '2027-01-01', "
                    f"'{socket.gethostname()}:{os.getpid()}')"
                ).lastrowid
            folder = facts_folder(store) / "metric" / f"batch={batch}"
            folder.mkdir(parents=True)
            (folder / "part-00001.parquet").write_bytes(b"being written")
            opened.append(folder)
        return False if owner == "nohost:1" else alive(owner)

    monkeypatch.setattr(recovery, "owner_alive", meanwhile)
    recovered = recovery.recover(Database(h1))
    assert recovered.abandoned_batches
    assert opened and opened[0].exists(), recovered


# --- facts that are not as their batches committed them ----------------------------------------

CYCLE = ("cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1")


def refused(harmonia_cli: Any, *args: str) -> str:
    result = harmonia_cli(*args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    return result.output


def test_a_store_without_its_facts_folder_says_so_and_how_to_fix_it(
    h1: str, tiny: Catalog, harmonia_cli: Any
) -> None:
    import shutil

    root = facts_folder(path_of(h1))
    shutil.rmtree(root)  # the .db copied alone
    said = refused(harmonia_cli, *CYCLE)
    assert "the facts folder of this store is missing" in said
    assert str(root) in said and "copy or restore that folder next to the file" in said


def test_a_lost_or_an_added_facts_file_names_its_batch(
    h1: str, tiny: Catalog, tmp_path: Path, harmonia_cli: Any
) -> None:
    (result,) = load(h1, tiny, potential_file(tmp_path, 5), country="NL")
    folder = facts_folder(path_of(h1)) / "metric" / f"batch={result.batch_id}"
    (part,) = folder.glob("part-*.parquet")
    kept = part.read_bytes()
    part.unlink()
    said = refused(harmonia_cli, *CYCLE)
    assert f"load batch {result.batch_id} committed 1 metric file(s), but 0 are there" in said
    assert str(folder) in said and "load that batch's file again" in said
    part.write_bytes(kept)
    (folder / "part-00002.parquet").write_bytes(kept)  # copied in by hand
    said = refused(harmonia_cli, *CYCLE)
    assert "committed 1 metric file(s), but 2 are there" in said


def test_a_batch_whose_files_were_lost_before_the_0610_upgrade_is_not_taken_for_empty(
    h1: str, tiny: Catalog, tmp_path: Path, harmonia_cli: Any
) -> None:
    """Issue 11: 0610 counted the files on disk, so a folder already lost gave a count
    of 0 and its metrics silently disappeared. Unknown is not lost: once the folder
    is back, the counts are taken from it, a reload that changed nothing (rows
    loaded, rightly no file) included (review5 finding 3)."""
    import shutil

    from alembic import command

    changed = potential_file(tmp_path, 5)
    (change,) = load(h1, tiny, changed, country="NL")
    reloaded = write(tmp_path / "again" / changed.name, changed.read_text() + "\n")
    (again,) = load(h1, tiny, reloaded, country="NL")  # the same rows: no file
    assert (
        again.rows_loaded == 1
        and not (facts_folder(path_of(h1)) / "metric" / f"batch={again.batch_id}").exists()
    )
    database = Database(h1)
    config = database._alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0600")  # a store written before batches counted files
    database.engine.dispose()
    root = facts_folder(path_of(h1))
    kept = tmp_path / "kept"
    shutil.move(root, kept)  # the .db copied alone, before the upgrade
    Database(h1).upgrade()
    batch, *_ = query(h1, "SELECT id FROM load_batch WHERE kind = 'metrics' ORDER BY id")
    counted = query(h1, "SELECT batch_id, fact_table, files FROM fact_files")
    for lost in (batch["id"], change.batch_id, again.batch_id):
        assert {"batch_id": lost, "fact_table": "metric", "files": None} in counted
    said = refused(harmonia_cli, *CYCLE)
    assert (
        f"the metric files of load batch {batch['id']} (and 2 other batch(es)) were missing "
        "when the store was upgraded" in said
    )
    assert f"restore the folder {root.name} from a backup" in said and str(root) in said
    # Restored (the upgrade wrote the answers' files there since): the counts are
    # taken from the folder, recorded by the first writing reader, and the files read.
    shutil.move(kept / "metric", root / "metric")
    assert harmonia_cli(*CYCLE).exit_code == 0
    assert potential(h1, "C01") == 5.0
    counted = query(h1, "SELECT batch_id, files FROM fact_files WHERE fact_table = 'metric'")
    assert {"batch_id": again.batch_id, "files": 0} in counted
    assert all(row["files"] is not None for row in counted)


def test_a_foreign_parquet_file_in_place_of_a_batchs_is_named(
    h1: str, tiny: Catalog, harmonia_cli: Any
) -> None:
    import duckdb

    (part,) = (facts_folder(path_of(h1)) / "metric").glob("batch=*/part-*.parquet")
    part.unlink()
    duckdb.sql(f"COPY (SELECT 1 AS id, 'x' AS name) TO '{part}' (FORMAT parquet)")
    said = refused(harmonia_cli, *CYCLE)
    assert "this file is not one harmonia wrote for the metric facts" in said
    assert str(part) in said and "customer_id" in said


# --- a read-only facts folder ---------------------------------------------------------------


def test_a_facts_folder_that_may_not_be_written_is_one_clear_line(
    h1: str, tiny: Catalog, tmp_path: Path, harmonia_cli: Any
) -> None:
    metrics = facts_folder(path_of(h1)) / "metric"
    with read_only(metrics):
        said = refused(harmonia_cli, "load", str(potential_file(tmp_path, 5)), "-c", "NL")
    assert "cannot write the store's facts: " in said and str(metrics.parent) in said
    assert "nothing of this load was kept" in said and "make the folder writable" in said
    assert potential(h1, "C01") == 80.0
    (batch,) = query(h1, "SELECT status FROM load_batch ORDER BY id DESC LIMIT 1")
    assert batch == {"status": "failed"}
    assert harmonia_cli("load", str(potential_file(tmp_path, 5)), "-c", "NL").exit_code == 0
    assert potential(h1, "C01") == 5.0


# --- a full disk ----------------------------------------------------------------------------

PEOPLE = "customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory\n"


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """An 8 MB file system (tmpfs), and a way to fill it up to ``room`` free bytes."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode().strip()}")

    def leave(room: int) -> None:
        filler = mount / "filler"
        filler.unlink(missing_ok=True)
        free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
        if free > room:
            descriptor = os.open(filler, os.O_CREAT | os.O_WRONLY)
            try:
                os.posix_fallocate(descriptor, 0, free - room)
            finally:
                os.close(descriptor)

    try:
        yield mount, leave
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def people(path: Path, first: int, count: int) -> Path:
    rows = "".join(
        f"C{n:06d};NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T{n % 9}\n"
        for n in range(first, first + count)
    )
    return write(path, PEOPLE + rows)


def monthly_metrics(path: Path, count: int) -> Path:
    """Five years of a monthly metric per customer, values that compress little."""
    rows = "".join(
        f"C{n:06d};cardiology;trx;{2022 + month // 12}-{month % 12 + 1:02d};"
        f"{(n * 7919 + month * 104729) % 99991}\n"
        for n in range(count)
        for month in range(60)
    )
    return write(path, METRICS_HEADER + "\n" + rows)


@pytest.mark.slow
def test_a_full_disk_is_one_clear_line_and_the_store_stays_as_it_was(
    small_disk: Any, tmp_path: Path, harmonia_cli: Any
) -> None:
    mount, leave = small_disk
    database = f"sqlite:///{mount / 'harmonia.db'}"

    def cli(*args: str) -> Any:
        return harmonia_cli("--database", database, *args)

    def refused_for_space(*args: str) -> str:
        result = cli(*args)
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
        assert "free disk space" in result.output, result.output
        return result.output

    assert cli("load", str(people(tmp_path / "people.csv", 0, 6000))).exit_code == 0
    metrics = monthly_metrics(tmp_path / "metrics.csv", 6000)
    # Room for the catalogue's pages, not for the Parquet file (about 500 kB).
    leave(256 * 1024)
    said = refused_for_space("load", str(metrics))
    assert "cannot write the store's facts: no space left on device; nothing of" in said
    # Room for nothing like 6,000 more customers in SQLite.
    leave(48 * 1024)
    said = refused_for_space("load", str(people(tmp_path / "more.csv", 10000, 6000)))
    assert "the disk is full (database or disk is full)" in said
    # No room even for SQLite's journal when it opens the store.
    leave(0)
    (mount / "harmonia.db-shm").unlink(missing_ok=True)
    said = refused_for_space("load", "list")
    assert "the disk is full (no space left on device)" in said
    leave(1 << 30)  # space again: the store is as before the failed loads
    listed = query(database, "SELECT kind, status FROM load_batch ORDER BY id")
    assert listed[0] == {"kind": "customers", "status": "loaded"}
    assert all(row["status"] in ("failed", "abandoned") for row in listed[1:]), listed
    assert query(database, "SELECT COUNT(*) AS n FROM customer") == [{"n": 6000}]
    assert query(database, "SELECT COUNT(*) AS n FROM metric") == [{"n": 0}]
    assert cli("load", str(metrics)).exit_code == 0
    assert query(database, "SELECT COUNT(*) AS n FROM metric") == [{"n": 360_000}]
