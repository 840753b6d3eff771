"""A market that plans its cycles' calls within capacity (``call_plan = "capacity"``).

The tiny market with 0.008 reps a territory: 0.008 x 220 days x 8 calls x half
a year = 7 face-to-face calls in T1 (C01 champion, C02 grow, C03 and C04
develop, C05 maintain), fewer than the strategies' fixed frequencies ask.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import attrs
import pytest
import tiny_market
from helpers import tiny_catalog

from harmonia import Harmonia
from harmonia.engine.cycle import run_cycle
from harmonia.errors import ConfigError
from harmonia.plugin.catalog import Catalog as Plugins
from harmonia.plugin.manager import PluginManager, module_pack
from harmonia.store import Database
from harmonia.strategy.operations import plan_cycles, saved_plan


def _capacity_market(**changes: object) -> Plugins:
    profile = tiny_catalog().country_profiles["NL"]
    parameters = {**profile.parameters, "reps_per_territory": 0.008}
    changed = attrs.evolve(profile, parameters=parameters, **changes)
    hooks = {n: getattr(tiny_market, n) for n in dir(tiny_market) if n.startswith("harmonia_")}
    hooks["harmonia_country_profiles"] = lambda: [changed]
    manager = PluginManager(strict=True)
    manager.load_builtins()
    manager.register(module_pack("tiny", **hooks), distribution="test-tiny")
    return manager.catalog()


def _target_list(result) -> dict[str, dict[str, str]]:
    (path,) = [Path(w.location) for w in result.written if w.output == "target_list"]
    with path.open(encoding="utf-8") as handle:
        return {row["source_id"]: row for row in csv.DictReader(handle, delimiter=";")}


def _plan_ids(app: Harmonia) -> list[int]:
    from harmonia.store.bulk import BulkConnection

    with BulkConnection(app.database, write=False) as bulk:
        return sorted(bulk.read("SELECT id FROM strategy_plan").column("id").to_pylist())


def test_the_cycle_plans_its_calls_within_capacity(universe: str, tmp_path: Path) -> None:
    app = Harmonia(universe, _capacity_market(call_plan="capacity"), actor="analyst")
    result = app.cycles.run(
        country="NL", therapy_area="cardiology", period="2027-H1", directory=tmp_path / "out"
    )
    planned = json.loads(result.cycle.summary)["call_plan"]
    assert planned["method"].startswith("greedy marginal allocation")
    assert planned["capacity"] == "the country's reps_per_territory"
    targets = _target_list(result)
    # T1's 7 calls, not the fixed frequencies: split where they earn most
    t1 = [row for row in targets.values() if row["territory"] == "T1"]
    assert sum(int(row["face_to_face"]) for row in t1) == 7
    # the target list is the saved plan, customer by customer
    goals = saved_plan(app.database, app.catalog, planned["plan"]).goals.to_pylist()
    by_id = {str(g["customer_id"]): g for g in goals}
    for row in targets.values():
        goal = by_id[row["harmonia_id"]]
        assert int(row["face_to_face"]) == goal["face_to_face"]
        assert float(row["cost"].replace(",", ".")) == pytest.approx(goal["cost"] / 100)
    # the summary per segment adds the plan up
    segments = {row["segment"]: row for row in result.summary}
    assert sum(row["contacts"] for row in segments.values()) == sum(g["contacts"] for g in goals)
    assert segments["champion"]["expected_revenue"] == pytest.approx(
        sum(g["revenue"] for g in goals if g["segment"] == "champion") / 100
    )
    # the same plan as `strategy plan` makes of the cycle
    again = plan_cycles(app.database, app.catalog, [result.cycle.id], save=False)
    assert again.plan.goals["face_to_face"].to_pylist() == [g["face_to_face"] for g in goals]
    # a publish whose sink fails saves no plan (the plan is saved after the outputs)
    plans = _plan_ids(app)
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("", encoding="utf-8")
    with pytest.raises(Exception):  # noqa: B017 (whatever the sink raises)
        app.refinement.publish(result.cycle.id, directory=blocked / "out")
    assert _plan_ids(app) == plans
    # publishing plans the final segments again, within the same capacity, and the
    # cycle's summary names the plan that went out
    published = app.refinement.publish(result.cycle.id, directory=tmp_path / "published")
    assert _target_list(published) == targets
    latest = json.loads(app.refinement.cycle(result.cycle.id).summary)["call_plan"]["plan"]
    assert latest == max(_plan_ids(app)) and latest != planned["plan"]


def test_the_default_plans_fixed_frequencies_and_the_planner_is_required(
    universe: str, tmp_path: Path
) -> None:
    fixed = Harmonia(universe, _capacity_market(), actor="analyst").cycles.run(
        country="NL", therapy_area="cardiology", period="2027-H1", directory=tmp_path / "a"
    )
    assert "call_plan" not in json.loads(fixed.cycle.summary)
    t1 = [row for row in _target_list(fixed).values() if row["territory"] == "T1"]
    assert sum(int(row["face_to_face"]) for row in t1) > 7  # capacity is not looked at
    with pytest.raises(ConfigError, match="plans its cycles' calls within capacity"):
        run_cycle(
            Database(universe),
            _capacity_market(call_plan="capacity"),
            country="NL",
            therapy_area="cardiology",
            period="2027-H1",
            directory=tmp_path / "b",
        )
