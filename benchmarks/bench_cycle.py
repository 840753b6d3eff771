"""Benchmark: a harmonia cycle end to end against a hand-written DuckDB script.

Issue 3, item 7. For each universe size, in one run:

1. write canonical CSV inputs with the synthetic plugin (FR conventions: ``;``
   and decimal commas), ``harmonia synthetic write --seed 42``;
2. **(a) harmonia**, as a user runs it: ``harmonia load`` into a fresh SQLite
   store, then ``harmonia cycle run`` (assignments persisted, target list
   written), each a subprocess timed for wall clock and peak memory (RSS of
   the process tree);
3. **(b) the baseline**, ``baseline_duckdb.py``: the same job written by hand
   in DuckDB (read the CSV files, features, rules, call plan, target list),
   timed the same way; then, on harmonia's loaded store, the same files loaded
   again (nothing changed: target <= 0.3x the first load) and a second cycle
   run (target <= 1.0x the baseline's whole job), issue 11's targets;
4. the **segmentation step** alone, in this process, on inputs already in
   DuckDB: harmonia's cycle query as the embedded engine runs it
   (``CycleQuery.assignments(inputs_as_columns=True)`` over the store's
   tables; the inputs' JSON is built as the assignments are stored) against
   the baseline's features + rules SQL over the CSV tables, run alternately
   ``--repeat`` times (best and median);
5. **correctness**: both target lists must agree on (source customer id,
   segment, needs, tier, contacts) for every row; other columns are compared
   too. A disagreement also compares every customer's features (harmonia's
   recorded ``inputs`` against the baseline's), then fails the run.

With ``--postgres URL`` each size is also run against a fresh PostgreSQL
database on that server (``cycle run --engine database``) and compared with
the baseline's SQL run inside the same server over the loaded tables.

Timings on a shared machine are noisy: the load average is recorded with
every measurement, and ``--runs 3`` keeps the best of three end-to-end runs.
``--stages`` also times each stage of the cycle (``run_cycle``'s progress
callbacks, in this process, on a copy of the store); ``--deep-check`` compares
every customer's features even when the target lists agree. Examples::

    python benchmarks/bench_cycle.py --sizes 20000            # a quick check
    python benchmarks/bench_cycle.py                          # 100k and 1M
    python benchmarks/bench_cycle.py --runs 3 --stages --json results.json
    python benchmarks/bench_cycle.py --huge                   # adds 10M
    python benchmarks/bench_cycle.py --sizes 100k \\
        --postgres postgresql://postgres@127.0.0.1:5432/test

Exit status: 0 when every step ran and every target list agrees, 1 otherwise.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# A sibling script: Python puts a script's own folder first on sys.path.
import baseline_duckdb as baseline

COUNTRY = "FR"
THERAPY_AREA = "oncology"
PERIOD = "2027-H1"
SEED = 42
DEFAULT_SIZES = (100_000, 1_000_000)
HUGE_SIZE = 10_000_000

#: The targets of issue 3, item 7.
TARGET_END_TO_END = 2.0  # harmonia / baseline, end to end, at 1M on SQLite
TARGET_SEGMENTATION = 1.3  # harmonia's segmentation step / the baseline's compute
TARGET_PEAK_10M_MB = 8 * 1024  # peak memory at 10M customers
TARGET_POSTGRES = 1.5  # harmonia / hand-written SQL on the same PostgreSQL server
#: The targets of issue 11, at 1M on SQLite.
TARGET_RELOAD = 0.3  # loading the same files again / the first load
TARGET_SECOND_CYCLE = 1.0  # a second cycle run on the loaded store / the baseline's whole job

#: Target list columns that must agree, and the others that should.
KEY_COLUMNS = ("segment", "needs", "tier", "contacts")
OTHER_COLUMNS = (
    "id_scheme",
    "id_value",
    "type",
    "first_name",
    "last_name",
    "specialty",
    "postal_code",
    "city",
    "territory",
    "strategy",
    *baseline.CHANNELS,
    "cost",
)
#: Per-customer values compared when the target lists disagree.
FEATURES = ("potential_decile", "trx_decile", "consistency", "adoption", "need")


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


# --- measuring a subprocess ------------------------------------------------------------------


@dataclass
class Measured:
    """Wall clock, CPU time and peak memory of one subprocess, with the load around it.

    On a busy machine the wall clock says how busy it was; the CPU time (user
    and system, of the command and its children) is what a change is compared by.
    """

    command: str
    seconds: float
    peak_mb: float
    load_before: float
    load_after: float
    stdout: str = ""
    cpu_seconds: float = 0.0


#: Runs a command and writes its wall time, CPU time, exit status and peak RSS (``ru_maxrss``)
#: as JSON. Why a wrapper: Linux carries a process's peak RSS across ``exec``, so a
#: child forked straight from this (large) process would report at least our size.
_WRAPPER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as report:
    json.dump({"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
               "maxrss_kb": usage.ru_maxrss, "status": code}, report)
sys.exit(code)
"""


def measure(command: list[str], cwd: Path, poll: float = 0.05) -> Measured:
    """Run ``command``; its wall time and peak memory.

    Peak memory is the larger of the command's ``ru_maxrss`` and the summed
    RSS of its process tree, polled every ``poll`` seconds.
    """
    import psutil

    env = {k: v for k, v in os.environ.items() if k != "HARMONIA_DATABASE_URL"}
    load_before = os.getloadavg()[0]
    out_path, err_path, report = cwd / ".stdout", cwd / ".stderr", cwd / ".measured.json"
    report.unlink(missing_ok=True)
    wrapped = [sys.executable, "-c", _WRAPPER, str(report), *command]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(wrapped, cwd=cwd, env=env, stdout=out, stderr=err)
        wrapper, polled = psutil.Process(process.pid), 0
        while process.poll() is None:
            polled = max(polled, _children_rss(wrapper))
            time.sleep(poll)
    shown = " ".join(command)
    if process.returncode != 0 or not report.exists():
        tail = err_path.read_text(errors="replace")[-3000:]
        raise BenchError(f"`{shown}` failed with status {process.returncode}:\n{tail}")
    measured = json.loads(report.read_text())
    peak = max(polled, measured["maxrss_kb"] * 1024)
    return Measured(
        shown,
        measured["seconds"],
        peak / 2**20,
        load_before,
        os.getloadavg()[0],
        out_path.read_text(),
        measured["cpu_seconds"],
    )


def _children_rss(process) -> int:
    """Summed RSS of ``process``'s descendants (not of the process itself)."""
    import psutil

    total = 0
    try:
        for child in process.children(recursive=True):
            total += child.memory_info().rss
    except psutil.Error:  # a child ended between listing and reading
        pass
    return total


def _best_of(runs: int, steps: dict[str, Callable[[], None]]) -> dict[str, dict[str, float]]:
    """Run each step ``runs`` times, alternating; best and median seconds of each."""
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(runs):
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            seconds[name].append(time.perf_counter() - started)
    return {
        name: {"best": min(values), "median": statistics.median(values), "runs": values}
        for name, values in seconds.items()
    }


# --- the machine ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import duckdb
    import psutil

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "logical_cores": psutil.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "sqlite": _adbc_sqlite_version(),
        "harmonia": _harmonia_version(),
        "uptime": _uptime(),
    }


def _adbc_sqlite_version() -> str:
    """The SQLite harmonia's store runs on (the ADBC driver's own build)."""
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()")
        return str(cursor.fetchone()[0])


def _harmonia_version() -> str:
    from importlib.metadata import version

    repository = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=repository,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown commit"
    return f"{version('harmonia')} ({commit})"


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


# --- one size ---------------------------------------------------------------------------------


@dataclass
class SizeResult:
    """Everything measured for one universe size.

    ``load``, ``cycle`` and ``baseline`` are the best of ``--runs`` runs (the
    least disturbed by other work on the machine), with the highest peak
    memory of any run; ``runs`` keeps every run's seconds.
    """

    customers: int
    synthetic: Measured | None = None
    load: Measured | None = None
    cycle: Measured | None = None
    baseline: Measured | None = None
    reload: Measured | None = None  # the same files loaded again
    second_cycle: Measured | None = None  # a cycle run again on the loaded store
    runs: dict[str, list[float]] = field(default_factory=dict)
    baseline_phases: dict[str, float] = field(default_factory=dict)
    harmonia_phases: dict[str, float] = field(default_factory=dict)
    segmentation: dict[str, dict[str, float]] = field(default_factory=dict)
    comparison: dict[str, Any] = field(default_factory=dict)
    postgres: dict[str, Any] = field(default_factory=dict)

    @property
    def harmonia_seconds(self) -> float:
        return self.load.seconds + self.cycle.seconds

    @property
    def harmonia_peak_mb(self) -> float:
        return max(self.load.peak_mb, self.cycle.peak_mb)


def byte_compile() -> list[str]:
    """Byte-compile harmonia and the installed packs, as pip does when it installs
    a wheel; returns the packages compiled.

    Why: an editable install run with ``PYTHONDONTWRITEBYTECODE`` set (as on
    the shared benchmark machine) compiles every harmonia module it imports
    from source, in every command: ~0.15 s of CPU before a cycle's first stage
    (getrusage, 2-core machine) that an installed harmonia never pays.
    Python checks each file against its source, so a stale one is never used.
    """
    import compileall
    import importlib.util
    from importlib.metadata import entry_points

    packages = {"harmonia", *(ep.module.split(".")[0] for ep in entry_points(group="harmonia"))}
    compiled = []
    for package in sorted(packages):
        spec = importlib.util.find_spec(package)
        folders = spec.submodule_search_locations if spec is not None else None
        if folders and all(compileall.compile_dir(folder, quiet=2) for folder in folders):
            compiled.append(package)
    return compiled


def harmonia_command() -> list[str]:
    """The installed ``harmonia`` console script, as a user runs it."""
    script = Path(sys.executable).with_name("harmonia")
    if script.exists():
        return [str(script)]
    found = shutil.which("harmonia")
    if found is None:
        raise BenchError("no `harmonia` command: activate the environment harmonia is installed in")
    return [found]


@dataclass
class Paths:
    """Where one size keeps its files."""

    folder: Path

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def store(self) -> Path:
        return self.folder / "harmonia.db"

    @property
    def out(self) -> Path:
        return self.folder / "out"

    @property
    def baseline_list(self) -> Path:
        return self.folder / "baseline_target_list.csv"


def bench_size(customers: int, folder: Path, args: argparse.Namespace) -> SizeResult:
    """Generate the inputs, run (a) and (b), time the segmentation step, compare."""
    paths = Paths(folder)
    folder.mkdir(parents=True, exist_ok=True)
    result = SizeResult(customers)
    _progress(f"{customers:,} customers: writing synthetic inputs")
    result.synthetic = measure(
        [
            *harmonia_command(),
            *("synthetic", "write", "--customers", str(customers), "--seed", str(SEED)),
            *("--country", COUNTRY, "--therapy-area", THERAPY_AREA, "--period", PERIOD),
            *("--out", str(paths.data)),
        ],
        folder,
    )
    runs: dict[str, list[Measured]] = {}
    for run in range(1, args.runs + 1):
        for step, measured in end_to_end(paths, run, args.runs, keep_copy=args.stages).items():
            runs.setdefault(step, []).append(measured)
    best = {step: _best(measured) for step, measured in runs.items()}
    result.load, result.cycle, result.baseline = best["load"], best["cycle"], best["baseline"]
    result.reload, result.second_cycle = best["reload"], best["second cycle"]
    result.runs = {step: [m.seconds for m in measured] for step, measured in runs.items()}
    result.harmonia_phases = store_phases(f"sqlite:///{paths.store}")
    result.baseline_phases = json.loads(result.baseline.stdout.strip().splitlines()[-1])
    _progress(f"segmentation step alone, {args.repeat} alternating runs")
    result.segmentation = duckdb_segmentation_steps(paths.store, paths.data, args.repeat)
    if args.stages:
        _progress("cycle stages, in process, on a copy of the store")
        stages_store = f"sqlite:///{folder / 'stages.db'}"
        result.harmonia_phases |= cycle_stages(stages_store, folder / "stages-out")
    result.comparison = compare_target_lists(_target_list(paths.out), paths.baseline_list)
    if not result.comparison["agree"] or args.deep_check:
        result.comparison["features"] = compare_features(
            f"sqlite:///{paths.store}",
            [sys.executable, baseline.__file__, str(paths.data)],
            folder,
        )
    if args.postgres:
        try:
            result.postgres = bench_postgres(customers, folder, paths.data, args)
        except BenchError as error:
            result.postgres = {"error": str(error)}
    return result


def end_to_end(paths: Paths, run: int, runs: int, keep_copy: bool) -> dict[str, Measured]:
    """One run of (a) load + cycle on a fresh SQLite store, and of (b) the baseline.

    Then, on the same store, the same files loaded again (nothing changed) and
    a second cycle run: what a user does after a changed rule.
    """
    from harmonia.store.facts import copy_store

    harmonia = harmonia_command()
    for stale in [*paths.folder.glob("harmonia.db*"), *paths.folder.glob("stages.db*")]:
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    shutil.rmtree(paths.out, ignore_errors=True)
    label = f" (run {run} of {runs})" if runs > 1 else ""
    _progress(f"(a) harmonia load{label}")
    store = str(paths.store)
    load_files = [*harmonia, "--database", store, "load", str(paths.data), "--country", COUNTRY]
    load = measure(load_files, paths.folder)
    if keep_copy:
        copy_store(paths.store, paths.folder / "stages.db")
    _progress(f"(a) harmonia cycle run{label}")
    run_cycle = [
        *harmonia,
        *("--database", store, "cycle", "run", "--country", COUNTRY),
        *("--therapy-area", THERAPY_AREA, "--period", PERIOD),
    ]
    cycle = measure([*run_cycle, "--out", str(paths.out)], paths.folder)
    _progress(f"(b) hand-written DuckDB baseline{label}")
    handwritten = measure(
        [sys.executable, baseline.__file__, str(paths.data), "--out", str(paths.baseline_list)],
        paths.folder,
    )
    _progress(f"(a) harmonia load of the same files again{label}")
    reload = measure(load_files, paths.folder)
    _progress(f"(a) harmonia cycle run again on the loaded store{label}")
    again = paths.folder / "out-again"
    shutil.rmtree(again, ignore_errors=True)
    second = measure([*run_cycle, "--out", str(again)], paths.folder)
    return {
        "load": load,
        "cycle": cycle,
        "baseline": handwritten,
        "reload": reload,
        "second cycle": second,
    }


def _best(runs: list[Measured]) -> Measured:
    """The fastest run, with the highest peak memory of all runs."""
    fastest = min(runs, key=lambda measured: measured.seconds)
    return replace(fastest, peak_mb=max(measured.peak_mb for measured in runs))


def _target_list(out: Path) -> Path:
    found = sorted(out.glob("*target_list.csv"))
    if len(found) != 1:
        raise BenchError(f"expected one target list in {out}, found {len(found)}")
    return found[0]


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- inside harmonia's steps ------------------------------------------------------------------


def store_phases(url: str) -> dict[str, float]:
    """Seconds per loaded file and of the cycle itself, as the store recorded them."""
    from harmonia.store.bulk import BulkConnection
    from harmonia.store.database import Database

    phases = {}
    with BulkConnection(Database(url), write=False) as bulk:
        for table, label in (("load_batch", "kind"), ("cycle", "'cycle'")):
            rows = bulk.read(
                f"SELECT {label} AS name, started_at, finished_at FROM {table} ORDER BY id"
            ).to_pylist()
            for row in rows:  # the first of each: a second cycle run comes after
                phases.setdefault(row["name"], _elapsed(row["started_at"], row["finished_at"]))
    return phases


def _elapsed(started: Any, finished: Any) -> float:
    import datetime as dt

    def parse(value: Any) -> dt.datetime:
        return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))

    return (parse(finished) - parse(started)).total_seconds()


def cycle_stages(url: str, out: Path, engine: str | None = None) -> dict[str, float]:
    """Seconds per stage of ``run_cycle`` (its ``on_stage`` callbacks), run in this process.

    Run it on a copy of the store: the cycle it records would otherwise be
    the previous cycle of the measured one.
    """
    from harmonia.engine.cycle import run_cycle
    from harmonia.plugin.manager import PluginManager
    from harmonia.store.database import Database

    marks: list[tuple[str, float]] = []
    database = Database(url)
    started = time.perf_counter()
    run_cycle(
        database,
        PluginManager.discover().catalog(),
        country=COUNTRY,
        therapy_area=THERAPY_AREA,
        period=PERIOD,
        engine=engine,
        directory=out,
        actor="bench",
        on_stage=lambda name: marks.append((name, time.perf_counter())),
    )
    marks.append(("end", time.perf_counter()))
    database.engine.dispose()
    stages = {"stage: before first stage": marks[0][1] - started}
    for (name, at), (_, following) in itertools.pairwise(marks):
        stages[f"stage: {name}"] = following - at
    return stages


@contextmanager
def _duckdb() -> Iterator[Any]:
    import duckdb

    connection = duckdb.connect()
    try:
        yield connection
    finally:
        connection.close()


def _cycle_query(cycle_id: int = 0):
    from harmonia.engine.query import CycleQuery
    from harmonia.engine.spec import resolve
    from harmonia.plugin.manager import PluginManager

    spec = resolve(PluginManager.discover().catalog(), COUNTRY, THERAPY_AREA, PERIOD)
    return CycleQuery(spec, cycle_id)


def duckdb_segmentation_steps(store: Path, data: Path, repeat: int) -> dict[str, dict[str, float]]:
    """harmonia's cycle query and the baseline's features + rules, on inputs in DuckDB.

    harmonia's inputs are the slices of the store the cycle reads
    (``CycleQuery.input_queries``), the baseline's the three CSV files; both
    become native DuckDB tables first, then only the queries are timed, each
    materializing one row per customer.
    """
    from harmonia.engine.backends import read_inputs
    from harmonia.store.database import Database

    query = _cycle_query()
    calendar = baseline.Calendar(PERIOD)
    with _duckdb() as connection:
        read_inputs(Database(f"sqlite:///{store}"), query, connection)
        baseline.load_csv_tables(connection, data)
        harmonia_sql = "CREATE OR REPLACE TABLE h_assignments AS " + query.assignments(
            inputs_as_columns=True
        )
        baseline_sql = "CREATE OR REPLACE TABLE segmented AS " + baseline.segmentation_sql(calendar)
        timings = _best_of(
            repeat,
            {
                "harmonia": lambda: connection.execute(harmonia_sql),
                "baseline": lambda: connection.execute(baseline_sql),
            },
        )
        counts = [
            connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("h_assignments", "segmented")
        ]
    if counts[0] != counts[1]:
        raise BenchError(f"segmentation steps disagree on the population: {counts}")
    return timings


# --- correctness ------------------------------------------------------------------------------


def compare_target_lists(harmonia_csv: Path, baseline_csv: Path, examples: int = 5) -> dict:
    """Row by row, on the source customer id: which rows and columns disagree."""
    with _duckdb() as connection:
        for name, path in (("h", harmonia_csv), ("b", baseline_csv)):
            connection.execute(
                f"CREATE TABLE {name} AS SELECT * FROM read_csv('{path}', delim = ';', "
                "header = true, all_varchar = true)"
            )
        connection.execute(
            "CREATE TABLE joined AS SELECT h.source_id AS h_id, b.customer_id AS b_id, "
            + ", ".join(f"h.{c} AS h_{c}, b.{c} AS b_{c}" for c in (*KEY_COLUMNS, *OTHER_COLUMNS))
            + " FROM h FULL JOIN b ON h.source_id = b.customer_id"
        )

        def scalar(sql: str) -> int:
            return int(connection.execute(sql).fetchone()[0])

        def differs(column: str) -> str:
            if column == "cost":
                number = "CAST(REPLACE({}, ',', '.') AS DOUBLE)"
                return (
                    f"ABS({number.format('h_cost')} - {number.format('b_cost')}) > 0.005 "
                    "OR (h_cost IS NULL) <> (b_cost IS NULL)"
                )
            return f"h_{column} IS DISTINCT FROM b_{column}"

        matched = "h_id IS NOT NULL AND b_id IS NOT NULL"
        result: dict[str, Any] = {
            "harmonia_rows": scalar("SELECT COUNT(*) FROM h"),
            "baseline_rows": scalar("SELECT COUNT(*) FROM b"),
            "only_in_harmonia": scalar("SELECT COUNT(*) FROM joined WHERE b_id IS NULL"),
            "only_in_baseline": scalar("SELECT COUNT(*) FROM joined WHERE h_id IS NULL"),
            "mismatches": {},
            "examples": {},
        }
        for column in (*KEY_COLUMNS, *OTHER_COLUMNS):
            where = f"{matched} AND ({differs(column)})"
            count = scalar(f"SELECT COUNT(*) FROM joined WHERE {where}")
            if count:
                result["mismatches"][column] = count
                result["examples"][column] = connection.execute(
                    f"SELECT h_id, h_{column}, b_{column} FROM joined WHERE {where} "
                    f"ORDER BY h_id LIMIT {examples}"
                ).fetchall()
        for side, other in (("harmonia", "b_id"), ("baseline", "h_id")):
            own = "h_id" if side == "harmonia" else "b_id"
            rows = connection.execute(
                f"SELECT {own} FROM joined WHERE {other} IS NULL ORDER BY 1 LIMIT {examples}"
            ).fetchall()
            if rows:
                result["examples"][f"only_in_{side}"] = [row[0] for row in rows]
    key_mismatches = sum(result["mismatches"].get(c, 0) for c in KEY_COLUMNS)
    result["agree"] = (
        key_mismatches == 0 and result["only_in_harmonia"] == 0 and result["only_in_baseline"] == 0
    )
    return result


def compare_features(url: str, baseline_command: list[str], folder: Path, examples: int = 5):
    """Every customer's features and segments: harmonia's recorded inputs vs the baseline's.

    Runs the baseline once more (untimed) to get its features.
    """
    from harmonia.store.bulk import BulkConnection
    from harmonia.store.database import Database

    features_csv = folder / "baseline_features.csv"
    subprocess.run(
        [
            *baseline_command,
            "--out",
            str(folder / "baseline_again.csv"),
            "--features-out",
            str(features_csv),
        ],
        check=True,
        capture_output=True,
    )
    with BulkConnection(Database(url), write=False) as bulk:
        assignments = bulk.read(
            "SELECT cw.source_id, a.segment, a.needs, a.tier, a.inputs FROM assignment a "
            "JOIN crosswalk cw ON cw.customer_id = a.customer_id AND cw.system = 'csv' "
            "WHERE a.cycle_id = (SELECT MAX(id) FROM cycle WHERE status IN ('draft', 'published'))"
        )
    with _duckdb() as connection:
        connection.register("assignments", assignments)
        connection.execute(
            f"CREATE TABLE b AS SELECT * FROM read_csv('{features_csv}', delim = ';', "
            "header = true, all_varchar = true)"
        )
        extracted = ", ".join(
            f"CAST(json_extract_string(inputs, '$.{name}') AS VARCHAR) AS {name}"
            for name in FEATURES
        )
        connection.execute(
            f"CREATE TABLE h AS SELECT source_id, segment, needs, tier, {extracted} "
            "FROM assignments"
        )
        mismatches, samples = {}, {}
        for column in (*FEATURES, "segment", "needs", "tier"):
            if column == "consistency":
                test = "ABS(CAST(h.consistency AS DOUBLE) - CAST(b.consistency AS DOUBLE)) > 1e-9"
            else:
                test = f"h.{column} IS DISTINCT FROM b.{column}"
            join = "FROM h JOIN b ON b.customer_id = h.source_id"
            count = connection.execute(f"SELECT COUNT(*) {join} WHERE {test}").fetchone()[0]
            if count:
                mismatches[column] = int(count)
                samples[column] = connection.execute(
                    f"SELECT h.source_id, h.{column}, b.{column} {join} WHERE {test} "
                    f"ORDER BY 1 LIMIT {examples}"
                ).fetchall()
        customers = connection.execute("SELECT COUNT(*) FROM h").fetchone()[0]
    return {"customers": int(customers), "mismatches": mismatches, "examples": samples}


# --- PostgreSQL -------------------------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def fresh_postgres_database(
    url: str, name: str, keep: bool, template: str | None = None
) -> Iterator[str]:
    """A new database on the server of ``url`` (empty, or a copy of ``template``).

    It is dropped afterwards unless ``keep``.
    """
    import psycopg

    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield _with_database(url, name)
    finally:
        if not keep:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_postgres(customers: int, folder: Path, data: Path, args: argparse.Namespace) -> dict:
    """(a) on PostgreSQL (``--engine database``) against the baseline's SQL on the same server.

    When ``harmonia load`` fails on PostgreSQL, the failure is reported and the
    SQLite store of the same size is copied into the database instead, so the
    cycle can still be measured.
    """
    import psycopg

    harmonia = harmonia_command()
    sqlite_store = folder / "harmonia.db"
    folder = folder / "postgres"
    folder.mkdir(exist_ok=True)
    name = f"harmonia_bench_{os.getpid()}_{customers}"
    result: dict[str, Any] = {}
    with fresh_postgres_database(args.postgres, name, args.keep) as url:
        with psycopg.connect(url) as connection:
            result["server"] = connection.execute("SHOW server_version").fetchone()[0]
        _progress(f"PostgreSQL {result['server']}: (a) harmonia load")
        try:
            result["load"] = measure(
                [*harmonia, "--database", url, "load", str(data), "--country", COUNTRY], folder
            )
        except BenchError as error:
            result["load_error"] = str(error)
            _progress("harmonia load FAILED on PostgreSQL; copying the SQLite store instead")
            copy_store_to_postgres(sqlite_store, url)
        if args.stages:
            copy = f"{name}_stages"
            with fresh_postgres_database(
                args.postgres, copy, keep=False, template=name
            ) as url_copy:
                _progress("PostgreSQL: cycle stages, in process, on a copy of the store")
                result["stages"] = cycle_stages(url_copy, folder / "stages-out", "database")
        _progress("PostgreSQL: (a) harmonia cycle run --engine database")
        result["cycle"] = measure(
            [
                *harmonia,
                *("--database", url, "cycle", "run", "--country", COUNTRY, "--engine", "database"),
                *("--therapy-area", THERAPY_AREA, "--period", PERIOD, "--out", str(folder / "out")),
            ],
            folder,
        )
        _progress("PostgreSQL: (b) hand-written SQL in the same server")
        baseline_list = folder / "baseline_target_list.csv"
        command = [sys.executable, baseline.__file__, "--postgres", url]
        result["handwritten"] = measure([*command, "--out", str(baseline_list)], folder)
        result["handwritten_phases"] = json.loads(
            result["handwritten"].stdout.strip().splitlines()[-1]
        )
        _progress(f"PostgreSQL: segmentation step alone, {args.repeat} alternating runs")
        result["segmentation"] = postgres_segmentation_steps(url, args.repeat)
        comparison = compare_target_lists(_target_list(folder / "out"), baseline_list)
        if not comparison["agree"] or args.deep_check:
            comparison["features"] = compare_features(url, command, folder)
        result["comparison"] = comparison
        result["harmonia_phases"] = store_phases(url)
    return result


#: The store tables a cycle reads, parents first, copied by :func:`copy_store_to_postgres`.
STORE_TABLES = ("load_batch", "customer", "crosswalk", "identifier", "metric", "response", "answer")

#: PostgreSQL column types -> the Arrow types ADBC's binary COPY accepts for them.
_ARROW_TYPES = {
    "integer": "int32",
    "bigint": "int64",
    "double precision": "float64",
    "character varying": "string",
    "text": "string",
    "boolean": "bool",
    "timestamp without time zone": "timestamp[us]",
}


def copy_store_to_postgres(sqlite_store: Path, url: str) -> None:
    """Copy the store tables of a SQLite store into the (migrated) PostgreSQL store at ``url``."""
    import adbc_driver_postgresql.dbapi as adbc
    import pyarrow as pa

    from harmonia.store.bulk import BulkConnection
    from harmonia.store.database import Database
    from harmonia.store.facts import FACT_TABLES, facts_of

    facts = facts_of(Database(f"sqlite:///{sqlite_store}"))
    store = Database(url)
    store.upgrade()
    store.engine.dispose()  # no pooled connection may stay: the database is a template later
    with (
        BulkConnection(Database(f"sqlite:///{sqlite_store}"), write=False) as source,
        adbc.connect(url) as target,
        target.cursor() as cursor,
    ):
        cursor.execute(f"TRUNCATE {', '.join(STORE_TABLES)} RESTART IDENTITY CASCADE")
        for table in STORE_TABLES:
            cursor.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE "
                f"table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position"
            )
            columns = cursor.fetchall()
            schema = pa.schema(
                [(name, pa.type_for_alias(_ARROW_TYPES[kind])) for name, kind in columns]
            )
            sql = f"SELECT {', '.join(schema.names)} FROM {table}"
            rows = facts.read(source, sql) if table in FACT_TABLES else source.read(sql)
            cursor.adbc_ingest(table, rows.cast(schema), mode="append")
            if "id" in schema.names:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
        target.commit()
        for table in STORE_TABLES:
            cursor.execute(f"ANALYZE {table}")
        target.commit()


def postgres_segmentation_steps(url: str, repeat: int) -> dict[str, dict[str, float]]:
    """harmonia's cycle query (transpiled) and the hand-written SQL, inside PostgreSQL."""
    import psycopg

    from harmonia.engine.backends import POSTGRES_SETTINGS
    from harmonia.engine.dialects import transpile

    harmonia_sql = transpile(_cycle_query().assignments(), "postgresql")
    baseline_sql = baseline.segmentation_sql(baseline.Calendar(PERIOD))
    with psycopg.connect(url) as connection:
        # The session harmonia's cycle runs in; the baseline sets the same.
        for setting in ("SET jit = off", *POSTGRES_SETTINGS):
            connection.execute(setting)
        for name, sql in baseline.POSTGRES_VIEWS.items():
            connection.execute(f"CREATE TEMPORARY VIEW {name} AS {sql}")

        def materialize(table: str, sql: str) -> Callable[[], None]:
            def step() -> None:
                connection.execute(f"DROP TABLE IF EXISTS {table}")
                connection.execute(f"CREATE TEMPORARY TABLE {table} AS {sql}")

            return step

        timings = _best_of(
            repeat,
            {
                "harmonia": materialize("h_assignments", harmonia_sql),
                "baseline": materialize("segmented", baseline_sql),
            },
        )
        connection.rollback()
    return timings


# --- report -----------------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("inf")


def _verdict(value: float, target: float) -> str:
    return "meets" if value <= target else "misses"


def _row(label: str, run: Measured | None, note: str = "") -> str:
    if run is None:
        return f"  {label:<34} {'-':>9} {'-':>9}  {note}"
    load = f"load {run.load_before:.1f}->{run.load_after:.1f}"
    return f"  {label:<34} {run.seconds:>9.2f} {run.peak_mb:>9.0f}  {load}  {note}".rstrip()


def _phases(phases: dict[str, float], names: tuple[str, ...]) -> str:
    return ", ".join(f"{name} {phases[name]:.2f}" for name in names if name in phases)


def report_size(result: SizeResult) -> str:
    """The table of one size, as printed."""
    lines = [f"\n== {result.customers:,} customers (SQLite store, embedded DuckDB engine) =="]
    lines.append(f"  {'step':<34} {'wall s':>9} {'peak MB':>9}  notes")
    lines.append(_row("synthetic write (not compared)", result.synthetic))
    load_note = _phases(result.harmonia_phases, ("customers", "metrics", "responses"))
    lines.append(_row("(a) harmonia load", result.load, f"per file s: {load_note}"))
    lines.append(_row("(a) harmonia cycle run", result.cycle, _cycle_note(result.harmonia_phases)))
    total = result.harmonia_seconds
    lines.append(f"  {'(a) total':<34} {total:>9.2f} {result.harmonia_peak_mb:>9.0f}")
    phases = _phases(result.baseline_phases, ("read", "compute", "write"))
    lines.append(_row("(b) baseline (hand-written DuckDB)", result.baseline, f"s: {phases}"))
    if any(len(seconds) > 1 for seconds in result.runs.values()):
        shown = "; ".join(
            f"{step} " + ", ".join(f"{s:.2f}" for s in seconds)
            for step, seconds in result.runs.items()
        )
        lines.append(f"  best of {len(result.runs['load'])} runs shown; every run (s): {shown}")
    end_to_end = _ratio(total, result.baseline.seconds)
    target = ""
    if result.customers >= 1_000_000:
        target = f"  (target <= {TARGET_END_TO_END}: {_verdict(end_to_end, TARGET_END_TO_END)})"
    lines.append(f"  ratio a/b end to end: {end_to_end:.2f}x{target}")
    lines.extend(_again_lines(result))
    stages = {k: v for k, v in result.harmonia_phases.items() if k.startswith("stage: ")}
    if stages:
        lines.append(_stage_line(stages))
    lines.extend(_segmentation_lines(result.segmentation, "DuckDB"))
    if result.customers >= HUGE_SIZE:
        verdict = _verdict(result.harmonia_peak_mb, TARGET_PEAK_10M_MB)
        lines.append(f"  peak memory {result.harmonia_peak_mb:,.0f} MB (target <= 8 GB: {verdict})")
    lines.extend(_comparison_lines(result.comparison))
    if result.postgres:
        lines.extend(_postgres_lines(result.postgres))
    return "\n".join(lines)


def _again_lines(result: SizeResult) -> list[str]:
    """The same files loaded again, and a second cycle run, against their targets."""
    if result.reload is None or result.second_cycle is None:
        return []
    reload = _ratio(result.reload.seconds, result.load.seconds)
    second = _ratio(result.second_cycle.seconds, result.baseline.seconds)
    at_scale = result.customers >= 1_000_000

    def target(value: float, limit: float) -> str:
        return f"  (target <= {limit}: {_verdict(value, limit)})" if at_scale else ""

    return [
        _row("(a) load of the same files again", result.reload),
        f"  ratio reload / first load: {reload:.2f}x{target(reload, TARGET_RELOAD)}",
        _row("(a) second cycle run", result.second_cycle),
        f"  ratio second cycle run / baseline: {second:.2f}x{target(second, TARGET_SECOND_CYCLE)}",
    ]


def _stage_line(stages: dict[str, float]) -> str:
    shown = ", ".join(f"{name.removeprefix('stage: ')} {s:.2f}" for name, s in stages.items())
    return f"  cycle stages, in process (s): {shown}"


def _cycle_note(phases: dict[str, float]) -> str:
    """The cycle's own duration, as its record says (the rest is the command's start-up)."""
    seconds = phases.get("cycle")
    return f"cycle record: {seconds:.2f} s from open to close" if seconds is not None else ""


def _segmentation_lines(steps: dict[str, dict[str, float]], engine: str) -> list[str]:
    harmonia, handwritten = steps["harmonia"], steps["baseline"]
    ratio = _ratio(harmonia["best"], handwritten["best"])
    runs = len(harmonia["runs"])
    return [
        f"  segmentation step in {engine}, best of {runs} (median):",
        f"    harmonia CycleQuery.assignments()   {harmonia['best']:.3f} s "
        f"({harmonia['median']:.3f})",
        f"    baseline features + rules           {handwritten['best']:.3f} s "
        f"({handwritten['median']:.3f})",
        f"    ratio {ratio:.2f}x (target <= {TARGET_SEGMENTATION}: "
        f"{_verdict(ratio, TARGET_SEGMENTATION)})",
    ]


def _comparison_lines(comparison: dict[str, Any]) -> list[str]:
    rows = comparison["harmonia_rows"]
    if comparison["agree"]:
        lines = [
            f"  correctness: {rows:,} target-list rows; identical on (source id, "
            + ", ".join(KEY_COLUMNS)
            + ")"
        ]
    else:
        lines = [
            f"  CORRECTNESS FAILURE: harmonia {rows:,} rows, baseline "
            f"{comparison['baseline_rows']:,}; only in harmonia "
            f"{comparison['only_in_harmonia']:,}, only in baseline "
            f"{comparison['only_in_baseline']:,}"
        ]
    for column, count in comparison["mismatches"].items():
        severity = "MISMATCH" if column in KEY_COLUMNS else "differs"
        sample = comparison["examples"].get(column, [])[:3]
        lines.append(
            f"    {severity} {column}: {count:,} rows, e.g. (id, harmonia, baseline) {sample}"
        )
    for side in ("only_in_harmonia", "only_in_baseline"):
        if side in comparison["examples"]:
            lines.append(f"    {side}: {comparison['examples'][side]}")
    features = comparison.get("features")
    if features:
        if features["mismatches"]:
            for column, count in features["mismatches"].items():
                lines.append(
                    f"    per customer, {column} differs for {count:,} of "
                    f"{features['customers']:,}, e.g. (id, harmonia, baseline) "
                    f"{features['examples'][column][:3]}"
                )
        else:
            lines.append(
                f"  features: all {features['customers']:,} customers identical "
                f"({', '.join(FEATURES)}, segment, needs, tier)"
            )
    return lines


def _postgres_lines(postgres: dict[str, Any]) -> list[str]:
    lines = [
        f"  -- PostgreSQL {postgres.get('server', '?')} (fresh database, --engine database) --"
    ]
    if "load_error" in postgres:
        error = postgres["load_error"].strip().splitlines()
        reason = next((line for line in error if "ERROR" in line), error[-1] if error else "?")
        lines.append(f"  (a) harmonia load FAILED: {reason.strip()}")
        lines.append("      (the SQLite store was copied into PostgreSQL to measure the cycle)")
    if "error" in postgres:
        lines.append(f"  FAILED: {postgres['error']}")
        return lines
    load, cycle, handwritten = postgres.get("load"), postgres["cycle"], postgres["handwritten"]
    cycle_ratio = _ratio(cycle.seconds, handwritten.seconds)
    phases = _phases(postgres["handwritten_phases"], ("compute", "write"))
    lines += [
        _row("(a) harmonia load", load),
        _row("(a) harmonia cycle run", cycle, _cycle_note(postgres.get("harmonia_phases", {}))),
        _row("(b) hand-written SQL in the server", handwritten, f"s: {phases}"),
        f"  ratio cycle run / hand-written SQL: {cycle_ratio:.2f}x (target <= "
        f"{TARGET_POSTGRES}: {_verdict(cycle_ratio, TARGET_POSTGRES)})",
    ]
    if "stages" in postgres:
        lines.append(_stage_line(postgres["stages"]))
    lines.extend(_segmentation_lines(postgres["segmentation"], "PostgreSQL"))
    lines.extend(_comparison_lines(postgres["comparison"]))
    return lines


def report_machine(info: dict[str, Any]) -> str:
    return (
        f"machine: {info['cpu']}, {info['logical_cores']} logical / "
        f"{info['physical_cores']} physical cores, {info['ram_gb']} GB RAM, {info['os']}\n"
        f"python {info['python']}, duckdb {info['duckdb']}, sqlite {info['sqlite']} (ADBC), "
        f"harmonia {info['harmonia']}\n"
        f"byte-compiled as a wheel install is: {', '.join(info.get('byte_compiled', [])) or 'none'}\n"
        f"at start: {info['uptime']}"
    )


def _succeeded(result: SizeResult) -> bool:
    """Every target list agrees and every step ran."""
    checks = [result.comparison]
    if result.postgres:
        checks.append(result.postgres.get("comparison", {}))
    failed_steps = {"error", "load_error"} & set(result.postgres)
    return not failed_steps and all(check.get("agree") for check in checks)


# --- command line -----------------------------------------------------------------------------


def _size(text: str) -> int:
    """``20000``, ``100k``, ``1M`` or ``1_000_000``."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale > 1 else text
    try:
        value = int(float(number) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 100k or 1M") from None
    if value < 1:
        raise argparse.ArgumentTypeError("a size is at least 1 customer")
    return value


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Sizes accept suffixes: 20000, 100k, 1M.",
    )
    parser.add_argument(
        "--sizes", nargs="+", type=_size, help="universe sizes (default: 100k 1M; with --huge 10M)"
    )
    parser.add_argument("--huge", action="store_true", help="add 10M customers")
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="end-to-end runs of (a) and (b), best kept (default: 1; 3 on a busy machine)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each segmentation step (default: 3)"
    )
    parser.add_argument("--postgres", metavar="URL", help="also run on this PostgreSQL server")
    parser.add_argument(
        "--stages", action="store_true", help="also time the cycle's stages, in process"
    )
    parser.add_argument(
        "--deep-check",
        action="store_true",
        help="compare every customer's features even when the target lists agree",
    )
    parser.add_argument("--workdir", type=Path, help="work directory (default: a new one in /tmp)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory and PostgreSQL databases"
    )
    parser.add_argument(
        "--json", nargs="?", const="-", metavar="PATH", help="dump the results (to stdout: -)"
    )
    args = parser.parse_args(argv)
    args.sizes = args.sizes or [*DEFAULT_SIZES, *([HUGE_SIZE] if args.huge else [])]
    if args.huge and HUGE_SIZE not in args.sizes:
        args.sizes.append(HUGE_SIZE)
    if args.repeat < 1 or args.runs < 1:
        parser.error("--runs and --repeat are at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="harmonia-bench-", dir="/tmp"))
    workdir.mkdir(parents=True, exist_ok=True)
    info = machine()
    info["byte_compiled"] = byte_compile()
    text = sys.stderr if args.json == "-" else sys.stdout
    print(report_machine(info), file=text, flush=True)
    results: list[SizeResult] = []
    failed = False
    try:
        for customers in args.sizes:
            result = bench_size(customers, workdir / f"n{customers}", args)
            results.append(result)
            failed |= not _succeeded(result)
            print(report_size(result), file=text, flush=True)
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        failed = True
    info["uptime_at_end"] = _uptime()
    print(f"\nat end: {info['uptime_at_end']}", file=text)
    if args.json:
        dump = json.dumps({"machine": info, "sizes": [asdict(r) for r in results]}, indent=2)
        if args.json == "-":
            print(dump)
        else:
            Path(args.json).write_text(dump + "\n")
    if args.keep or failed:
        print(f"work directory kept: {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        print("FAILED: see the failures and correctness lines above", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
