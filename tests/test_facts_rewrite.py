"""A file rewritten without some rows (an erasure, an objection): the one primitive,
``harmonia.store.facts.rewrite_without``, that the store's inputs files and any CSV or
Parquet file an erasure reaches (``harmonia.files.remove_rows``) are rewritten with."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harmonia.sql import literal
from harmonia.store.facts import REWRITE_LOCK, rewrite_without


def _parquet(path: Path, ids: list[int]) -> Path:
    pq.write_table(pa.table({"customer_id": ids, "inputs": ["{}"] * len(ids)}), path)
    return path


def _reader(path: Path) -> str:
    return f"read_parquet({literal(str(path))})"


def _copy(duck: Any, kept: str, temporary: Path) -> None:
    duck.execute(f"COPY ({kept}) TO {literal(str(temporary))} (FORMAT parquet)")


def _ids(path: Path) -> list[int]:
    return sorted(pq.read_table(path).column("customer_id").to_pylist())


def test_a_rewrite_removes_the_rows_and_leaves_nothing_beside_the_file(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "part-00001.parquet", [1, 2, 3])
    assert rewrite_without(path, _reader(path), "customer_id = 2", _copy) == 1
    assert _ids(path) == [1, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == [REWRITE_LOCK, path.name]


def test_a_file_without_a_matching_row_is_not_rewritten(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "part-00001.parquet", [1, 2])
    before = path.stat().st_mtime_ns, path.stat().st_ino

    def never(duck: Any, kept: str, temporary: Path) -> None:
        raise AssertionError("nothing to remove: nothing to write")

    assert rewrite_without(path, _reader(path), "customer_id = 9", never) == 0
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "nothing created beside it"


def test_two_rewrites_of_one_file_at_once_both_take_effect(tmp_path: Path) -> None:
    """Without the folder's lock each would copy the file as it was, and the second
    rename would bring back whom the first removed."""
    path = _parquet(tmp_path / "part-00001.parquet", [1, 2, 3, 4])
    first_writing = threading.Event()

    def slow_copy(duck: Any, kept: str, temporary: Path) -> None:
        _copy(duck, kept, temporary)
        first_writing.set()
        time.sleep(0.5)  # copied, not yet renamed: the second rewrite starts meanwhile

    removed: list[int] = []
    first = threading.Thread(
        target=lambda: removed.append(
            rewrite_without(path, _reader(path), "customer_id = 2", slow_copy)
        )
    )
    first.start()
    assert first_writing.wait(30)
    removed.append(rewrite_without(path, _reader(path), "customer_id = 3", _copy))
    first.join(30)
    assert removed == [1, 1]
    assert _ids(path) == [1, 4]


def test_a_rewrite_waits_for_the_lock_of_one_under_way(tmp_path: Path) -> None:
    import fcntl

    path = _parquet(tmp_path / "part-00001.parquet", [1, 2, 3])
    done = threading.Event()
    removed: list[int] = []

    def rewrite() -> None:
        removed.append(rewrite_without(path, _reader(path), "customer_id = 2", _copy))
        done.set()

    with (tmp_path / REWRITE_LOCK).open("a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)  # another process's rewrite is under way
        worker = threading.Thread(target=rewrite)
        worker.start()
        assert not done.wait(1.0), "the rewrite did not wait for the one under way"
        fcntl.flock(other, fcntl.LOCK_UN)
    worker.join(30)
    assert removed == [1]
    assert _ids(path) == [1, 3]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "part-00001.parquet", [1, 2, 3])

    def disk_full(duck: Any, kept: str, temporary: Path) -> None:
        temporary.write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        rewrite_without(path, _reader(path), "customer_id = 2", disk_full)
    assert _ids(path) == [1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == [REWRITE_LOCK, path.name]


_KILLED_WHILE_WRITING = """
import sys, time
from pathlib import Path
from harmonia.sql import literal
from harmonia.store.facts import rewrite_without

path = Path(sys.argv[1])

def write(duck, kept, temporary):
    duck.execute(f"COPY ({kept}) TO {literal(str(temporary))} (FORMAT parquet)")
    print("written", flush=True)
    time.sleep(60)  # killed here: the new file is written, not yet renamed

rewrite_without(path, f"read_parquet({literal(str(path))})", "customer_id = 2", write)
"""


def test_a_rewrite_killed_before_its_rename_leaves_the_old_file(tmp_path: Path) -> None:
    """kill -9 of a real process between writing the new file and the rename: the old
    file is whole, the lock is free, and the next rewrite removes the dead one's file."""
    path = _parquet(tmp_path / "part-00001.parquet", [1, 2, 3])
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WHILE_WRITING, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "written"
        assert [p.name for p in tmp_path.glob("*.rewriting-*")] == [
            f"{path.name}.rewriting-{process.pid}"
        ]
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    assert _ids(path) == [1, 2, 3]
    assert rewrite_without(path, _reader(path), "customer_id = 3", _copy) == 1
    assert _ids(path) == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == [REWRITE_LOCK, path.name]


_REMOVE_ROWS = """
import sys
from pathlib import Path
from harmonia.files import remove_rows

print(remove_rows(Path(sys.argv[1]), lambda columns: "customer_id = '9'"))
"""

_ROOT = os.geteuid() == 0
_SETPRIV = shutil.which("setpriv")
#: Root without capabilities: uid 0 left with the permissions of any other user.
_UNPRIVILEGED = [_SETPRIV, "--inh-caps=-all", "--bounding-set=-all"] if _ROOT else []


def _remove_rows_unprivileged(path: Path) -> subprocess.CompletedProcess[str]:
    """``harmonia.files.remove_rows`` of customer 9 in a process that the file
    permissions bind (as root: without capabilities)."""
    return subprocess.run(
        [*_UNPRIVILEGED, sys.executable, "-c", _REMOVE_ROWS, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


@pytest.mark.skipif(
    not (_ROOT and _SETPRIV), reason="needs root and setpriv to act as two OS users"
)
def test_a_second_os_user_erases_from_a_folder_shared_with_the_first(tmp_path: Path) -> None:
    """The first user's erasure leaves the folder's lock file; the second user may not
    write that file, yet takes the lock and erases (the lock file used to be opened
    for writing: EACCES, and the person stayed in the export)."""
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o1777)
    shared.chmod(0o1777)  # a team's share: sticky, writable by all
    path = shared / "export.csv"
    path.write_text("customer_id;name\n1;a\n9;b\n")
    path.chmod(0o666)
    first = _remove_rows_unprivileged(path)
    assert (first.returncode, first.stdout.strip()) == (0, "1"), first.stderr
    lock = shared / REWRITE_LOCK
    assert lock.stat().st_mode & 0o777 == 0o666, "whatever the umask"
    nobody = 65534
    os.chown(lock, nobody, nobody)  # the first erasure was another user's,
    lock.chmod(0o644)  # by a version that left the lock to the umask

    path.write_text("customer_id;name\n1;a\n9;b\n")
    second = _remove_rows_unprivileged(path)
    assert (second.returncode, second.stdout.strip()) == (0, "1"), second.stderr
    assert path.read_text().split() == ["customer_id;name", "1;a"]


@pytest.mark.skipif(_ROOT and not _SETPRIV, reason="root needs setpriv to be bound by modes")
def test_a_folder_we_may_only_read_without_the_person_is_left_alone(tmp_path: Path) -> None:
    """Nothing to remove: 0, and no lock file asked of a folder we may not write
    (a share we may only read used to fail the erasure with EACCES)."""
    path = tmp_path / "export.csv"
    path.write_text("customer_id;name\n1;a\n2;b\n")
    tmp_path.chmod(0o555)
    try:
        erased = _remove_rows_unprivileged(path)
    finally:
        tmp_path.chmod(0o755)
    assert (erased.returncode, erased.stdout.strip()) == (0, "0"), erased.stderr
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
