"""Reps' requests checked against the policy, managers' decisions, expiry, publishing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest
from field_market import ask
from helpers import query

from harmonia import Harmonia
from harmonia.errors import ConfigError, NotFoundError


def test_each_request_is_checked_against_the_policy_with_a_message(
    feedback: tuple[Harmonia, int],
) -> None:
    app, cycle = feedback
    outcomes = [
        ask(app, cycle, *args)
        for args in (
            ("C01", "segment", "grow", "access", "rita"),  # auto rule: one step down, access
            ("C06", "segment", "grow", "access", "rita"),  # tom's customer
            ("C02", "segment", "monitor", "access", "rita"),  # three steps
            ("C03", "segment", "grow", "nope", "rita"),  # not a reason
            ("C03", "needs", "x", "access", "rita"),  # not a dimension of the policy
            ("C03", "tier", "Z", "access", "rita"),  # not a tier
            ("C03", "tier", "B", "data error", "rita"),  # to the manager
            ("C03", "tier", "B", "access", "rita"),  # asked already
            ("C04", "segment", "grow", "data error", "rita"),  # third of four on T1: 50 %
            ("C02", "segment", "champion", "new information", "rita"),  # share: C02 is new
            ("C06", "segment", "develop", "access", "tom"),
            ("C07", "segment", "develop", "access", "dora"),  # a manager's own change
        )
    ]
    found = [(o["status"], o["rule"]) for o in outcomes]
    assert found == [
        ("accepted", "auto:access-step-down"),
        ("rejected", "policy.territory"),
        ("rejected", "policy.moves"),
        ("rejected", "policy.reason"),
        ("rejected", "policy.dimensions"),
        ("rejected", "policy.value"),
        ("pending", "manager"),
        ("rejected", "policy.duplicate"),
        ("rejected", "policy.max_share"),
        ("rejected", "policy.max_share"),
        ("pending", "manager"),
        ("accepted", "own change"),
    ]
    messages = [o["message"] for o in outcomes]
    assert messages[0] == "accepted: one step down because of access needs no approval"
    assert messages[1] == "customer 6 is on territory T2, not yours (T1)"
    assert "from grow to monitor is 3 steps" in messages[2]
    assert "'nope' is not one of the policy's: new information; access; data error" in messages[3]
    assert "lets reps change segment, tier, goal, add, keep, not needs" in messages[4]
    assert "'Z' is not a tier (A, B, C)" in messages[5]
    assert messages[6] == "waiting for the decision of dora"
    assert "is already pending" in messages[7]
    assert "50% of a territory's customers: 2 of the 4 on T1" in messages[8]
    # Every request is kept, whatever its outcome, with the old and the new value.
    stored = app.refinement.requests(cycle)
    assert len(stored) == 12
    assert (stored[0].old_value, stored[0].new_value, stored[0].requester) == (
        "champion",
        "grow",
        "rita",
    )
    # A rep sees their territory only.
    assert {r.territory for r in app.refinement.requests(cycle, person="tom")} == {"T2"}


def test_auto_rules_reject_with_their_message(feedback: tuple[Harmonia, int]) -> None:
    app, cycle = feedback
    # C08 is maintain, tier B: tier A is one step up, refused by the policy's auto rule.
    refused = ask(app, cycle, "C08", "tier", "A", "new information", "tom")
    assert (refused["status"], refused["rule"]) == ("rejected", "auto:low-segment-to-tier-a")
    assert refused["message"].startswith("rejected: a maintain or monitor customer")
    # C06 is tier A already in maintain; C09's step down passes to the manager.
    assert ask(app, cycle, "C09", "tier", "B", "new information", "tom")["status"] == "pending"


def test_nothing_is_asked_outside_the_window_or_the_roster(
    feedback: tuple[Harmonia, int],
) -> None:
    from harmonia.refinement.requests import submit

    app, cycle = feedback
    record = app.refinement.cycle(cycle)
    late = dt.datetime.now(dt.UTC) + dt.timedelta(days=15)
    rows = pa.Table.from_pylist(
        [
            {
                "_row": 1,
                "customer_id": 2,
                "requester": "rita",
                "action": "segment",
                "new_value": "champion",
                "reason": "access",
                "comment": "",
            }
        ]
    )
    (checked,) = submit(
        app.database,
        record,
        app.refinement.policy(record),
        app.refinement.orders(record),
        rows,
        now=late,
    ).to_pylist()
    assert checked["status"] == "rejected" and checked["rule"] == "policy.window"
    assert (
        "window closed on" in checked["message"]
        and "14 days after feedback opened" in (checked["message"])
    )
    with pytest.raises(NotFoundError, match="mallory not in the roster"):
        ask(app, cycle, "C02", "segment", "champion", "access", "mallory")


def test_managers_decide_once_and_only_for_their_territories(
    feedback: tuple[Harmonia, int],
) -> None:
    app, cycle = feedback
    first = ask(app, cycle, "C03", "tier", "B", "data error", "rita")["id"]
    second = ask(app, cycle, "C06", "segment", "develop", "access", "tom")["id"]
    with pytest.raises(ConfigError, match="tom is not a manager"):
        app.refinement.decide(cycle, [first], "accept", manager="tom")
    (accepted,) = app.refinement.decide(cycle, [first], "accept", manager="rex", comment="ok")
    assert (accepted.status, accepted.decided_by, accepted.message) == (
        "accepted",
        "rex",
        "accepted by rex: ok",
    )
    # The second manager to decide the same request is told, and nothing is applied.
    with pytest.raises(ConfigError, match=r"request \d+ is accepted \(by rex\)"):
        app.refinement.decide(cycle, [first, second], "reject", manager="dora")
    assert app.refinement.requests(cycle, statuses=["pending"])[0].id == second
    (amended,) = app.refinement.decide(
        cycle, [second], "amend", manager="dora", value="grow", comment="more than asked"
    )
    assert (amended.status, amended.new_value) == ("accepted", "grow")
    assert amended.message == "amended by dora to grow: more than asked"
    queue = app.refinement.queue(cycle, "dora")
    assert queue.pending == []
    assert {t["territory"]: t["changes"] for t in queue.territories} == {"T1": 1, "T2": 1}
    assert queue.territories[0] == {
        "territory": "T1",
        "customers": 4,
        "changes": 1,
        "share_used": 0.25,
        "allowed": 2,
        "calls_planned": 11,  # the policy lets reps set call goals: 6 + 3 + 1 + 1
        "capacity": 880,
    }
    assert sum(r["requests"] for r in queue.by_reason) == len(app.refinement.requests(cycle))
    assert app.refinement.queue(cycle, "tom").by_reason == [
        {"reason": r.reason, "status": r.status, "requests": 1}
        for r in app.refinement.requests(cycle, person="tom")
    ]


def test_closing_expires_what_nobody_decided_and_publishing_applies_the_rest(
    feedback: tuple[Harmonia, int], tmp_path: Path
) -> None:
    app, cycle = feedback
    ask(app, cycle, "C01", "segment", "grow", "access", "rita")  # accepted by the auto rule
    waiting = ask(app, cycle, "C03", "tier", "B", "data error", "rita")["id"]
    app.refinement.close_feedback(cycle)
    with pytest.raises(ConfigError, match="reps ask for changes while its feedback is open"):
        ask(app, cycle, "C04", "segment", "grow", "data error", "rita")
    assert app.refinement.approve(cycle).counts == {"expired": 1}
    (expired,) = [r for r in app.refinement.requests(cycle) if r.id == waiting]
    assert expired.status == "expired"
    assert expired.message.startswith(
        "expired: no manager decided it before the cycle was approved"
    )
    published = app.refinement.publish(cycle, directory=tmp_path / "final")
    assert published.counts == {"refined": 1}
    rows = query(
        app.database_url,
        "SELECT a.segment, a.final_segment, a.origin, a.tier FROM assignment a JOIN crosswalk x "
        f"ON x.customer_id = a.customer_id WHERE a.cycle_id = {cycle} AND x.source_id IN ('C01', 'C03') "
        "ORDER BY x.source_id",
    )
    assert rows == [
        {"segment": "champion", "final_segment": "grow", "origin": "refined", "tier": "A"},
        {"segment": "develop", "final_segment": "develop", "origin": "rules", "tier": "C"},
    ]
    with pytest.raises(ConfigError, match="is published: reps ask for changes"):
        ask(app, cycle, "C04", "segment", "grow", "data error", "rita")
    figures = app.refinement.analytics(cycle)
    assert (figures["customers"], figures["customers_changed"], figures["requests"]) == (10, 1, 2)
    assert figures["final_segments_from_refinement"] == 1
    assert {(r["rule"], r["status"]) for r in figures["by_rule"]} == {
        ("auto:access-step-down", "accepted"),
        ("expiry", "expired"),
    }
    t1 = next(t for t in figures["by_territory"] if t["territory"] == "T1")
    assert (t1["customers"], t1["customers_asked"], t1["customers_changed"]) == (4, 2, 1)
    history = app.refinement.history("C01", system="csv")
    assert [(h["old_value"], h["new_value"], h["status"]) for h in history] == [
        ("champion", "grow", "accepted")
    ]
    # The published summary is planned as the run's was (in DuckDB on the embedded
    # store): the same columns and forms, one customer more in grow.
    (run,) = (tmp_path / "out").glob(f"*cycle{cycle}-segment_summary.csv")
    (final,) = (tmp_path / "final").glob("*segment_summary.csv")
    before, after = (_rows(path) for path in (run, final))
    assert [(r["segment"], r["target"]) for r in after] == [
        (r["segment"], r["target"]) for r in before
    ]
    assert [int(r["customers"]) for r in after] == [
        int(r["customers"]) + {"champion": -1, "grow": 1}.get(r["segment"], 0) for r in before
    ]


def _rows(path: Path) -> list[dict]:
    import csv

    lines = path.read_text(encoding="utf-8").splitlines()
    return list(csv.DictReader(lines, delimiter=";" if ";" in lines[0] else ","))


def test_reasons_may_depend_on_the_kind_of_request(feedback: tuple[Harmonia, int]) -> None:
    import attrs

    from harmonia.definitions import RefinementPolicy
    from harmonia.refinement.requests import submit

    app, cycle = feedback
    record = app.refinement.cycle(cycle)
    policy = attrs.evolve(
        app.refinement.policy(record), reasons_by_action={"tier": ("data error", "potential")}
    )
    asked = [
        ("C03", "tier", "B", "potential"),  # a tier reason
        ("C09", "tier", "B", "access"),  # a segment reason, not a tier one
        ("C02", "segment", "develop", "potential"),  # a tier reason, not a segment one
        ("C06", "segment", "develop", "new information"),
    ]
    rows = pa.Table.from_pylist(
        [
            {
                "_row": number,
                "customer_id": int(customer[1:]),
                "requester": "dora",
                "action": action,
                "new_value": value,
                "reason": reason,
                "comment": "",
            }
            for number, (customer, action, value, reason) in enumerate(asked, start=1)
        ]
    )
    checked = submit(app.database, record, policy, app.refinement.orders(record), rows).to_pylist()
    assert [(c["status"], c["rule"]) for c in checked] == [
        ("accepted", "own change"),
        ("rejected", "policy.reason"),
        ("rejected", "policy.reason"),
        ("accepted", "own change"),
    ]
    assert checked[1]["message"] == (
        "reason 'access' is not one of the policy's for a tier change: data error; potential"
    )
    assert checked[2]["message"] == (
        "reason 'potential' is not one of the policy's: new information; access; data error"
    )
    assert policy.every_reason() == ("new information", "access", "data error", "potential")
    wrong = attrs.evolve(policy, reasons_by_action={"needs": ("x", "x")})
    assert [p.path for p in RefinementPolicy.problems(wrong)] == [
        "reasons_by_action.needs",
        "reasons_by_action.needs",
    ]


def test_each_refined_dimension_names_its_request(
    feedback: tuple[Harmonia, int], tmp_path: Path
) -> None:
    app, cycle = feedback
    segment = ask(app, cycle, "C01", "segment", "grow", "access", "rita")["id"]  # auto rule
    tier = ask(app, cycle, "C01", "tier", "B", "data error", "dora")["id"]  # her own change
    waiting = ask(app, cycle, "C03", "tier", "B", "data error", "rita")["id"]
    app.refinement.decide(cycle, [waiting], "accept", manager="dora")
    app.refinement.close_feedback(cycle)
    app.refinement.approve(cycle)
    app.refinement.publish(cycle, directory=tmp_path / "final")
    rows = query(
        app.database_url,
        "SELECT x.source_id, a.final_segment, a.origin, a.tier, a.refined_by FROM assignment a "
        f"JOIN crosswalk x ON x.customer_id = a.customer_id WHERE a.cycle_id = {cycle} "
        "AND x.source_id IN ('C01', 'C02', 'C03') ORDER BY x.source_id",
    )
    assert [(r["final_segment"], r["origin"], r["tier"]) for r in rows] == [
        ("grow", "refined", "B"),
        ("grow", "rules", "B"),
        ("develop", "rules", "B"),
    ]
    assert [r["refined_by"] and json.loads(r["refined_by"]) for r in rows] == [
        {"segment": segment, "tier": tier},
        None,
        {"tier": waiting},
    ]


def test_a_target_is_added_or_removed_and_the_final_list_says_so(
    feedback: tuple[Harmonia, int], tmp_path: Path
) -> None:
    import csv

    import attrs

    from harmonia.refinement.requests import submit

    app, cycle = feedback
    record = app.refinement.cycle(cycle)
    policy = attrs.evolve(app.refinement.policy(record), dimensions=("segment", "target"))
    asked = [
        ("C10", "yes", "dora"),  # monitor: not a target by its strategy; dora adds it
        ("C01", "no", "dora"),  # champion: removed
        ("C02", "no", "rita"),  # a rep's removal waits for the manager
        ("C03", "yes", "rita"),  # develop is a target already
    ]
    rows = pa.Table.from_pylist(
        [
            {
                "_row": number,
                "customer_id": int(customer[1:]),
                "requester": who,
                "action": "target",
                "new_value": value,
                "reason": "data error",
                "comment": "",
            }
            for number, (customer, value, who) in enumerate(asked, start=1)
        ]
    )
    checked = submit(
        app.database,
        record,
        policy,
        app.refinement.orders(record),
        rows,
        targeted=app.refinement.targeted(record),
    ).to_pylist()
    assert [(c["old_value"], c["status"], c["rule"]) for c in checked] == [
        ("no", "accepted", "own change"),
        ("yes", "accepted", "own change"),
        ("yes", "pending", "manager"),
        ("yes", "rejected", "policy.value"),
    ]
    assert checked[3]["message"] == "customer 3 is already yes"
    proposal = {r["source_id"]: r["target"] for r in app.refinement.proposal(cycle).to_pylist()}
    assert (proposal["C10"], proposal["C01"], proposal["C02"]) == ("yes", "no", "yes")
    app.refinement.close_feedback(cycle)
    app.refinement.approve(cycle)
    published = app.refinement.publish(cycle, directory=tmp_path / "final")
    (target_list,) = [w.location for w in published.written if w.output == "target_list"]
    lines = Path(target_list).read_text(encoding="utf-8").splitlines()
    listed = csv.DictReader(lines, delimiter=";" if ";" in lines[0] else ",")
    targets = {row["source_id"] for row in listed}
    assert "C10" in targets and "C01" not in targets and "C02" in targets  # C02 expired
    stored = query(
        app.database_url,
        f"SELECT customer_id, refined_target, refined_by FROM assignment WHERE cycle_id = {cycle} "
        "AND refined_target IS NOT NULL ORDER BY customer_id",
    )
    assert [(r["customer_id"], r["refined_target"]) for r in stored] == [(1, "no"), (10, "yes")]
    assert json.loads(stored[0]["refined_by"]) == {"target": checked[1]["id"]}
