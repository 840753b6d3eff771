"""Call plans within capacity and their pro forma, over the tiny market's 2027-H1 cycle.

T1 holds C01 (champion), C02 (grow), C03 and C04 (develop), C05 (maintain);
T2 holds C06-C09 (maintain) and C10 (monitor, not targeted).
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import attrs
import numpy as np
import pytest
import tiny_market
from helpers import query, tiny_catalog, write

from harmonia.engine.cycle import run_cycle
from harmonia.errors import ConfigError, InputError
from harmonia.plugin.catalog import Catalog as Plugins
from harmonia.plugin.manager import PluginManager, module_pack
from harmonia.store import Database
from harmonia.strategy.curves import revenue
from harmonia.strategy.operations import plan_cycles
from harmonia.strategy.proforma import IDLE


@pytest.fixture
def planned(universe: str, tmp_path: Path):
    plugins = tiny_catalog()
    cycle = run_cycle(
        Database(universe),
        plugins,
        country="NL",
        therapy_area="cardiology",
        period="2027-H1",
        directory=tmp_path / "out",
    ).cycle
    return universe, plugins, cycle.id


def _capacity(tmp_path: Path, text: str) -> Path:
    return write(tmp_path / "capacity.csv", text)


def test_a_territory_short_of_calls_gives_them_where_they_earn_most(planned, tmp_path):
    url, plugins, cycle_id = planned
    # 0.008 reps x 220 days x 8 calls x half a year = 7 calls for T1; T2 keeps 1 rep.
    capacity = _capacity(tmp_path, "territory;reps\nT1;0,008\n")
    result = plan_cycles(Database(url), plugins, [cycle_id], capacity_file=capacity)
    goals = {row["customer_id"]: row for row in result.plan.goals.to_pylist()}
    ids = {
        row["source_id"]: row["customer_id"]
        for row in query(url, "SELECT source_id, customer_id FROM crosswalk")
    }
    champion, grow = goals[ids["C01"]], goals[ids["C02"]]
    # minimums: champion 1 (2 a year), grow 1 (min_calls), develop 1 each (fixed): 4 of 7
    assert goals[ids["C03"]]["face_to_face"] == goals[ids["C04"]]["face_to_face"] == 1
    assert champion["face_to_face"] + grow["face_to_face"] == 7 - 2
    # the best split of the 3 remaining calls, by brute force on the curves themselves
    strategies = {s.segment: s for s in plugins.engagement_strategies.values()}
    curve = {seg: strategies[seg].channels[0].response for seg in ("champion", "grow")}
    weight = {seg: goals[ids[c]]["weight"] for seg, c in (("champion", "C01"), ("grow", "C02"))}

    def profit(segment: str, calls: int) -> float:
        earned = weight[segment] * revenue(curve[segment], np.array([calls]), 0.5)[0]
        return 0.8 * earned - 100 * calls

    best = max(
        itertools.product(range(1, 11), range(1, 7)),
        key=lambda split: (
            profit("champion", split[0]) + profit("grow", split[1]) if sum(split) <= 5 else -np.inf
        ),
    )
    assert (champion["face_to_face"], grow["face_to_face"]) == best
    t1 = next(r for r in result.plan.territories.to_pylist() if r["territory"] == "T1")
    assert (t1["calls_capacity"], t1["calls_planned"], t1["calls_wanted"]) == (7, 7, 8)
    assert (t1["calls_unmet"], t1["minimum_calls_short"]) == (1, 0)
    # e-mails have no curve: the champion keeps the cycle's fixed 12
    assert champion["email"] == 12
    assert result.plan_id is not None
    stored = query(url, f"SELECT * FROM plan_goal WHERE plan_id = {result.plan_id}")
    assert len(stored) == 10
    assert sum(r["face_to_face"] for r in stored) == sum(g["face_to_face"] for g in goals.values())


def _with_parameters(**parameters: float) -> Plugins:
    """The tiny market with its country's parameters changed."""
    profile = tiny_catalog().country_profiles["NL"]
    changed = attrs.evolve(profile, parameters={**profile.parameters, **parameters})
    hooks = {n: getattr(tiny_market, n) for n in dir(tiny_market) if n.startswith("harmonia_")}
    hooks["harmonia_country_profiles"] = lambda: [changed]
    manager = PluginManager(strict=True)
    manager.load_builtins()
    manager.register(module_pack("tiny", **hooks), distribution="test-tiny")
    return manager.catalog()


def test_pro_forma_rows_add_up_exactly_to_the_portfolio(planned, tmp_path):
    url, plugins, cycle_id = planned
    capacity = _capacity(tmp_path, "territory,reps\nT1,0.01\nT2,0.003\n")
    plugins = _with_parameters(rep_cost=123457.0)  # a cost no segment split divides evenly
    cycle_id = run_cycle(
        Database(url),
        plugins,
        country="NL",
        therapy_area="cardiology",
        period="2027-H1",
        directory=tmp_path / "out2",
    ).cycle.id
    forma = plan_cycles(Database(url), plugins, [cycle_id], capacity_file=capacity).pro_forma
    portfolio = forma.portfolio.to_pylist()[0]
    for rows in (forma.segments.to_pylist(), forma.territories.to_pylist()):
        for column in (
            "customers",
            "contacts",
            "face_to_face",
            "contact_cost",
            "fixed_cost",
            "cost",
            "revenue",
            "gross_margin",
            "profit",
        ):
            assert sum(row[column] for row in rows) == portfolio[column], column
    # 0.013 reps x 123,457 a year, half a year
    assert portfolio["fixed_cost"] == Decimal("802.47")
    assert portfolio["customers"] == 10
    assert portfolio["profit"] == portfolio["gross_margin"] - portfolio["cost"]
    segments = {row["segment"]: row for row in forma.segments.to_pylist()}
    assert list(segments) == ["champion", "grow", "develop", "maintain", "monitor", IDLE]
    # T2 plans no calls (maintain is e-mail only): its reps' cost stays on a row of its own
    assert segments[IDLE]["fixed_cost"] == Decimal("185.19")  # 0.003 x 123,457 / 2


def test_zero_reps_is_a_shortfall_named_with_its_fix(planned, tmp_path):
    url, plugins, cycle_id = planned
    capacity = _capacity(tmp_path, "territory;reps\nT1;0\n")
    result = plan_cycles(Database(url), plugins, [cycle_id], capacity_file=capacity, save=False)
    assert result.plan_id is None
    (message,) = result.plan.shortfalls
    assert message.startswith("territory T1 has no reps: 4 minimum face-to-face calls")
    assert "capacity file" in message


def test_a_budget_below_the_minimum_plans_is_refused(planned):
    url, plugins, cycle_id = planned
    with pytest.raises(ConfigError) as caught:
        plan_cycles(Database(url), plugins, [cycle_id], budgets={"email": 10.0}, save=False)
    text = caught.value.render()
    assert "the email budget 10.00 is below what the minimum plans cost" in text
    assert "raise the budget to at least" in text
    with pytest.raises(ConfigError, match="no budget can be set for 'face_to_face'"):
        plan_cycles(Database(url), plugins, [cycle_id], budgets={"face_to_face": 1e6})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("territory;reps\nT1;-1\n", "row 2: reps '-1' of T1 is not a number of 0 or more"),
        ("territory;reps\nT1;1\nT1;2\n", "row 3: territory T1 is listed twice"),
        ("region;reps\nT1;1\n", "needs the columns territory and reps"),
    ],
)
def test_a_bad_capacity_file_says_which_row_and_how_to_fix_it(planned, tmp_path, text, message):
    url, plugins, cycle_id = planned
    with pytest.raises(InputError, match=message):
        plan_cycles(Database(url), plugins, [cycle_id], capacity_file=_capacity(tmp_path, text))


def test_two_therapy_areas_share_one_reps_time():
    """One customer, champion in two areas, in a territory of 6 calls: the calls go
    where they earn most, and both areas together stay within the territory."""
    import duckdb

    from harmonia.engine.spec import resolve
    from harmonia.store.models import Cycle
    from harmonia.strategy.capacity import Capacity, FieldForce
    from harmonia.strategy.plan import make_plan
    from harmonia.strategy.universe import PlannedCycle

    plugins = tiny_catalog()
    cardiology = resolve(plugins, "NL", "cardiology", "2027-H1")
    # a second area whose champions respond twice as strongly
    strong = {
        segment: attrs.evolve(
            strategy,
            channels=tuple(
                attrs.evolve(c, response=attrs.evolve(c.response, revenue_per_unit=2000))
                if c.response
                else c
                for c in strategy.channels
            ),
        )
        for segment, strategy in cardiology.strategies.items()
    }
    renal = attrs.evolve(cardiology, therapy_area="renal", strategies=strong)
    cycles = [
        PlannedCycle(
            Cycle(
                id=1,
                country="NL",
                therapy_area="cardiology",
                period="2027-H1",
                engine="duckdb",
                rule_set="tiny-core",
                rule_set_version="1",
                status="draft",
            ),
            cardiology,
        ),
        PlannedCycle(
            Cycle(
                id=2,
                country="NL",
                therapy_area="renal",
                period="2027-H1",
                engine="duckdb",
                rule_set="tiny-core",
                rule_set_version="1",
                status="draft",
            ),
            renal,
        ),
    ]
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE plan_units AS SELECT * FROM (VALUES "
        "(1, 'cardiology', 7, 'T1', 'champion', 1.0), (2, 'renal', 7, 'T1', 'champion', 1.0)) "
        "t(cycle_id, therapy_area, customer_id, territory, segment, weight)"
    )
    # 0.0069 reps x 220 days x 8 calls x half a year = 6.07: 6 calls
    plan = make_plan(connection, cycles, Capacity(FieldForce({"T1": 0.0069}, 0.0)))
    calls = {row["therapy_area"]: row["face_to_face"] for row in plan.goals.to_pylist()}
    assert sum(calls.values()) == 6
    curve = cardiology.strategies["champion"].channels[0].response

    def profit(revenue_per_unit: float, n: int) -> float:
        earned = revenue(attrs.evolve(curve, revenue_per_unit=revenue_per_unit), np.array([n]), 0.5)
        return 0.8 * float(earned[0]) - 100 * n

    best = max(
        ((a, b) for a in range(1, 11) for b in range(1, 11) if a + b <= 6),
        key=lambda split: profit(1000, split[0]) + profit(2000, split[1]),
    )
    assert (calls["cardiology"], calls["renal"]) == best
    assert calls["renal"] > calls["cardiology"]
    (territory,) = plan.territories.to_pylist()
    assert (territory["calls_capacity"], territory["calls_planned"]) == (6, 6)


def test_cycles_planned_together_must_share_a_market_and_period(planned, tmp_path):
    url, plugins, cycle_id = planned
    again = run_cycle(
        Database(url),
        plugins,
        country="NL",
        therapy_area="cardiology",
        period="2027-H1",
        directory=tmp_path / "again",
    ).cycle.id
    with pytest.raises(ConfigError, match="one per therapy area") as caught:
        plan_cycles(Database(url), plugins, [cycle_id, again], save=False)
    assert f"{cycle_id} (NL cardiology 2027-H1)" in caught.value.what
    from harmonia.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no cycle 99"):
        plan_cycles(Database(url), plugins, [99], save=False)


def test_the_lifecycle_decides_which_cycles_can_be_planned(planned, tmp_path):
    """A draft is planned (provisionally), a published cycle finally; a superseded or
    failed cycle is refused naming the cycle to plan instead, and a plan saved before
    its cycle was superseded stays readable."""
    from harmonia.store.transitions import move_cycle
    from harmonia.strategy.operations import saved_plan

    url, plugins, cycle_id = planned
    database = Database(url)
    draft = plan_cycles(database, plugins, [cycle_id])
    assert draft.notes == [
        f"cycle {cycle_id} is draft, not yet published: its segments may still change in "
        "field refinement; plan it again once it is published"
    ]
    again = run_cycle(
        database,
        plugins,
        country="NL",
        therapy_area="cardiology",
        period="2027-H1",
        directory=tmp_path / "again",
    ).cycle.id
    move_cycle(database, again, "published", actor="test", field_refinement=False)
    move_cycle(database, cycle_id, "superseded", actor="test", note=f"cycle {again} published")
    assert plan_cycles(database, plugins, [again], save=False).notes == []
    with pytest.raises(ConfigError) as caught:
        plan_cycles(database, plugins, [cycle_id], save=False)
    text = caught.value.render()
    assert f"cycle {cycle_id} is superseded: a newer cycle of its scope replaced it" in text
    assert f"plan cycle {again} (published), the usable cycle of NL cardiology 2027-H1" in text
    # the plan made on the draft is still read (for actuals) after it was superseded
    assert saved_plan(database, plugins, draft.plan_id).goals.num_rows == 10
    failed = run_cycle(
        database,
        plugins,
        country="NL",
        therapy_area="cardiology",
        period="2027-H1",
        directory=tmp_path / "third",
    ).cycle.id
    from harmonia.store.models import Cycle

    # (as the store's sweep leaves a run that died)
    with database.session() as session:
        record = session.get(Cycle, failed)
        record.status = "failed"
        session.add(record)
        session.commit()
    with pytest.raises(ConfigError, match=f"cycle {failed} is failed: its run failed") as caught:
        plan_cycles(database, plugins, [failed], save=False)
    assert f"plan cycle {again} (published)" in caught.value.render()


def test_stored_actuals_are_the_plan_customers_metrics_within_its_period(planned):
    """Calls of 2027-H1 (quarters, a month, the half-year) count; 2026's do not."""
    from harmonia.strategy.actual_store import stored_actuals
    from harmonia.strategy.universe import planned_cycles

    url, plugins, cycle_id = planned
    database = Database(url)
    result = plan_cycles(database, plugins, [cycle_id], save=False)
    cycles = planned_cycles(database, plugins, [cycle_id])
    activity, sales = stored_actuals(database, cycles, result.plan.goals)
    ids = {
        row["customer_id"]: row["source_id"]
        for row in query(url, "SELECT source_id, customer_id FROM crosswalk")
    }
    calls: dict[str, int] = {}
    for row in activity.to_pylist():
        assert row["channel"] == "face_to_face" and row["date"].startswith("2027-0")
        calls[ids[row["customer_id"]]] = calls.get(ids[row["customer_id"]], 0) + row["contacts"]
    assert calls == {
        "C01": 4, "C02": 1, "C03": 1, "C04": 2, "C05": 1, "C06": 0,
        "C07": 5, "C08": 1, "C09": 2, "C10": 1,
    }  # fmt: skip
    assert sales.num_rows == 0  # no revenue metric loaded
