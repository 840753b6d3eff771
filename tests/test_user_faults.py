"""No traceback for anything a user can cause (issue 17, point 4): a database that may
not be written, a folder SQLite cannot keep its journal in, Ctrl-C during a load.
Through the CLI as a user types it; the interrupt is a real SIGINT to a real process."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import read_only, write

CUSTOMERS = """\
customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory
C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1
"""

METRICS_HEADER = "customer_id;therapy_area;metric;period;value"


@pytest.fixture
def stored(harmonia_cli: Callable, tmp_path: Path) -> tuple[Callable, Path]:
    """A workspace in its own folder with one customer loaded: the CLI on it, its file."""
    folder = tmp_path / "workspace"
    folder.mkdir()
    database = folder / "harmonia.db"

    def cli(*args: str) -> object:
        return harmonia_cli("--database", f"sqlite:///{database}", *args)

    loaded = cli("load", str(write(tmp_path / "customers.csv", CUSTOMERS)))
    assert loaded.exit_code == 0, loaded.output
    return cli, database


def test_a_read_only_database_is_one_clear_line(
    stored: tuple[Callable, Path], tmp_path: Path
) -> None:
    cli, database = stored
    more = write(tmp_path / "more" / "customers.csv", CUSTOMERS.replace("C01", "C02"))
    with read_only(database):
        refused = cli("load", str(more))
        assert refused.exit_code == 1
        assert isinstance(refused.exception, SystemExit), refused.exception  # no traceback
        assert "Traceback" not in refused.output
        assert "the database cannot be written (attempt to write a readonly database)" in (
            refused.output
        )
        assert "point --database at a writable copy" in refused.output
        # Reading still works.
        listed = cli("quarantine", "list")
        assert listed.exit_code == 0, listed.output


def test_a_folder_sqlite_cannot_write_its_journal_in_is_one_clear_line(
    stored: tuple[Callable, Path],
) -> None:
    cli, database = stored
    for journal in database.parent.glob("harmonia.db-*"):
        journal.unlink()  # closed cleanly: SQLite must create them again
    with read_only(database.parent):
        refused = cli("quarantine", "list")
    assert refused.exit_code == 1
    assert isinstance(refused.exception, SystemExit), refused.exception
    assert "cannot open the database" in refused.output
    assert "SQLite keeps its journal (-wal, -shm files) beside the database" in refused.output


def _loading(files: list[str], database: Path, before: str = "") -> subprocess.Popen[str]:
    """``harmonia load FILES`` in a process of its own (built-ins only: no pack needed),
    after the Python code ``before``."""
    environment = {
        **os.environ,
        "HARMONIA_DATABASE_URL": f"sqlite:///{database}",
        "HARMONIA_LOAD_PLUGINS": "",
    }
    return subprocess.Popen(
        [sys.executable, "-c", f"{before}\nfrom harmonia.cli import main; main()", "load", *files],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        text=True,
        # A shell's background job starts with SIGINT ignored, and a child inherits
        # that: give the load the Ctrl-C a terminal would, wherever pytest runs.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _batches(database: Path, where: str) -> bool:
    """Whether the store has a load batch ``where`` holds of yet."""
    if not database.exists():
        return False
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.1) as connection:
            rows = connection.execute(f"SELECT 1 FROM load_batch WHERE {where}")
            return rows.fetchone() is not None
    except sqlite3.Error:
        return False  # the schema is still being made


def _interrupt_once(process: subprocess.Popen[str], database: Path, where: str) -> str:
    """Ctrl-C the load once a batch ``where`` holds of is stored: its exit 130, no
    traceback; its stderr."""
    deadline = time.monotonic() + 60
    while not _batches(database, where) and process.poll() is None:
        assert time.monotonic() < deadline, f"no batch where {where}"
        time.sleep(0.02)
    time.sleep(0.2)  # inside the load: reading, checking or storing
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, (out, err)
    assert "Traceback" not in err and "Query interrupted" not in err, err
    return err


def _metrics(path: Path, rows: int, customers: int) -> Path:
    """A metrics file of ``rows`` rows for customers C000000.. (large: read for seconds)."""
    lines = "".join(f"C{n % customers:06d};cardiology;trx;{n};1\n" for n in range(rows))
    return write(path, f"{METRICS_HEADER}\n{lines}")


@pytest.mark.slow
def test_ctrl_c_during_a_load_exits_130_and_stores_nothing_from_the_file(tmp_path: Path) -> None:
    rows = "".join(
        f"C{n:06d};NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1\n" for n in range(300_000)
    )
    big = write(tmp_path / "customers.csv", CUSTOMERS.splitlines(keepends=True)[0] + rows)
    database = tmp_path / "harmonia.db"

    err = _interrupt_once(_loading([str(big)], database), database, "status = 'running'")

    assert f"interrupted: nothing from {big} was stored" in err
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT COUNT(*) FROM customer").fetchone() == (0,)
        statuses = connection.execute("SELECT status FROM load_batch").fetchall()
    assert statuses == [("failed",)]


@pytest.mark.slow
def test_ctrl_c_while_the_next_file_is_read_says_nothing_of_it_was_stored(
    tmp_path: Path,
) -> None:
    customers = write(tmp_path / "customers.csv", CUSTOMERS)  # stored in a moment
    # Still read (hashed, its lines counted) seconds after the customers stored.
    metrics = _metrics(tmp_path / "metrics.csv", 4_000_000, 1)
    database = tmp_path / "harmonia.db"

    loading = _loading([str(customers), str(metrics)], database)
    # Its golden record made: the load goes on to read the metrics.
    err = _interrupt_once(loading, database, "status = 'loaded' AND NOT golden_owed")

    # The Ctrl-C came while the load read the metrics: no batch of it began.
    with sqlite3.connect(database) as connection:
        batches = connection.execute("SELECT id, kind, status FROM load_batch").fetchall()
    assert batches == [(1, "customers", "loaded")]
    said = f"interrupted: nothing from {metrics} was stored (batch(es) 1 of earlier files were)"
    assert said in err


#: Sends the load's process a real SIGINT the instant the batch is marked loaded,
#: before its result reaches the load: as it closes the batch (finish time, audit).
SIGINT_AS_THE_BATCH_CLOSES = """
import os, signal
from harmonia.ingest.loader import Loader
close = Loader._close_batch
def interrupted_closing(loader, result):
    os.kill(os.getpid(), signal.SIGINT)
    close(loader, result)
Loader._close_batch = interrupted_closing
"""


def test_ctrl_c_just_after_a_batch_is_loaded_says_it_was_stored(tmp_path: Path) -> None:
    customers = write(tmp_path / "customers.csv", CUSTOMERS)
    metrics = write(tmp_path / "metrics.csv", f"{METRICS_HEADER}\nC01;cardiology;trx;2026;1\n")
    database = tmp_path / "harmonia.db"

    loading = _loading([str(customers), str(metrics)], database, SIGINT_AS_THE_BATCH_CLOSES)
    out, err = loading.communicate(timeout=120)

    assert loading.returncode == 130, (out, err)
    assert "Traceback" not in err, err
    with sqlite3.connect(database) as connection:
        batches = connection.execute("SELECT id, kind, status FROM load_batch").fetchall()
        customers_stored = connection.execute("SELECT COUNT(*) FROM customer").fetchone()
    assert batches == [(1, "customers", "loaded")]
    assert customers_stored == (1,)
    said = f"interrupted: of {customers}, batch(es) 1 were stored; nothing after them"
    assert said in err


def test_ctrl_c_when_the_store_cannot_say_what_committed_still_says_interrupted(
    tmp_path: Path,
) -> None:
    """Asking the store which batches committed fails (locked, unreachable): the
    load still says it was interrupted, and names the batch it cannot vouch for."""
    customers = write(tmp_path / "customers.csv", CUSTOMERS)
    database = tmp_path / "harmonia.db"
    store_unreachable = """
from sqlalchemy.exc import OperationalError
def unreachable(loader, batch_ids):
    raise OperationalError("SELECT", {}, Exception("database is locked"))
Loader.committed = unreachable
"""
    loading = _loading([str(customers)], database, SIGINT_AS_THE_BATCH_CLOSES + store_unreachable)
    out, err = loading.communicate(timeout=120)

    assert loading.returncode == 130, (out, err)
    assert "Traceback" not in err and "database is locked" not in err, err
    said = f"interrupted: of {customers}, batch(es) 1 may have been stored (the store could not be asked)"
    assert said in err


def test_ctrl_c_during_a_sqlite_bulk_statement_is_a_keyboard_interrupt(tmp_path: Path) -> None:
    """SQLite's ADBC driver cannot cancel a statement: it runs to its end and the
    driver reports the Ctrl-C as NotSupportedError. The store's connection turns it
    back into the KeyboardInterrupt the CLI answers with exit 130, not a traceback."""
    script = f"""
import sys
from harmonia.store import adbc
connection = adbc.connect("sqlite", {str(tmp_path / "s.db")!r})
cursor = connection.cursor()
print("ready", flush=True)
try:
    cursor.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                   "WHERE x < 10000000) SELECT count(*) FROM c")
    print("finished before the Ctrl-C", flush=True)
    sys.exit(2)
except KeyboardInterrupt:
    print("interrupted", flush=True)
finally:
    connection.close()
"""
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    time.sleep(0.3)  # inside the statement
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert (process.returncode, out) == (0, "interrupted\n"), err
