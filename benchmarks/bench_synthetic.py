"""Benchmark: the synthetic universe generator against a hand-written floor.

Replaces a test that timed 200k customers (a timed test fails on a busy
machine and proves nothing on an idle one). For each size, in one run and
alternately ``--repeat`` times:

* **harmonia-synthetic**: ``generate(n)`` with the installed oncology
  questionnaire and the French identifier schemes, every batch consumed;
* **the floor**: the same number of rows of each kind made by hand with
  numpy and pyarrow from random numbers and fixed strings (no realism, no
  identifiers with check digits, no questionnaire logic), the least any
  generator of these tables must do.

Prints the best and median seconds of both, rows per second and the ratio.
Shared machine: compare ratios, not seconds. Example::

    python benchmarks/bench_synthetic.py --sizes 200k
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable


def _size(text: str) -> int:
    text = text.lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * factor)


def harmonia_rows(customers: int) -> dict[str, int]:
    """Generate the universe with the installed packs; the rows of each kind."""
    from harmonia import IdentifierScheme, Questionnaire
    from harmonia.plugin.manager import PluginManager
    from harmonia_synthetic import generate

    catalog = PluginManager.discover().catalog()
    questionnaires: list[Questionnaire] = [
        q for (qid, _), q in catalog.questionnaires.items() if qid == "oncology-profile"
    ]
    newest = max(questionnaires, key=lambda q: q.version) if questionnaires else None
    schemes: list[IdentifierScheme] = [
        catalog.identifier_schemes[name]
        for name in ("RPPS", "FINESS")
        if name in catalog.identifier_schemes
    ]
    rows: dict[str, int] = {}
    for batch in generate(customers, questionnaire=newest, identifier_schemes=schemes):
        rows[batch.kind] = rows.get(batch.kind, 0) + batch.table.num_rows
    return rows


def floor_rows(shape: dict[str, int]) -> dict[str, int]:
    """Tables of the same row counts and column counts, filled by hand."""
    import numpy as np
    import pyarrow as pa

    generator = np.random.default_rng(42)
    columns = {"customers": 11, "metrics": 5, "responses": 7}
    rows = {}
    for kind, count in shape.items():
        numbers = generator.random(count)
        ids = pa.array(np.arange(count)).cast(pa.string())
        text = pa.array(numbers).cast(pa.string())
        table = pa.table({f"c{i}": ids if i == 0 else text for i in range(columns[kind])})
        rows[kind] = table.num_rows
    return rows


def _timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["200k"], help="customers, e.g. 200k 1M")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each")
    arguments = parser.parse_args()
    for size in map(_size, arguments.sizes):
        shape = harmonia_rows(size)  # also warms imports and the catalog
        times: dict[str, list[float]] = {"harmonia": [], "floor": []}
        for _ in range(arguments.repeat):
            times["harmonia"].append(_timed(lambda size=size: harmonia_rows(size)))
            times["floor"].append(_timed(lambda shape=shape: floor_rows(shape)))
        total = sum(shape.values())
        print(
            f"== {size:,} customers: {total:,} rows ({', '.join(f'{k} {v:,}' for k, v in shape.items())})"
        )
        for name, runs in times.items():
            best = min(runs)
            print(
                f"  {name:<9} best {best:7.3f} s (median {statistics.median(runs):.3f}), "
                f"{total / best:,.0f} rows/s"
            )
        ratio = min(times["harmonia"]) / min(times["floor"])
        print(f"  ratio harmonia / floor: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
