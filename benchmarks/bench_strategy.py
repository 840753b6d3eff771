"""How fast call plans, pro forma and scenarios are, against the hand-written baseline.

For one universe size, in one run (a script, not a test):

1. writes a synthetic French oncology universe, loads it and runs the
   2027-H1 cycle as a user does (``harmonia cycle run``, timed: *one cycle run*);
2. runs the hand-written DuckDB baseline (``benchmarks/baseline_duckdb.py``)
   over the same files: *the baseline's whole job*;
3. **planning**, in process on the cycle's universe already in DuckDB: the
   allocation within capacity (every territory, face-to-face, e-mail budget)
   and the pro forma, best of ``--repeat``; and the same as a user runs it,
   reading the store included (``harmonia strategy plan 1 --dry-run``);
4. **a scenario of five variants** (reps +10 %, reps -10 %, the digital-first
   strategy, response x0.8, a potential-decile threshold that segments the
   cycle again) as a user runs it (``harmonia scenario 1 --file ...``);
5. checks the plan: no territory over capacity, pro forma rows adding up to
   the portfolio to the cent.

Targets (issue 13): planning <= 1.0x the baseline's whole job; the scenario
<= 5x one cycle run. Prints a table and the figures as JSON.

    python benchmarks/bench_strategy.py --customers 100k
    python benchmarks/bench_strategy.py --customers 1M --workdir /tmp/bench-strategy
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline_duckdb as baseline  # a sibling script, not a package
from bench_cycle import (  # the same measuring, inputs and machine description
    COUNTRY,
    PERIOD,
    SEED,
    THERAPY_AREA,
    Measured,
    harmonia_command,
    machine,
    measure,
)

TARGET_PLANNING = 1.0  # planning / the baseline's whole job
TARGET_SCENARIO = 5.0  # five variants / one cycle run

VARIANTS = """
[[variants]]
name = "reps +10%"
reps = "+10%"

[[variants]]
name = "reps -10%"
reps = "-10%"

[[variants]]
name = "digital-first"
strategy_variant = "digital-first"

[[variants]]
name = "response x0.8"
response_scale = 0.8

[[variants]]
name = "high potential from decile 9"
matrix = [{ rows = [[9, 10], [4, 8], [1, 3]] }]
"""

BUDGET = "email=250000"


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def in_process_planning(store: Path, repeat: int) -> dict[str, Any]:
    """Reading the universe, then allocation + pro forma timed alone, best of ``repeat``."""
    from harmonia.plugin.manager import PluginManager
    from harmonia.store import Database
    from harmonia.strategy.capacity import Capacity, parse_budgets
    from harmonia.strategy.operations import field_force
    from harmonia.strategy.plan import make_plan
    from harmonia.strategy.proforma import pro_forma
    from harmonia.strategy.universe import open_universe, planned_cycles

    database = Database(f"sqlite:///{store}")
    plugins = PluginManager.discover().catalog()
    started = time.perf_counter()
    cycles = planned_cycles(database, plugins, [1])
    connection = open_universe(database, cycles)
    reading = time.perf_counter() - started
    capacity = Capacity(field_force(database, cycles, None), parse_budgets([BUDGET]))
    allocation, forma_seconds = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        plan = make_plan(connection, cycles, capacity)
        allocation.append(time.perf_counter() - started)
        started = time.perf_counter()
        forma = pro_forma(connection, plan)
        forma_seconds.append(time.perf_counter() - started)
    units = connection.sql("SELECT COUNT(*) FROM plan_units").fetchall()[0][0]
    connection.close()
    return {
        "reading": reading,
        "allocation": min(allocation),
        "pro_forma": min(forma_seconds),
        "planning": min(a + f for a, f in zip(allocation, forma_seconds, strict=True)),
        "units": int(units),
        "territories": plan.territories.num_rows,
        "checks": check_plan(plan, forma),
    }


def check_plan(plan: Any, forma: Any) -> dict[str, Any]:
    territories = plan.territories.to_pylist()
    over = [t["territory"] for t in territories if t["calls_planned"] > t["calls_capacity"]]
    portfolio = forma.portfolio.to_pylist()[0]
    adds_up = all(
        sum(row[column] for row in rows) == portfolio[column]
        for rows in (forma.segments.to_pylist(), forma.territories.to_pylist())
        for column in ("customers", "contacts", "cost", "revenue", "profit")
    )
    budget = plan.budgets.to_pylist()
    return {
        "territories_over_capacity": over,
        "pro_forma_adds_up": adds_up,
        "calls_planned": sum(t["calls_planned"] for t in territories),
        "calls_capacity": sum(t["calls_capacity"] for t in territories),
        "email_budget_used": budget[0]["used"] / 100 if budget else None,
    }


def run(customers: int, folder: Path, repeat: int) -> dict[str, Any]:
    harmonia = harmonia_command()
    data, store = folder / "data", folder / "harmonia.db"
    for stale in folder.glob("harmonia.db*"):
        stale.unlink()
    _progress(f"{customers:,} customers: synthetic inputs")
    if not data.exists():
        measure(
            [
                *harmonia,
                *("synthetic", "write", "--customers", str(customers), "--seed", str(SEED)),
                *("--country", COUNTRY, "--therapy-area", THERAPY_AREA, "--period", PERIOD),
                *("--out", str(data)),
            ],
            folder,
        )
    _progress("harmonia load")
    measure([*harmonia, "--database", str(store), "load", str(data), "--country", COUNTRY], folder)
    _progress("one cycle run")
    cycle = measure(
        [
            *harmonia,
            *("--database", str(store), "cycle", "run", "--country", COUNTRY),
            *("--therapy-area", THERAPY_AREA, "--period", PERIOD, "--out", str(folder / "out")),
        ],
        folder,
    )
    _progress("the hand-written DuckDB baseline")
    handwritten = measure(
        [sys.executable, baseline.__file__, str(data), "--out", str(folder / "baseline.csv")],
        folder,
    )
    _progress(f"planning in process, best of {repeat}")
    planning = in_process_planning(store, repeat)
    _progress("harmonia strategy plan --dry-run")
    plan = measure(
        [
            *harmonia,
            "--database",
            str(store),
            "strategy",
            "plan",
            "1",
            "--dry-run",
            "--json",
            "--budget",
            BUDGET,
        ],
        folder,
    )
    variants = folder / "variants.toml"
    variants.write_text(VARIANTS, encoding="utf-8")
    _progress("harmonia scenario (five variants)")
    scenario = measure(
        [
            *harmonia,
            "--database",
            str(store),
            "scenario",
            "1",
            "--file",
            str(variants),
            "--json",
            "--budget",
            BUDGET,
        ],
        folder,
    )
    outcome = json.loads(scenario.stdout)
    return {
        "customers": customers,
        "cycle_run": _figures(cycle),
        "baseline": _figures(handwritten),
        "planning": planning,
        "plan_command": _figures(plan),
        "scenario_command": _figures(scenario),
        "scenario_variants": {
            v["name"]: {"seconds": v["seconds"], "profit_difference": v["difference"]["profit"]}
            for v in outcome["variants"]
        },
        "ratios": {
            "planning / baseline": planning["planning"] / handwritten.seconds,
            "plan command / baseline": plan.seconds / handwritten.seconds,
            "scenario / cycle run": scenario.seconds / cycle.seconds,
        },
    }


def _figures(measured: Measured) -> dict[str, float]:
    return {
        "seconds": round(measured.seconds, 3),
        "peak_mb": round(measured.peak_mb),
        "load_before": measured.load_before,
        "load_after": measured.load_after,
    }


def report(result: dict[str, Any]) -> str:
    p, r = result["planning"], result["ratios"]
    lines = [
        f"{result['customers']:,} customers, {p['territories']:,} territories, "
        f"{p['units']:,} plans",
        f"one cycle run (harmonia cycle run)        {result['cycle_run']['seconds']:8.2f} s",
        f"hand-written DuckDB baseline, whole job   {result['baseline']['seconds']:8.2f} s",
        f"planning: allocation {p['allocation']:.2f} s + pro forma {p['pro_forma']:.2f} s "
        f"= {p['planning']:.2f} s  -> {r['planning / baseline']:.2f}x the baseline "
        f"(target <= {TARGET_PLANNING}x)",
        f"  reading the cycle's universe from the store: {p['reading']:.2f} s",
        f"harmonia strategy plan --dry-run          {result['plan_command']['seconds']:8.2f} s "
        f"-> {r['plan command / baseline']:.2f}x the baseline",
        f"harmonia scenario, five variants          {result['scenario_command']['seconds']:8.2f} s "
        f"-> {r['scenario / cycle run']:.2f}x one cycle run (target <= {TARGET_SCENARIO}x)",
        "  variants: "
        + ", ".join(f"{n} {v['seconds']:.2f} s" for n, v in result["scenario_variants"].items()),
        f"checks: {p['checks']}",
    ]
    return "\n".join(lines)


def _size(text: str) -> int:
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * factor)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=_size, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: a temp dir)")
    args = parser.parse_args(argv)
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="harmonia-bench-strategy-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args.customers, folder, args.repeat)
    finally:
        if args.workdir is None:
            shutil.rmtree(folder, ignore_errors=True)
    result["machine"] = machine()
    print(report(result))
    print(json.dumps(result, default=str))
    checks = result["planning"]["checks"]
    return 0 if checks["pro_forma_adds_up"] and not checks["territories_over_capacity"] else 1


if __name__ == "__main__":
    sys.exit(main())
