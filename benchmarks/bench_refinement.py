"""Benchmark: a field refinement round at scale (issue 12, "Scale and speed").

One run, on a fresh SQLite store:

1. set up (not the measured part): a synthetic FR oncology universe
   (``harmonia synthetic write``), loaded, its 2027-H1 cycle run; customers
   spread over ``--territories`` territories (20 regions, 10 districts each);
2. **load the field force** (territories and roster CSV, through the loader);
3. **open feedback**: freeze every customer's territory and the policy;
4. **submit** ``--requests`` requests (reps on their own territory, one step
   up or down, reasons of the FR policy, some outside it), checked against
   the policy and its auto rules and stored, in one batch; against a
   **baseline**: the same checks hand-written in DuckDB over the same tables
   in memory (no store), and the ratio; then ``--goals`` call goals (one more
   call for targeted customers of other reps, goal by goal against each
   territory's capacity), in one batch, under the policy with ``goal`` added;
5. **re-run and carry over**: the cycle is run again during feedback and the
   open requests are carried over to the new draft (the measured part);
6. **territory workbooks**: ``--workbooks`` of them (``all``: every territory)
   written from one proposal query (rows rendered in Arrow into a template,
   ``--jobs`` processes) and read back (python-calamine, ``--jobs``
   processes), the time per workbook, and projected for every territory when
   not all were written;
7. **decide** every pending request (the managers accept in bulk), **close**,
   **approve** and **publish** (accepted requests applied, target list written).

The load average is printed with the figures, and each step's CPU time (of
the writer processes too) beside its wall time: on a shared machine the wall
times are noisy and must be re-taken on a quiet one. Example::

    python benchmarks/bench_refinement.py --customers 1000000 --workbooks all --jobs 2
    python benchmarks/bench_refinement.py --customers 100000 --requests 2000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

COUNTRY, AREA, PERIOD = "FR", "oncology", "2027-H1"


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the --jobs writers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@contextmanager
def timed(label: str, figures: dict[str, float]):
    """Wall time, and CPU time: on a shared machine the wall time mostly measures the
    others' load."""
    started, cpu = time.perf_counter(), cpu_seconds()
    yield
    figures[label] = time.perf_counter() - started
    print(f"  {label:<34} {figures[label]:8.2f} s  (CPU {cpu_seconds() - cpu:7.2f} s)", flush=True)


def field_force(folder: Path, territories: int) -> Path:
    """territories.csv and roster.csv: 20 regions, 10 districts each, reps per territory."""
    folder.mkdir(parents=True, exist_ok=True)
    regions, districts = 20, 200
    units = ["territory;level;parent"]
    units += [f"R{r:02d};region;" for r in range(regions)]
    units += [f"D{d:03d};district;R{d % regions:02d}" for d in range(districts)]
    units += [f"T{t:04d};territory;D{t % districts:03d}" for t in range(territories)]
    people = ["person;role;unit;manager"]
    people += [f"rm{r:02d};manager;R{r:02d};" for r in range(regions)]
    people += [f"dm{d:03d};manager;D{d:03d};rm{d % regions:02d}" for d in range(districts)]
    people += [f"rep{t:04d};rep;T{t:04d};dm{t % districts:03d}" for t in range(territories)]
    (folder / "territories.csv").write_text("\n".join(units) + "\n", encoding="utf-8")
    (folder / "roster.csv").write_text("\n".join(people) + "\n", encoding="utf-8")
    return folder


def requests_table(scope: pa.Table, orders: list[str], reasons: list[str], count: int) -> pa.Table:
    """``count`` requests: reps on their own territory, mostly one step, a few two."""
    rng = np.random.default_rng(12)
    picked = scope.take(rng.choice(scope.num_rows, size=min(count, scope.num_rows), replace=False))
    segments = picked.column("segment").to_pylist()
    territories = picked.column("territory").to_pylist()
    values, people = [], []
    for segment, territory in zip(segments, territories, strict=True):
        at = orders.index(segment) if segment in orders else 0
        step = int(rng.choice([-1, 1, 2], p=[0.5, 0.45, 0.05]))
        values.append(orders[min(len(orders) - 1, max(0, at + step))])
        people.append("rep" + territory[1:])
    return pa.table(
        {
            "_row": pa.array(range(1, len(values) + 1), pa.int64()),
            "customer_id": picked.column("harmonia_id").cast(pa.int64()),
            "requester": people,
            "action": ["segment"] * len(values),
            "new_value": values,
            "reason": [reasons[i] for i in rng.integers(0, len(reasons), len(values))],
            "comment": [""] * len(values),
        }
    )


def goal_requests(scope: pa.Table, taken: pa.Array, reasons: list[str], count: int) -> pa.Table:
    """``count`` call goals: one call more for targeted customers not asked for already."""
    free = scope.filter(
        pc.and_(
            pc.equal(scope.column("target"), "yes"),
            pc.invert(pc.is_in(scope.column("harmonia_id").cast(pa.int64()), taken)),
        )
    )
    picked = free.slice(0, min(count, free.num_rows))
    return pa.table(
        {
            "_row": pa.array(range(1, picked.num_rows + 1), pa.int64()),
            "customer_id": picked.column("harmonia_id").cast(pa.int64()),
            "requester": ["rep" + t[1:] for t in picked.column("territory").to_pylist()],
            "action": ["goal"] * picked.num_rows,
            "new_value": [str(goal + 1) for goal in picked.column("goal").to_pylist()],
            "reason": [reasons[0]] * picked.num_rows,
            "comment": [""] * picked.num_rows,
        }
    )


def baseline(
    requests: pa.Table, scope: pa.Table, orders: list[str], reasons: list[str], share: float
) -> float:
    """The policy's main checks hand-written in DuckDB over in-memory tables; seconds."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    con.register("requests", requests)
    con.register("scope", scope.select(["harmonia_id", "territory", "segment"]))
    con.register("orders", pa.table({"value": orders, "position": list(range(len(orders)))}))
    con.register("reasons", pa.table({"reason": reasons}))
    con.execute(
        f"""
        WITH sized AS (SELECT territory, count(*) AS n FROM scope GROUP BY territory),
        joined AS (
            SELECT r.*, s.territory, s.segment, o1.position - o2.position AS steps,
                'rep' || substr(s.territory, 2) = r.requester AS own,
                r.reason IN (SELECT reason FROM reasons) AS known_reason
            FROM requests r JOIN scope s ON s.harmonia_id = r.customer_id
            JOIN orders o1 ON o1.value = s.segment JOIN orders o2 ON o2.value = r.new_value
        ), ranked AS (
            SELECT j.*, ROW_NUMBER() OVER (PARTITION BY j.territory ORDER BY j._row) AS nth,
                floor({share} * sized.n) AS allowed
            FROM joined j JOIN sized USING (territory)
        )
        SELECT _row, CASE WHEN NOT own THEN 'territory' WHEN abs(steps) > 1 THEN 'moves'
            WHEN NOT known_reason THEN 'reason' WHEN nth > allowed THEN 'share' ELSE 'ok' END
        FROM ranked
        """
    ).fetchall()
    con.close()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--territories", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument(
        "--workbooks",
        type=lambda text: None if text == "all" else int(text),
        default=20,
        help="How many territory workbooks to write and read back (all: every territory).",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="Processes writing and reading workbooks."
    )
    parser.add_argument("--goals", type=int, default=0, help="Call goals to submit too.")
    parser.add_argument("--keep", type=Path, help="Work in this folder (default: a temporary one).")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-refinement-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["HARMONIA_ACTOR"] = "analyst"
    figures: dict[str, float] = {}
    print(
        f"load average {os.getloadavg()}, {args.customers:,} customers, "
        f"{args.territories:,} territories, {args.requests:,} requests, in {folder}"
    )

    from harmonia import Harmonia
    from harmonia_excel.refinement import RefinementWorkbook, read_workbooks, write_workbooks

    data = folder / "data"
    if not data.exists():
        subprocess.run(
            [str(Path(sys.executable).parent / "harmonia"), "synthetic", "write", "--customers",
             str(args.customers), "--seed", "42", "--country", COUNTRY, "--therapy-area", AREA,
             "--period", PERIOD, "--out", str(data)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    database = folder / "harmonia.db"
    database.unlink(missing_ok=True)
    app = Harmonia.open(f"sqlite:///{database}")
    with timed("setup: load the universe", figures):
        app.loads.run(app.loads.plan([data]), country=COUNTRY)
    with timed("setup: run the cycle", figures):
        cycle = app.cycles.run(
            country=COUNTRY, therapy_area=AREA, period=PERIOD, directory=folder / "out"
        ).cycle.id
    with timed("load the field force", figures):
        app.loads.run(
            app.loads.plan([field_force(folder / "force", args.territories)]), country=COUNTRY
        )
    from sqlalchemy import text

    with app.database.engine.begin() as connection:  # setup: customers over the territories
        connection.execute(
            text(f"UPDATE customer SET territory = printf('T%04d', id % {args.territories})")
        )
    with timed("open feedback", figures):
        app.refinement.open_feedback(cycle)
    record = app.refinement.cycle(cycle)
    policy = app.refinement.policy(record)
    orders = app.refinement.orders(record)["segment"]
    scope = app.refinement.proposal(cycle)
    requests = requests_table(scope, orders, list(policy.reasons), args.requests)
    with timed(f"submit {requests.num_rows:,} requests", figures):
        submitted = app.refinement.submit(cycle, requests)
    figures["baseline"] = baseline(requests, scope, orders, list(policy.reasons), policy.max_share)
    print(
        f"  {'baseline: the checks in DuckDB':<34} {figures['baseline']:8.2f} s  "
        f"(ratio {figures[f'submit {requests.num_rows:,} requests'] / figures['baseline']:.1f}x)"
    )
    print(f"    outcomes: {submitted.counts()}")
    if args.goals:
        import attrs

        from harmonia.refinement.requests import submit

        goals = goal_requests(
            scope, requests.column("customer_id"), list(policy.reasons), args.goals
        )
        with_goals = attrs.evolve(policy, dimensions=(*policy.dimensions, "goal"))
        with timed(f"submit {goals.num_rows:,} call goals", figures):
            checked = submit(
                app.database, record, with_goals, app.refinement.orders(record), goals,
                targeted=app.refinement.targeted(record), goals=app.refinement.goals(record),
                capacity=app.refinement.capacity(record),
            )  # fmt: skip
        statuses = checked.column("status").to_pylist()
        print(f"    goals: { {s: statuses.count(s) for s in sorted(set(statuses))} }")
    # A re-run during feedback: the open requests move to the new draft (set-based).
    with timed("setup: re-run the cycle", figures):
        rerun = app.cycles.run(
            country=COUNTRY, therapy_area=AREA, period=PERIOD, directory=folder / "out"
        ).cycle.id
    with timed("carry over the open requests", figures):
        report = app.refinement.carry_over(cycle, rerun)
    print(f"    carry-over: {report.counts()}")
    cycle = rerun
    record = app.refinement.cycle(cycle)
    snapshot_opened = __import__("json").loads(record.snapshot)["feedback_opened_at"]
    with timed("proposal of every territory", figures):
        scope = app.refinement.proposal(cycle)
    territory = scope.column("territory")
    if args.workbooks is not None and args.workbooks < args.territories:
        last = sorted(set(territory.to_pylist()))[args.workbooks - 1]
        scope = scope.filter(pc.less_equal(territory, last))
    count = len(set(scope.column("territory").to_pylist()))
    write = f"write {count:,} workbooks ({args.jobs} jobs)"
    read = f"read {count:,} workbooks back ({args.jobs} jobs)"
    with timed(write, figures):
        books = write_workbooks(
            scope, lambda name: folder / "books" / f"{name}.xlsx",
            meta=RefinementWorkbook(cycle, "", snapshot_opened, "", ("segment",)),
            orders={"segment": orders}, moves=policy.moves, reasons=policy.reasons,
            language="fr", jobs=args.jobs,
        )  # fmt: skip
    with timed(read, figures):
        read_workbooks(books, jobs=args.jobs)
    print(
        f"    per workbook ({scope.num_rows / max(1, count):.0f} customers): write "
        f"{figures[write] / max(1, count) * 1000:.1f} ms, read "
        f"{figures[read] / max(1, count) * 1000:.1f} ms"
    )
    if count < args.territories:
        share = args.territories / max(1, count)
        print(
            f"    projected for {args.territories:,} territories: write "
            f"{figures[write] * share:.0f} s, read {figures[read] * share:.0f} s"
        )
    pending = [r.id for r in app.refinement.requests(cycle, statuses=["pending"])]
    with timed(f"decide {len(pending):,} pending (rm00..)", figures):
        by_region: dict[str, list[int]] = {}
        for r in app.refinement.requests(cycle, statuses=["pending"]):
            region = f"rm{int(r.territory[1:]) % 200 % 20:02d}"
            by_region.setdefault(region, []).append(r.id or 0)
        for manager, ids in by_region.items():
            app.refinement.decide(cycle, ids, "accept", manager=manager)
    with timed("close feedback + approve", figures):
        app.refinement.close_feedback(cycle)
        app.refinement.approve(cycle)
    with timed("publish", figures):
        published = app.refinement.publish(cycle, directory=folder / "final")
    print(f"    refined: {published.counts}, load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
