"""Writing files in a market's conventions through one DuckDB connection per thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa

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
