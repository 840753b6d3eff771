"""Benchmark: where the embedded store keeps facts that arrive by the million (issue 11).

Writes N metric rows (one load batch), then reads one therapy area's slice
into a DuckDB table (what a cycle does), for each candidate a ``pip install``
brings:

``sqlite``   today's layout: a ``WITHOUT ROWID`` table in the SQLite file,
             written and read through ADBC (Arrow, no Python rows);
``duckdb``   one DuckDB database file of facts beside the SQLite file (the
             same figures hold for "one DuckDB file as the whole store": its
             fact tables are the same tables);
``parquet``  immutable Parquet files per load batch, written by DuckDB's COPY
             and read by DuckDB in place.

Then a second batch changing 1% of the rows, and the read again (the latest
batch wins per key), which is what a change-only reload costs a reader.
Prints seconds per step and the ratio to ``sqlite``. Example::

    python benchmarks/storage_candidates.py --rows 5000000

Timings on a shared machine are noisy: the load average is printed too.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

KEY = "therapy_area, metric, customer_id, period"
COLUMNS = "therapy_area, metric, customer_id, period, first_month, last_month, value"


def rows_sql(rows: int, batch: int, changed: float = 1.0) -> str:
    """``rows`` metrics over five metrics and two areas, the value depending on the batch."""
    return f"""
        SELECT CASE WHEN i % 2 = 0 THEN 'oncology' ELSE 'cardiology' END AS therapy_area,
            'm' || (i // 2 % 5) AS metric, i // 10 AS customer_id,
            '2027-Q' || (1 + i % 4) AS period, CAST(24324 + i % 4 * 3 AS BIGINT) AS first_month,
            CAST(24326 + i % 4 * 3 AS BIGINT) AS last_month,
            CAST(i % 1000 + {batch} AS DOUBLE) AS value, CAST({batch} AS BIGINT) AS batch_id
        FROM range({rows}) t(i) WHERE hash(i) % 10000 < {int(changed * 10000)}
    """


def timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def sqlite(folder: Path, rows: int) -> dict[str, float]:
    import adbc_driver_sqlite.dbapi as adbc

    path = folder / "store.db"
    with adbc.connect(str(path), autocommit=True) as connection:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(
            "CREATE TABLE metric (therapy_area TEXT, metric TEXT, customer_id INTEGER, "
            "period TEXT, first_month INTEGER, last_month INTEGER, value REAL, "
            f"batch_id INTEGER, PRIMARY KEY ({KEY})) WITHOUT ROWID"
        )
        duck = duckdb.connect()

        def write(batch: int, changed: float) -> None:
            data = duck.sql(rows_sql(rows, batch, changed) + f" ORDER BY {KEY}").to_arrow_table()
            stage = f"stage_{batch}"
            cursor.execute("BEGIN")
            cursor.adbc_ingest(stage, data, mode="create", temporary=True)
            cursor.execute(
                f"INSERT INTO metric SELECT * FROM {stage} WHERE true ON CONFLICT ({KEY}) "
                "DO UPDATE SET value = excluded.value, batch_id = excluded.batch_id"
            )
            cursor.execute("COMMIT")

        def read() -> None:
            cursor.execute(f"SELECT {COLUMNS} FROM metric WHERE therapy_area = 'oncology'")
            duck.register("incoming", cursor.fetch_record_batch())
            duck.execute("CREATE OR REPLACE TABLE slice AS SELECT * FROM incoming")

        figures = {"write": timed(lambda: write(1, 1.0)), "read": timed(read)}
        figures["write 1% changed"] = timed(lambda: write(2, 0.01))
        figures["read after change"] = timed(read)
        return figures


def duckdb_file(folder: Path, rows: int) -> dict[str, float]:
    duck = duckdb.connect(str(folder / "facts.duckdb"))
    duck.execute(
        "CREATE TABLE metric (therapy_area VARCHAR, metric VARCHAR, customer_id BIGINT, "
        "period VARCHAR, first_month BIGINT, last_month BIGINT, value DOUBLE, batch_id BIGINT)"
    )

    def write(batch: int, changed: float) -> None:
        duck.execute("BEGIN")
        duck.execute(f"INSERT INTO metric {rows_sql(rows, batch, changed)} ORDER BY {KEY}")
        duck.execute("COMMIT")

    def read() -> None:
        duck.execute(
            f"CREATE OR REPLACE TEMP TABLE slice AS SELECT {COLUMNS} FROM metric "
            f"WHERE therapy_area = 'oncology' QUALIFY batch_id = max(batch_id) OVER (PARTITION BY {KEY})"
        )

    figures = {"write": timed(lambda: write(1, 1.0)), "read": timed(read)}
    figures["write 1% changed"] = timed(lambda: write(2, 0.01))
    figures["read after change"] = timed(read)
    return figures


def parquet(folder: Path, rows: int) -> dict[str, float]:
    duck = duckdb.connect()
    files: list[str] = []

    def write(batch: int, changed: float) -> None:
        path = folder / f"batch={batch}" / "part-1.parquet"
        path.parent.mkdir()
        duck.execute(
            f"COPY ({rows_sql(rows, batch, changed)} ORDER BY {KEY}) TO '{path}' "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
        files.append(str(path))

    def read() -> None:
        latest = (
            f" QUALIFY batch_id = max(batch_id) OVER (PARTITION BY {KEY})" if len(files) > 1 else ""
        )
        duck.execute(
            f"CREATE OR REPLACE TABLE slice AS SELECT {COLUMNS} FROM read_parquet({files!r}) "
            f"WHERE therapy_area = 'oncology'{latest}"
        )

    figures = {"write": timed(lambda: write(1, 1.0)), "read": timed(read)}
    figures["write 1% changed"] = timed(lambda: write(2, 0.01))
    figures["read after change"] = timed(read)
    return figures


CANDIDATES = {"sqlite": sqlite, "duckdb": duckdb_file, "parquet": parquet}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="metric rows in the batch")
    args = parser.parse_args()
    print(f"rows: {args.rows:,}; load average before: {os.getloadavg()[0]:.2f}")
    results = {}
    for name, candidate in CANDIDATES.items():
        with tempfile.TemporaryDirectory(prefix=f"harmonia-{name}-") as folder:
            results[name] = candidate(Path(folder), args.rows)
    steps = list(results["sqlite"])
    print(f"{'candidate':<10}" + "".join(f"{step:>22}" for step in steps))
    for name, figures in results.items():
        cells = "".join(
            f"{figures[step]:>12.2f}s ({figures[step] / results['sqlite'][step]:.2f}x)"
            for step in steps
        )
        print(f"{name:<10}{cells}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
