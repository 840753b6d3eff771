"""Benchmark: the cycle on Spark (local mode) beside DuckDB, on the same universe.

Issue 18, item 4. Information, not a target: Spark's value is the cluster.
For each size, in one run:

1. load the synthetic French oncology universe into a fresh SQLite store
   (or reuse ``--store``), then ``harmonia lake export`` it to Parquet;
2. **the cycle end to end**: ``run_cycle`` on ``duckdb`` (the store) and on
   ``spark`` (the lake, ``local[N]``), each timed with its stages (Spark's
   session start is timed apart: a cluster keeps one running);
3. **segmentation alone**: the cycle's query over the lake's Parquet, in
   DuckDB (``CREATE TABLE ... AS``) and in Spark (written to Parquet), best
   of ``--repeat``;
4. **correctness**: both cycles give every customer the same segments,
   rules and final segment.

The load average is printed with every figure: on a shared machine the
figures must be re-taken quietly. Examples::

    python benchmarks/bench_spark.py --sizes 100k
    python benchmarks/bench_spark.py --sizes 1M --cores 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _size(text: str) -> int:
    text = text.lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * factor)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _timed_cycle(database: Any, catalog: Any, engine: str, out: Path, **options: Any) -> dict:
    from harmonia.engine.cycle import run_cycle

    stages: list[tuple[str, float]] = []
    started = time.perf_counter()
    result = run_cycle(
        database, catalog, country="FR", therapy_area="oncology", period="2027-H1",
        engine=engine, sinks=(), directory=out,
        on_stage=lambda stage: stages.append((stage, time.perf_counter())), **options,
    )  # fmt: skip
    finished = time.perf_counter()
    timings = {}
    for (name, at), (_, until) in zip(stages, [*stages[1:], ("end", finished)], strict=True):
        timings[name] = round(until - at, 2)
    return {"cycle": result.cycle.id, "seconds": round(finished - started, 2), "stages": timings}


def _segmentation(lake: Path, query: Any, spark: Any, repeat: int) -> dict[str, float]:
    from harmonia.compute import duckdb_connection
    from harmonia.engine.dialects import transpile
    from harmonia.engine.lake import LAKE_TABLES, table_path

    connection = duckdb_connection()
    for table in LAKE_TABLES:
        connection.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{table_path(lake, table)}/*.parquet')"
        )
        spark.read.parquet(table_path(lake, table)).createOrReplaceTempView(table)
    best = {"duckdb": float("inf"), "spark": float("inf")}
    for run in range(repeat):
        started = time.perf_counter()
        connection.execute(f"CREATE OR REPLACE TABLE result AS {query.assignments()}")
        best["duckdb"] = min(best["duckdb"], time.perf_counter() - started)
        started = time.perf_counter()
        spark.sql(transpile(query.assignments(), "spark")).write.mode("overwrite").parquet(
            str(lake.parent / f"segmented-{run}")
        )
        best["spark"] = min(best["spark"], time.perf_counter() - started)
    connection.close()
    return {name: round(value, 2) for name, value in best.items()}


def bench(customers: int, folder: Path, args: argparse.Namespace) -> bool:
    from harmonia.engine.cycle import read_assignments
    from harmonia.engine.lake import export
    from harmonia.engine.query import CycleQuery
    from harmonia.engine.spec import resolve
    from harmonia.ingest import Loader
    from harmonia.plugin.manager import PluginManager
    from harmonia.store import Database
    from harmonia.workspace import SparkSettings

    catalog = PluginManager.discover().catalog()
    database = Database(f"sqlite:///{args.store or folder / 'harmonia.db'}")
    database.ensure_schema()
    if not args.store:
        started = time.perf_counter()
        options = {"customers": str(customers), "seed": "42", "period": "2027-H1"}
        list(
            Loader(database, catalog, country="FR").run(catalog.data_sources["synthetic"], options)
        )
        print(f"  load: {time.perf_counter() - started:.1f} s (load {_load()})")
    lake = folder / "lake"
    started = time.perf_counter()
    export(database, lake, country="FR")
    print(f"  lake export: {time.perf_counter() - started:.1f} s (load {_load()})")

    from pyspark.sql import SparkSession

    started = time.perf_counter()
    builder = SparkSession.builder.master(f"local[{args.cores}]").appName("harmonia-bench")
    for key, value in {
        "spark.sql.shuffle.partitions": str(args.cores * 4),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": args.driver_memory,
    }.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    print(f"  Spark session: {time.perf_counter() - started:.1f} s (load {_load()})")

    duckdb_run = _timed_cycle(database, catalog, "duckdb", folder)
    print(f"  cycle on duckdb: {duckdb_run['seconds']} s {duckdb_run['stages']} (load {_load()})")
    settings = SparkSettings(lake=str(lake), output=str(folder / "results"))
    spark_run = _timed_cycle(database, catalog, "spark", folder, spark=settings)
    print(f"  cycle on spark:  {spark_run['seconds']} s {spark_run['stages']} (load {_load()})")
    print(f"  ratio spark/duckdb (cycle): {spark_run['seconds'] / duckdb_run['seconds']:.1f}x")

    spec = resolve(catalog, "FR", "oncology", "2027-H1")
    steps = _segmentation(lake, CycleQuery(spec, 0), spark, args.repeat)
    print(
        f"  segmentation alone on the lake (best of {args.repeat}): duckdb {steps['duckdb']} s, "
        f"spark {steps['spark']} s, {steps['spark'] / steps['duckdb']:.1f}x (load {_load()})"
    )
    compared = ("segment", "segment_rule", "needs", "tier", "final_segment", "origin")
    answers = [
        {r["customer_id"]: tuple(r[c] for c in compared) for r in read_assignments(database, run["cycle"]).to_pylist()}
        for run in (duckdb_run, spark_run)
    ]  # fmt: skip
    agree = answers[0] == answers[1]
    print(f"  every customer agrees: {agree} ({len(answers[0]):,} customers)")
    return agree


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["1M"], help="universe sizes (100k, 1M)")
    parser.add_argument("--cores", type=int, default=2, help="Spark's local[N]")
    parser.add_argument("--repeat", type=int, default=2, help="segmentation runs (best kept)")
    parser.add_argument("--driver-memory", default="6g", help="Spark driver memory")
    parser.add_argument("--store", type=Path, help="an already loaded SQLite store to reuse")
    args = parser.parse_args()
    ok = True
    for text in args.sizes:
        customers = _size(text)
        print(f"{customers:,} customers (load average {_load()}, {os.cpu_count()} cores):")
        with tempfile.TemporaryDirectory(prefix="harmonia-bench-spark-") as folder:
            ok = bench(customers, Path(folder), args) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
