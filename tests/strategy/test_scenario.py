"""Scenarios over the tiny market's 2027-H1 cycle: variants compared, nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import count_rows, tiny_catalog, write

from harmonia.definitions import structure
from harmonia.engine.cycle import run_cycle
from harmonia.errors import ConfigError, DefinitionError, NotFoundError
from harmonia.store import Database
from harmonia.strategy.capacity import Capacity, FieldForce
from harmonia.strategy.scenario import Variant, load_variants, quick_variants, run_scenario


@pytest.fixture
def cycle(universe: str, tmp_path: Path):
    plugins = tiny_catalog()
    record = run_cycle(
        Database(universe),
        plugins,
        country="NL",
        therapy_area="cardiology",
        period="2027-H1",
        directory=tmp_path / "out",
    ).cycle
    return universe, plugins, record.id


BASE = Capacity(FieldForce({"T1": 0.008}, 1.0))


def test_variants_change_segments_capacity_and_pro_forma_and_store_nothing(cycle, tmp_path):
    url, plugins, cycle_id = cycle
    path = write(
        tmp_path / "what-if.toml",
        """
        [[variants]]
        name = "wider champions"
        rules = [{ rule = "champion", when = "potential_q >= 2 AND adoption IN ('high', 'mid')" }]

        [[variants]]
        name = "e-mail budget"
        budgets = { email = 40 }
        """,
    )
    before = count_rows(url)
    variants = [*load_variants(path), *quick_variants(["+10%"], [], [0.5])]
    result = run_scenario(Database(url), plugins, [cycle_id], variants, BASE).as_json()
    assert count_rows(url) == before  # no cycle, assignment or plan was stored
    base, (wider, budget, reps, weaker) = result["base"], result["variants"]
    assert base["segments"] == {
        "cardiology champion": 1,
        "cardiology grow": 1,
        "cardiology develop": 2,
        "cardiology maintain": 5,
        "cardiology monitor": 1,
    }
    # C02 (top quartile, mid adoption) and C06 (second quartile, mid) become champions
    assert wider["segments"]["cardiology champion"] == 3
    assert wider["difference"]["segments"]["cardiology grow"] == -1
    assert wider["difference"]["segments"]["cardiology maintain"] == -1
    # T1's 7 calls are all used in the base; 10% more of 0.008 reps is still 7 calls
    assert (base["calls_capacity"], base["calls_planned"]) == (7 + 880, 7)
    assert reps["calls_capacity"] == 7 + 968  # T2's rep: 1.1 x 880
    # e-mails have no curve: their fixed 22 (champion 12, maintain 5 x 2) fit a budget of 40
    assert budget["difference"]["cost"] == 0 and budget["contacts"] == base["contacts"]
    assert weaker["revenue"] < base["revenue"]
    assert weaker["name"] == "response x0.5"


def test_bad_variants_are_refused_with_what_to_fix(cycle, tmp_path):
    url, plugins, cycle_id = cycle
    bad = write(tmp_path / "bad.toml", '[[variants]]\nname = "x"\nreps = 2\nbudget = 1\n')
    with pytest.raises(DefinitionError) as caught:
        load_variants(bad)
    assert "variants[0].reps" in caught.value.render()
    assert "variants[0]: extra fields found (budget)" in caught.value.render()
    database = Database(url)
    unknown_rule = structure(
        {"name": "typo", "rules": [{"rule": "champ", "when": "TRUE"}]}, Variant, where="test"
    )
    with pytest.raises(ConfigError, match=r"no rule segment\.champ ") as caught:
        run_scenario(database, plugins, [cycle_id], [unknown_rule], BASE)
    assert "segment.champion" in caught.value.fix
    broken = structure(
        {"name": "broken", "rules": [{"rule": "champion", "when": "potential_q >= 'x' AND nope"}]},
        Variant,
        where="test",
    )
    with pytest.raises(DefinitionError, match="nope"):
        run_scenario(database, plugins, [cycle_id], [broken], BASE)
    with pytest.raises(ConfigError, match="outside the range the global catalogue allows"):
        run_scenario(database, plugins, [cycle_id], quick_variants([], [], [3.0]), BASE)
    with pytest.raises(NotFoundError, match="no 'digital' engagement strategy"):
        run_scenario(database, plugins, [cycle_id], quick_variants([], ["digital"], []), BASE)
