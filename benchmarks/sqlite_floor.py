"""The fastest SQLite can take in a loaded harmonia store: a lower bound for any load.

Copies every table of a store into an empty store of the same schema with
``INSERT INTO t SELECT * FROM source.t``. Between identical tables SQLite
then moves its encoded records as they are (its transfer optimization): no
parsing, no checks, no type conversion, keys already in order. No load that
starts from files can write faster, so the sum is the floor under
``harmonia load`` on the SQLite default, whatever the loader does. Example::

    python benchmarks/bench_cycle.py --sizes 1M --keep --workdir /tmp/bench
    python benchmarks/sqlite_floor.py /tmp/bench/n1000000/harmonia.db

Prints seconds and rows per table and the total; ``--json`` for scripts.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

#: The tables a load writes, parents first.
TABLES = ("customer", "identifier", "crosswalk", "metric", "response", "answer")


def measure(store: Path) -> dict[str, dict[str, float]]:
    """Seconds and rows of the transfer of each table of ``store`` into an empty copy."""
    source = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    schema = [
        sql
        for (sql,) in source.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
        )
    ]
    source.close()
    with tempfile.TemporaryDirectory(prefix="harmonia-floor-") as folder:
        target = sqlite3.connect(Path(folder) / "floor.db", isolation_level=None)
        # The settings of harmonia's store (store/database.py) and bulk writer (store/bulk.py).
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "cache_size = -524288"):
            target.execute(f"PRAGMA {pragma}")
        for sql in schema:
            target.execute(sql)
        target.execute("ATTACH DATABASE ? AS source", (f"file:{store}?mode=ro",))
        results = {}
        for table in TABLES:
            # Read the source's table pages once first (NOT INDEXED: not a smaller
            # index), so the page cache, not the disk, is measured.
            count = f"SELECT COUNT(*) FROM source.{table} NOT INDEXED"
            rows = target.execute(count).fetchone()[0]
            started = time.perf_counter()
            target.execute("BEGIN")
            target.execute(f"INSERT INTO main.{table} SELECT * FROM source.{table}")
            target.execute("COMMIT")
            results[table] = {"rows": rows, "seconds": time.perf_counter() - started}
        target.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="a harmonia SQLite store, loaded")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not args.store.is_file():
        parser.error(f"no such store: {args.store}")
    results = measure(args.store)
    total = sum(r["seconds"] for r in results.values())
    if args.json:
        json.dump({"tables": results, "total_seconds": total}, sys.stdout, indent=2)
        print()
        return 0
    for table, result in results.items():
        print(f"{table:12s} {result['rows']:>12,} rows {result['seconds']:8.2f} s")
    rows = sum(int(r["rows"]) for r in results.values())
    print(f"{'total':12s} {rows:>12,} rows {total:8.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
