"""Where the embedded engine (DuckDB) spills beyond its memory limit: beside the store,
never in the current folder, gone when the command ends, swept by the next command
after a crash (issue 11: a 10M cycle left 7.5 GB of ``.tmp`` in the current folder).
Real processes, really spilling, really killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from harmonia.compute import duckdb_connection, spill_into
from harmonia.store import Database
from harmonia.store.recovery import spill_beside

pytestmark = pytest.mark.store

#: Opens the store as every command does, then spills (2M rows at a 40 MB limit, one
#: thread), prints the folders beside the store, and ends as told: closing the
#: connection, exiting with it open, or waiting to be killed.
DRIVER = """
import os, sys, time
from pathlib import Path
from harmonia.app import Harmonia
from harmonia.compute import duckdb_connection

store, ending = Path(sys.argv[1]), sys.argv[2]
Harmonia(f"sqlite:///{store}").database
duck = duckdb_connection()
duck.execute("SET threads = 1")
duck.execute("CREATE TABLE t AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(2000000)")
duck.execute("CREATE TABLE u AS SELECT * FROM t ORDER BY s")
print("spilled:", *sorted(p.name for p in store.parent.glob(store.name + ".tmp-*/*")), flush=True)
if ending == "close":
    duck.close()
elif ending == "wait":
    time.sleep(120)
"""


def spilling(store: Path, ending: str, cwd: Path) -> subprocess.Popen[str]:
    cwd.mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(store), ending],
        cwd=cwd,
        stdout=subprocess.PIPE,
        env={**os.environ, "HARMONIA_MEMORY_LIMIT": "40MB"},
        text=True,
    )


def spilled(lines: Iterable[str]) -> str:
    """What the driver found beside the store once it spilled."""
    return next(line for line in lines if line.startswith("spilled:"))


def spill_folders(store: Path) -> list[Path]:
    return sorted(store.parent.glob(f"{store.name}.tmp-*"))


@pytest.mark.parametrize("ending", ["close", "exit"])
def test_a_command_spills_beside_the_store_not_in_the_current_folder_and_leaves_nothing(
    h1: str, tmp_path: Path, ending: str
) -> None:
    store = Path(h1.removeprefix("sqlite:///"))
    elsewhere = tmp_path / "elsewhere"
    process = spilling(store, ending, elsewhere)
    said, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    assert "duckdb_temp" in spilled(said.splitlines())  # its spill files were beside the store
    assert not list(elsewhere.iterdir())  # no .tmp where the command ran
    # Closed, DuckDB removes its folder; left open, the process does as it exits.
    assert spill_folders(store) == []


def test_a_killed_commands_spill_folder_is_swept_by_the_next_command_which_says_so(
    h1: str, tmp_path: Path, harmonia_cli: Callable
) -> None:
    store = Path(h1.removeprefix("sqlite:///"))
    process = spilling(store, "wait", tmp_path / "elsewhere")
    try:
        assert process.stdout is not None
        assert "duckdb_temp" in spilled(process.stdout)
        (folder,) = spill_folders(store)
        # Its process still runs: the next command leaves the folder alone.
        assert "spill" not in harmonia_cli("cycle", "list").output
        assert folder.is_dir()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert folder.is_dir()  # kill -9: neither DuckDB nor the process removed it
    result = harmonia_cli("cycle", "list")
    assert result.exit_code == 0, result.output
    assert f"removed the embedded engine's spill folder(s) {folder.name}" in result.output
    assert spill_folders(store) == []
    assert "cleaned up" not in harmonia_cli("cycle", "list").output  # said once


def test_a_store_on_a_server_spills_in_the_workspace(tmp_path: Path) -> None:
    try:
        spill_beside(Database("postgresql://analyst@db.internal/harmonia"), tmp_path)
        duck = duckdb_connection()
        ((folder,),) = duck.execute("SELECT current_setting('temp_directory')").fetchall()
        duck.close()
    finally:
        spill_into(None)
    assert Path(folder).parent == tmp_path
    assert Path(folder).name.startswith("harmonia.tmp-")


def test_a_spill_folders_owner_reads_back_from_the_right() -> None:
    """A host name may hold ``_`` (review rev-reuse NIT 6): the owner is read from the right."""
    from harmonia.store.recovery import _spill_owner

    assert _spill_owner("build_host_4242_98765") == "build_host:4242:98765"
    assert _spill_owner("host_4242_98765") == "host:4242:98765"
    assert _spill_owner("build_host_4242") == "build_host:4242"
