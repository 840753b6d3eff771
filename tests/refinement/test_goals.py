"""Call goals: the calls planned for a customer, changed within the territory's capacity.

In the Belgian test market a targeted customer's goal for 2027-H1 is its segment's
face-to-face calls (champion 6, grow 3, develop 1, maintain 0): T1 plans 11 calls
(C01 6, C02 3, C03 1, C04 1); a territory of one rep can make 880
(220 working days x 8 calls a day x 6/12 of the year).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from helpers import query

from harmonia import Harmonia


def _submit(app: Harmonia, cycle: int, asked: list[tuple[str, str, str]]) -> list[dict]:
    """Goal requests (customer, calls, who) as checked and stored."""
    return app.refinement.submit(
        cycle,
        [
            {
                "_row": number,
                "customer_id": int(customer[1:]),
                "requester": who,
                "action": "goal",
                "new_value": calls,
                "reason": "new information",
                "comment": "",
            }
            for number, (customer, calls, who) in enumerate(asked, start=1)
        ],
    ).requests


def _contacts(summary: Path) -> dict[str, int]:
    lines = summary.read_text(encoding="utf-8").splitlines()
    rows = csv.DictReader(lines, delimiter=";" if ";" in lines[0] else ",")
    return {row["segment"]: int(row["contacts"]) for row in rows}


def test_a_call_goal_is_checked_against_the_territory_s_capacity(
    feedback: tuple[Harmonia, int],
) -> None:
    app, cycle = feedback
    checked = _submit(
        app,
        cycle,
        [
            ("C01", "900", "rita"),  # 11 - 6 + 900 = 905 calls on T1: over 880
            ("C02", "800", "rita"),  # 11 - 3 + 800 = 808: fits (C01's refusal adds nothing)
            ("C03", "80", "rita"),  # 808 - 1 + 80 = 887: over
            ("C04", "0", "rita"),  # fewer calls always fit: 807
            ("C10", "4", "tom"),  # monitor: not on the target list
            ("C06", "2.5", "tom"),  # not a whole number
            ("C07", "0", "tom"),  # maintain plans 0 already
        ],
    )
    found = [(c["old_value"], c["status"], c["rule"]) for c in checked]
    assert found == [
        ("6", "rejected", "policy.capacity"),
        ("3", "pending", "manager"),
        ("1", "rejected", "policy.capacity"),
        ("1", "pending", "manager"),
        ("0", "rejected", "policy.value"),
        ("0", "rejected", "policy.value"),
        ("0", "rejected", "policy.value"),
    ]
    assert checked[0]["message"] == (
        "calls planned for territory T1 would be 905 against a capacity of 880 "
        "(1 rep(s) x 220 working days x 8 calls a day x 6/12 of the year)"
    )
    assert "would be 887 against a capacity of 880" in checked[2]["message"]
    assert checked[4]["message"] == (
        "customer 10 is not on the target list: ask for it as a target first"
    )
    assert "a call goal is a whole number of calls (0 or more), not '2.5'" in checked[5]["message"]
    assert checked[6]["message"] == "customer 7 already has a goal of 0 calls"
    # Open goals hold their calls: a later batch is checked against them.
    (again,) = _submit(app, cycle, [("C01", "80", "rita")])
    assert "would be 881 against a capacity of 880" in again["message"]  # 807 - 6 + 80
    (fits,) = _submit(app, cycle, [("C01", "79", "rita")])
    assert fits["status"] == "pending"
    # The manager's queue shows each territory's calls planned (open goals in) and capacity.
    t1 = {t["territory"]: t for t in app.refinement.queue(cycle, "dora").territories}["T1"]
    assert (t1["calls_planned"], t1["capacity"]) == (880, 880)  # 79 + 800 + 1 + 0


def test_an_accepted_goal_is_published_in_the_target_list(
    feedback: tuple[Harmonia, int], tmp_path: Path
) -> None:
    app, cycle = feedback
    (raised, lowered) = _submit(app, cycle, [("C02", "5", "dora"), ("C01", "4", "rita")])
    assert (raised["status"], raised["rule"]) == ("accepted", "own change")
    app.refinement.decide(cycle, [lowered["id"]], "accept", manager="dora")
    proposal = {r["source_id"]: r["goal"] for r in app.refinement.proposal(cycle).to_pylist()}
    assert (proposal["C01"], proposal["C02"], proposal["C03"]) == (4, 5, 1)
    # Goals change the work, not the customers' results: no customer counts as changed.
    figures = app.refinement.analytics(cycle)
    assert figures["goals"] == {"accepted": 2, "calls_added": 0}
    assert (figures["customers_changed"], figures["share_of_universe_changed"]) == (0, 0.0)
    t1 = {row["territory"]: row for row in figures["by_territory"]}["T1"]
    assert (t1["customers_asked"], t1["customers_changed"], t1["share_changed"]) == (2, 0, 0.0)
    app.refinement.close_feedback(cycle)
    app.refinement.approve(cycle)
    published = app.refinement.publish(cycle, directory=tmp_path / "final")
    (target_list,) = [w.location for w in published.written if w.output == "target_list"]
    lines = Path(target_list).read_text(encoding="utf-8").splitlines()
    listed = {
        row["source_id"]: row
        for row in csv.DictReader(lines, delimiter=";" if ";" in lines[0] else ",")
    }
    calls = {source: int(row["face_to_face"]) for source, row in listed.items()}
    assert (calls["C01"], calls["C02"], calls["C03"]) == (4, 5, 1)
    # The summary counts the same calls: champion C01 two fewer, grow C02 two more.
    before, after = (
        _contacts(next((tmp_path / folder).rglob("*segment_summary*")))
        for folder in ("out", "final")
    )
    assert after["champion"] == before["champion"] - 2 and after["grow"] == before["grow"] + 2
    assert after["develop"] == before["develop"]
    stored = query(
        app.database_url,
        f"SELECT customer_id, refined_goal, refined_by FROM assignment WHERE cycle_id = {cycle} "
        "AND refined_goal IS NOT NULL ORDER BY customer_id",
    )
    assert [(r["customer_id"], r["refined_goal"]) for r in stored] == [(1, 4), (2, 5)]
    assert json.loads(stored[0]["refined_by"]) == {"goal": lowered["id"]}


def test_a_rerun_carries_a_goal_over_unless_it_changed_the_customer_s_calls(
    feedback: tuple[Harmonia, int], tmp_path: Path
) -> None:
    import field_market

    from harmonia.store import Database
    from harmonia.store.bulk import BulkConnection

    app, old = feedback
    kept, changed = (
        r["id"] for r in _submit(app, old, [("C01", "8", "rita"), ("C02", "4", "rita")])
    )
    new = field_market.run(app, tmp_path)
    # The re-run makes C02 a champion: its plan gives 6 calls, not the 3 asked from.
    with BulkConnection(Database(app.database_url)) as bulk:
        bulk.execute(
            f"UPDATE assignment SET final_segment = 'champion' WHERE cycle_id = {new} "
            "AND customer_id = 2"
        )
    outcomes = {r["id"]: r for r in app.refinement.carry_over(old, new).requests}
    assert outcomes[kept]["outcome"] == "carried"
    assert (outcomes[changed]["outcome"], outcomes[changed]["rerun_value"]) == ("conflict", "6")
    assert "changed the goal from 3 to 6" in outcomes[changed]["why"]
    ((carried_from, value),) = [(r.carried_from, r.new_value) for r in app.refinement.requests(new)]
    assert (carried_from, value) == (kept, "8")


def test_no_goal_is_taken_where_the_planner_sets_the_calls(
    feedback: tuple[Harmonia, int],
) -> None:
    import attrs
    import pyarrow as pa

    from harmonia.refinement.requests import submit

    app, cycle = feedback
    record = app.refinement.cycle(cycle)
    capacity = attrs.evolve(app.refinement.capacity(record), replanned=True)
    row = {"_row": 1, "customer_id": 1, "requester": "rita", "action": "goal"}
    (checked,) = submit(
        app.database,
        record,
        app.refinement.policy(record),
        app.refinement.orders(record),
        pa.Table.from_pylist([{**row, "new_value": "8", "reason": "access", "comment": ""}]),
        targeted=app.refinement.targeted(record),
        goals=app.refinement.goals(record),
        capacity=capacity,
    ).to_pylist()
    assert (checked["status"], checked["rule"]) == ("rejected", "policy.dimensions")
    assert "plans its calls within capacity when the cycle is published" in checked["message"]


def test_auto_rules_decide_goals_and_accounts(feedback: tuple[Harmonia, int]) -> None:
    import attrs
    import pyarrow as pa

    from harmonia import AutoRule
    from harmonia.refinement.requests import submit

    app, cycle = feedback
    record = app.refinement.cycle(cycle)
    policy = app.refinement.policy(record)
    rules = (
        AutoRule("one-call-more", "calls_added <= 1", "accept", "one call: fine"),
        AutoRule("no-big-goal", "action = 'goal' AND calls_added > 4", "reject", "ask the MSL"),
        AutoRule("keep-access", "action = 'keep' AND reason = 'access'", "accept", "kept"),
    )
    policy = attrs.evolve(policy, auto_rules=rules)
    asked = [
        ("C01", "goal", "7", "access"),  # one call more (6 -> 7)
        ("C02", "goal", "8", "access"),  # five more
        ("C03", "goal", "3", "access"),  # two more: the manager decides
        ("C05", "keep", "T1", "access"),
    ]
    rows = pa.Table.from_pylist(
        [
            {"_row": n, "customer_id": int(c[1:]), "requester": "rita", "action": a,
             "new_value": v, "reason": r, "comment": ""}
            for n, (c, a, v, r) in enumerate(asked, start=1)
        ]
    )  # fmt: skip
    checked = submit(
        app.database,
        record,
        policy,
        app.refinement.orders(record),
        rows,
        targeted=app.refinement.targeted(record),
        goals=app.refinement.goals(record),
        capacity=app.refinement.capacity(record),
    ).to_pylist()
    assert [(c["status"], c["rule"], c["message"]) for c in checked] == [
        ("accepted", "auto:one-call-more", "one call: fine"),
        ("rejected", "auto:no-big-goal", "ask the MSL"),
        ("pending", "manager", "waiting for the decision of dora"),
        ("accepted", "auto:keep-access", "kept"),
    ]


def test_an_auto_rule_on_moves_decides_no_goal_and_no_account(
    feedback: tuple[Harmonia, int],
) -> None:
    """The policy's "one step down for access" (``steps = -1``) is a segment or tier
    move's: a goal one call lower, or an account kept, for access waits for the
    manager (review4 NIT 18: it was accepted automatically as a step down)."""
    from field_market import ask

    app, cycle = feedback
    outcomes = [
        ask(app, cycle, *args)
        for args in (
            ("C01", "goal", "5", "access", "rita"),  # one call fewer (6 -> 5)
            ("C02", "tier", "C", "access", "rita"),  # one step down
            ("C05", "keep", "T1", "access", "rita"),
        )
    ]
    assert [(o["status"], o["rule"]) for o in outcomes] == [
        ("pending", "manager"),
        ("accepted", "auto:access-step-down"),
        ("pending", "manager"),
    ]


def test_a_goal_is_checked_against_the_customer_as_refined_so_far(
    feedback: tuple[Harmonia, int], monkeypatch
) -> None:
    """A goal, its capacity and the calls planned read the customer's open requests
    (a segment moved, a target added or removed), as the proposal the rep sees does."""
    import attrs
    from field_market import ask

    app, cycle = feedback
    policy = app.refinement.policy
    monkeypatch.setattr(
        app.refinement,
        "policy",
        lambda c: attrs.evolve(policy(c), dimensions=("segment", "tier", "target", "goal")),
    )

    def planned(territory: str) -> int:
        queue = app.refinement.queue(cycle, "dora").territories
        return {t["territory"]: t for t in queue}[territory]["calls_planned"]

    moved = ask(app, cycle, "C03", "segment", "grow", "new information", "rita")
    app.refinement.decide(cycle, [moved["id"]], "accept", manager="dora")
    assert planned("T1") == 13  # C03 develop (1) -> grow (3): 6 + 3 + 3 + 1
    dropped = ask(app, cycle, "C01", "target", "no", "new information", "dora")
    assert dropped["status"] == "accepted"
    assert planned("T1") == 7  # C01 (6 calls) leaves the target list
    added = ask(app, cycle, "C10", "target", "yes", "new information", "dora")
    assert added["status"] == "accepted"
    proposal = {r["source_id"]: r for r in app.refinement.proposal(cycle).to_pylist()}
    assert (proposal["C10"]["target"], proposal["C03"]["goal"]) == ("yes", 3)
    (c10,) = _submit(app, cycle, [("C10", "4", "dora")])
    assert (c10["status"], c10["old_value"]) == ("accepted", "0")
    (c03,) = _submit(app, cycle, [("C03", "1", "rita")])  # grow plans 3: one is a cut
    assert (c03["status"], c03["old_value"]) == ("pending", "3")
    assert planned("T1") == 5
    (c01,) = _submit(app, cycle, [("C01", "2", "rita")])
    assert c01["message"] == "customer 1 is not on the target list: ask for it as a target first"


def test_a_batch_without_a_goal_does_not_count_capacity(
    feedback: tuple[Harmonia, int], monkeypatch
) -> None:
    """Capacity (the spec, the roster, every territory) is read for a batch holding a goal only."""
    from field_market import ask

    app, cycle = feedback
    counted: list[int] = []
    capacity = app.refinement.capacity
    monkeypatch.setattr(app.refinement, "capacity", lambda c: counted.append(c.id) or capacity(c))
    assert ask(app, cycle, "C03", "tier", "B", "data error", "rita")["status"] == "pending"
    assert counted == []
    assert ask(app, cycle, "C02", "goal", "4", "access", "rita")["status"] == "pending"
    assert counted == [cycle]


def test_a_carried_goal_must_fit_the_re_run_s_capacity(
    feedback: tuple[Harmonia, int], tmp_path: Path, monkeypatch
) -> None:
    """A re-run with fewer calls to make on T1 (its rep at half time: 440) does not carry
    a goal that no longer fits; a lower one, making room, is carried."""
    import attrs
    import field_market

    app, old = feedback
    raised, lowered = (
        r["id"] for r in _submit(app, old, [("C02", "800", "dora"), ("C01", "4", "dora")])
    )
    new = field_market.run(app, tmp_path)
    capacity = app.refinement.capacity
    monkeypatch.setattr(
        app.refinement,
        "capacity",
        lambda c: attrs.evolve(
            capacity(c), calls={**capacity(c).calls, "T1": 440}, reps={"T1": 0.5}
        ),
    )
    outcomes = {r["id"]: r for r in app.refinement.carry_over(old, new).requests}
    # In their order: C02's 11 - 3 + 800 = 808 is over 440 and adds nothing; C01's 4 fits.
    assert outcomes[raised]["outcome"] == "conflict"
    assert outcomes[lowered]["outcome"] == "carried"
    assert outcomes[raised]["why"].startswith(
        f"in the re-run (cycle {new}) calls planned for territory T1 would be 808 against "
        "a capacity of 440 (0.5 rep(s) x 220 working days"
    )
    assert [r.carried_from for r in app.refinement.requests(new)] == [lowered]
