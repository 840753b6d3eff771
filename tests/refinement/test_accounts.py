"""Account requests: a rep adds an account of another territory to theirs, or keeps one
the cycle's alignment moved away from them.

In the Belgian test market the 2027-H1 alignment moves C05 from rita's T1 (its
2026-H2 alignment) to tom's T2; C06 to C10 are on T2 and always were.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from field_market import ask
from helpers import query

from harmonia import Harmonia


def test_an_account_is_added_or_kept_and_published_on_its_new_territory(
    feedback: tuple[Harmonia, int], tmp_path: Path
) -> None:
    app, cycle = feedback
    outcomes = [
        ask(app, cycle, *args)
        for args in (
            ("C05", "keep", "T1", "data error", "rita"),  # moved away from T1 this cycle
            ("C06", "add", "T1", "new information", "rita"),  # tom's: added to rita's
            ("C07", "keep", "T1", "data error", "rita"),  # never on T1
            ("C01", "add", "T1", "new information", "rita"),  # on T1 already
            ("C08", "add", "T2", "new information", "rita"),  # T2 is not rita's
            ("C06", "add", "T1", "access", "dora"),  # asked for already (rita's add)
        )
    ]
    found = [(o["old_value"], o["territory"], o["status"], o["rule"]) for o in outcomes]
    assert found == [
        ("T2", "T1", "pending", "manager"),
        ("T2", "T1", "pending", "manager"),
        ("T2", "T1", "rejected", "policy.value"),
        ("T1", "T1", "rejected", "policy.value"),
        ("T2", "T2", "rejected", "policy.territory"),
        ("T2", "T1", "rejected", "policy.duplicate"),
    ]
    assert outcomes[2]["message"] == (
        "customer 7 was not on T1 before this cycle (it was on T2): ask to add it instead"
    )
    assert outcomes[3]["message"] == "customer 1 is on T1 already"
    assert outcomes[4]["message"] == (
        "territory T2 is not yours (T1): an account is added to or kept on a territory of yours"
    )
    assert f"request {outcomes[1]['id']} for the add of customer 6" in outcomes[5]["message"]
    # T1's manager decides them (the territory they go to); tom is not one.
    kept, added = outcomes[0]["id"], outcomes[1]["id"]
    app.refinement.decide(cycle, [kept, added], "accept", manager="dora")
    figures = app.refinement.analytics(cycle)
    assert figures["accounts"] == {"added": 1, "kept": 1}
    app.refinement.close_feedback(cycle)
    app.refinement.approve(cycle)
    published = app.refinement.publish(cycle, directory=tmp_path / "final")
    (target_list,) = [w.location for w in published.written if w.output == "target_list"]
    lines = Path(target_list).read_text(encoding="utf-8").splitlines()
    listed = csv.DictReader(lines, delimiter=";" if ";" in lines[0] else ",")
    territories = {row["source_id"]: row["territory"] for row in listed}
    assert (territories["C05"], territories["C06"], territories["C07"]) == ("T1", "T1", "T2")
    stored = query(
        app.database_url,
        f"SELECT customer_id, refined_territory, refined_by FROM assignment WHERE cycle_id = "
        f"{cycle} AND refined_territory IS NOT NULL ORDER BY customer_id",
    )
    assert [(r["customer_id"], r["refined_territory"]) for r in stored] == [(5, "T1"), (6, "T1")]
    assert json.loads(stored[0]["refined_by"]) == {"keep": kept}


def test_a_rerun_carries_an_account_over_unless_it_already_moved(
    feedback: tuple[Harmonia, int], tmp_path: Path
) -> None:
    import field_market

    app, old = feedback
    kept = ask(app, old, "C05", "keep", "T1", "data error", "rita")["id"]
    added = ask(app, old, "C06", "add", "T1", "new information", "rita")["id"]
    # Before the re-run, the alignment puts C06 on T1 after all.
    (tmp_path / "realigned.csv").write_text(
        "customer_id;territory;period\nC06;T1;2027-H1\n", encoding="utf-8"
    )
    app.loads.run(app.loads.plan([tmp_path / "realigned.csv"]), country="BE")
    new = field_market.run(app, tmp_path)
    outcomes = {r["id"]: r for r in app.refinement.carry_over(old, new).requests}
    assert outcomes[kept]["outcome"] == "carried"
    assert (outcomes[added]["outcome"], outcomes[added]["why"]) == (
        "not needed",
        f"the re-run (cycle {new}) already gives T1",
    )
    assert [(r.carried_from, r.action) for r in app.refinement.requests(new)] == [(kept, "keep")]


def test_an_aligned_move_with_no_request_is_published_on_the_aligned_territory(
    feedback: tuple[Harmonia, int], tmp_path: Path
) -> None:
    """The target list goes out on the territory feedback froze (the period's alignment),
    not the one the customer record carries: C05's record says T1, 2027-H1 puts it on T2."""
    app, cycle = feedback
    (record,) = query(app.database_url, "SELECT territory FROM customer WHERE id = 5")
    assert record["territory"] == "T1"
    app.refinement.close_feedback(cycle)
    app.refinement.approve(cycle)
    published = app.refinement.publish(cycle, directory=tmp_path / "final")
    (target_list,) = [w.location for w in published.written if w.output == "target_list"]
    lines = Path(target_list).read_text(encoding="utf-8").splitlines()
    listed = csv.DictReader(lines, delimiter=";" if ";" in lines[0] else ",")
    territories = {row["source_id"]: row["territory"] for row in listed}
    assert territories["C05"] == "T2"
    assert territories["C01"] == "T1"


def test_an_accepted_account_is_the_receiving_rep_s_for_the_rest_of_the_round(
    feedback: tuple[Harmonia, int],
) -> None:
    app, cycle = feedback
    added = ask(app, cycle, "C06", "add", "T1", "new information", "rita")
    app.refinement.decide(cycle, [added["id"]], "accept", manager="dora")
    (c06,) = [r for r in app.refinement.proposal(cycle).to_pylist() if r["harmonia_id"] == 6]
    tier = "A" if c06["tier"] == "B" else "B"  # one step from A, B or C
    mine = ask(app, cycle, "C06", "tier", tier, "data error", "rita")
    assert (mine["territory"], mine["status"], mine["rule"]) == ("T1", "pending", "manager")
    theirs = ask(app, cycle, "C06", "segment", "grow", "data error", "tom")
    assert (theirs["status"], theirs["rule"]) == ("rejected", "policy.territory")
    assert theirs["message"].startswith("customer 6 is on territory T1, not yours (T2")
    assert 6 in {r["harmonia_id"] for r in app.refinement.proposal(cycle, "T1").to_pylist()}
    assert 6 not in {r["harmonia_id"] for r in app.refinement.proposal(cycle, "T2").to_pylist()}


def test_the_territory_a_kept_account_returns_to_is_frozen_when_feedback_opens(
    feedback: tuple[Harmonia, int], tmp_path: Path
) -> None:
    """A later alignment load saying C05 was on T2 in 2026-H2 changes neither what
    rita refines nor her keep request's check: C05 was on T1 when feedback opened."""
    app, cycle = feedback
    corrected = tmp_path / "corrected"
    corrected.mkdir()
    (corrected / "alignment.csv").write_text(
        "customer_id;territory;period\nC05;T2;2026-H2\n", encoding="utf-8"
    )
    (loaded,) = app.loads.run(app.loads.plan([corrected]), country="BE")
    assert loaded.rows_loaded == 1
    kept = ask(app, cycle, "C05", "keep", "T1", "data error", "rita")
    assert (kept["status"], kept["rule"]) == ("pending", "manager")
