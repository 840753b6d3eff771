"""Planning with the field force the store holds: the roster's reps, the alignment's territories.

The field-involved Belgian market (``field_market``): T1 holds C01-C04 and
C05 on its customer record, but the 2027-H1 alignment moves C05 to T2.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import field_market
import pytest
import tiny_market

from harmonia import Harmonia
from harmonia.plugin.manager import PluginManager
from harmonia.strategy.operations import field_force


@pytest.fixture
def app(
    register_pack: Callable[..., Any],
    harmonia_plugins: PluginManager,
    harmonia_database: str,
    tmp_path: Path,
) -> Harmonia:
    """The Belgian universe and field force loaded; the roster puts both reps on T2,
    so T1 (C01-C04, whose strategies plan calls) is vacant."""
    register_pack(tiny_market, name="tiny", version="1.0")
    register_pack(field_market, name="field", version="1.0")
    app = Harmonia(harmonia_database, harmonia_plugins.catalog(), actor="analyst")
    data = field_market.write_universe(tmp_path / "data")
    force = tmp_path / "force"
    field_market.write_field_force(force)
    roster = field_market.ROSTER.replace("rita;Rita Rep;rep;T1", "rita;Rita Rep;rep;T2")
    (force / "roster.csv").write_text(roster, encoding="utf-8")
    for folder in (data, force):
        results = app.loads.run(app.loads.plan([folder]), country="BE")
        assert all(result.rows_quarantined == 0 for result in results)
    return app


def _customer_ids(app: Harmonia) -> dict[int, str]:
    from harmonia.store.bulk import BulkConnection

    with BulkConnection(app.database, write=False) as bulk:
        rows = bulk.read("SELECT customer_id, source_id FROM crosswalk").to_pylist()
    return {row["customer_id"]: row["source_id"] for row in rows}


def test_the_roster_gives_each_territory_its_reps_and_the_alignment_its_customers(
    app: Harmonia, tmp_path: Path
) -> None:
    cycle = field_market.run(app, tmp_path)
    result = app.strategy.plan([cycle], save=False)
    assert result.capacity.field_force.source == "the roster of BE (2 reps on 2 territories)"
    territories = {row["territory"]: row for row in result.plan.territories.to_pylist()}
    assert territories["T2"]["reps"] == 2.0
    # 2 reps x 220 days x 8 calls a day x half a year
    assert territories["T2"]["calls_capacity"] == 1760
    assert (territories["T1"]["reps"], territories["T1"]["calls_capacity"]) == (0.0, 0)
    names = _customer_ids(app)
    placed = {names[row["customer_id"]]: row["territory"] for row in result.plan.goals.to_pylist()}
    assert placed["C05"] == "T2"  # the alignment of 2027-H1, not the customer record's T1
    assert placed["C01"] == "T1"
    # a vacant territory with targeted customers is named, with where to give it reps
    (short,) = result.plan.shortfalls
    assert short.startswith("territory T1 has no reps")
    assert "the roster" in short


def test_a_capacity_file_overrides_the_roster_and_no_roster_falls_back(
    app: Harmonia, tmp_path: Path
) -> None:
    from harmonia.strategy.universe import planned_cycles

    cycle = field_market.run(app, tmp_path)
    cycles = planned_cycles(app.database, app.catalog, [cycle])
    capacity = tmp_path / "capacity.csv"
    capacity.write_text("territory;reps\nT2;3\n", encoding="utf-8")
    from_file = field_force(app.database, cycles, capacity)
    assert from_file.of(["T1", "T2"]).tolist() == [1.0, 3.0]  # T1 takes the country default
    from harmonia.store.bulk import BulkConnection

    with BulkConnection(app.database) as bulk:
        bulk.execute("DELETE FROM roster")
    fallback = field_force(app.database, cycles, None)
    assert fallback.source == "the country's reps_per_territory"
    assert fallback.of(["T1", "T2"]).tolist() == [1.0, 1.0]
