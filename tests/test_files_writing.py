"""Writing files in a market's conventions through one DuckDB connection per thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pytest

from harmonia.compute import scratch_connection
from harmonia.files import write_table_csv


def test_files_share_this_threads_connection_and_leave_nothing_registered(
    tmp_path: Path,
) -> None:
    table = pa.table({"customer": ["C01", "C02"], "cost": [1.5, 20.25]})
    write_table_csv(table, tmp_path / "a.csv", delimiter=";", decimal=",")
    connection = scratch_connection()
    write_table_csv(table, tmp_path / "b.csv")
    assert scratch_connection() is connection  # opened once, not per file
    assert connection.sql("SHOW TABLES").fetchall() == []  # the table was unregistered
    assert (tmp_path / "a.csv").read_text(encoding="utf-8") == "customer;cost\nC01;1,5\nC02;20,25\n"
    assert (tmp_path / "b.csv").read_text(encoding="utf-8") == "customer,cost\nC01,1.5\nC02,20.25\n"
    # Another thread (a PostgreSQL cycle plans in one) gets its own connection.
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(scratch_connection()))
    thread.start()
    thread.join()
    assert other[0] is not connection


def test_removing_rows_syncs_the_new_file_before_the_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An erasure rewrites files already written: after a power cut the old file or
    the new one is there whole, never an empty one under the old name."""
    import os

    from harmonia.files import remove_rows

    path = tmp_path / "targets.csv"
    path.write_text("customer_id;segment\nC01;A\nC02;B\n", encoding="utf-8")
    events: list[tuple[str, str]] = []
    fsync, replace = os.fsync, Path.replace

    def synced(descriptor: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{descriptor}")))
        fsync(descriptor)

    def replaced(self: Path, target: Path) -> Path:
        events.append(("rename", str(target)))
        return replace(self, target)

    monkeypatch.setattr(os, "fsync", synced)
    monkeypatch.setattr(Path, "replace", replaced)
    assert remove_rows(path, lambda columns: "customer_id = 'C01'") == 1
    assert events == [
        ("fsync", f"{path}.rewriting-{os.getpid()}"),
        ("rename", str(path)),
        ("fsync", str(tmp_path)),
    ]
    assert path.read_text(encoding="utf-8") == "customer_id;segment\nC02;B\n"
