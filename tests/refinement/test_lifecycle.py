"""The cycle lifecycle: draft -> feedback -> review -> approved -> published, checked and recorded."""

from __future__ import annotations

import csv
from pathlib import Path

import field_market
import pytest
from field_market import ask, run

from harmonia import Harmonia, lifecycle
from harmonia.errors import ConfigError


def test_moves_follow_the_market_choice() -> None:
    field = {"field_refinement": True}
    data = {"field_refinement": False}
    assert lifecycle.next_states("draft", **field) == ["feedback", "superseded"]
    assert lifecycle.next_states("draft", **data) == ["published", "superseded"]
    assert lifecycle.next_states("published", **field) == ["superseded"]
    assert lifecycle.next_states("failed", **field) == []
    with pytest.raises(ConfigError, match="not published before its feedback"):
        lifecycle.check_move("draft", "published", cycle=3, **field)
    with pytest.raises(ConfigError, match="does not involve the field"):
        lifecycle.check_move("draft", "feedback", cycle=3, **data)
    with pytest.raises(ConfigError, match="a published cycle cannot become feedback") as error:
        lifecycle.check_move("published", "feedback", cycle=3, **field)
    assert "does not change any more" in str(error.value)
    with pytest.raises(ConfigError, match="a feedback cycle cannot become published") as error:
        lifecycle.check_move("feedback", "published", cycle=3, **field)
    assert "harmonia cycle close-feedback" in str(error.value)


def test_a_field_cycle_goes_through_feedback_review_and_approval(
    field_app: Harmonia, tmp_path: Path
) -> None:
    app = field_app
    cycle = run(app, tmp_path)
    assert app.refinement.cycle(cycle).status == "draft"
    with pytest.raises(ConfigError, match="not published before its feedback"):
        app.refinement.publish(cycle, directory=tmp_path / "final")
    opened = app.refinement.open_feedback(cycle, note="H1 round")
    assert (opened.previous, opened.cycle.status) == ("draft", "feedback")
    assert opened.counts == {"customers_without_territory": 0}
    with pytest.raises(ConfigError, match="cannot become published"):
        app.refinement.publish(cycle)
    assert app.refinement.close_feedback(cycle).cycle.status == "review"
    assert app.refinement.approve(cycle).counts == {"expired": 0}
    published = app.refinement.publish(cycle, directory=tmp_path / "final")
    assert published.cycle.status == "published"
    assert {w.output for w in published.written} == {"target_list", "segment_summary"}
    (target_list,) = [w.location for w in published.written if w.output == "target_list"]
    assert Path(target_list).parent == tmp_path / "final"
    with open(target_list, encoding="utf-8") as f:
        assert len(list(csv.reader(f))) > 1
    moves = [(m.from_status, m.to_status, m.actor) for m in app.refinement.transitions(cycle)]
    assert moves == [
        ("running", "draft", "analyst"),
        ("draft", "feedback", "analyst"),
        ("feedback", "review", "analyst"),
        ("review", "approved", "analyst"),
        ("approved", "published", "analyst"),
    ]
    assert app.refinement.transitions(cycle)[1].note == "H1 round"


def test_a_data_driven_market_publishes_its_draft_and_is_asked_nothing(
    harmonia_database: str, tiny, tmp_path: Path
) -> None:
    import tiny_market

    app = Harmonia(harmonia_database, tiny, actor="analyst")
    app.loads.run(app.loads.plan([tiny_market.DATA / "h1"]), country="NL")
    first = run(app, tmp_path, "NL")
    with pytest.raises(ConfigError, match="does not involve the field"):
        app.refinement.open_feedback(first)
    second = run(app, tmp_path, "NL")
    published = app.refinement.publish(second, directory=tmp_path / "final")
    assert published.previous == "draft" and published.cycle.status == "published"
    assert published.superseded == (first,)
    assert app.refinement.cycle(first).status == "superseded"
    with pytest.raises(ConfigError, match="a published cycle cannot become published"):
        app.refinement.publish(second)
    # The next half-year pulls through from the published cycle, not the newest run.
    third = run(app, tmp_path, "NL")
    later = app.cycles.run(
        country="NL", therapy_area="cardiology", period="2027-H2", directory=tmp_path / "o"
    )
    assert later.cycle.previous_cycle_id == second
    assert third != second


def test_an_auto_rule_naming_what_a_request_does_not_have_is_a_load_error(
    register_pack, harmonia_plugins
) -> None:
    from harmonia import AutoRule, RefinementPolicy
    from harmonia.testing import module_pack

    policy = RefinementPolicy(
        name="broken",
        description="an auto rule over a name no request has, and a reason it does not list",
        reasons=("access",),
        auto_rules=(AutoRule("nonsense", "potential > 3 AND reason = 'acces'", "accept", "never"),),
    )
    register_pack(module_pack("broken", harmonia_refinement_policies=lambda: [policy]))
    catalog = harmonia_plugins.catalog()  # a broken pack is a warning; strict mode: an error
    assert "broken" not in catalog.refinement_policies
    message = " ".join(catalog.warnings)
    assert "auto_rules[0].when" in message and "potential" in message
    assert "'acces'" in message


def test_an_auto_rule_over_facts_a_kind_of_request_does_not_have_is_a_load_error(
    register_pack, harmonia_plugins
) -> None:
    """``steps`` is a move's size: a rule declared for goals, or naming goals, while
    reading it would never decide what its author meant (review4 NIT 18)."""
    from harmonia import AutoRule, RefinementPolicy
    from harmonia.testing import module_pack

    policy = RefinementPolicy(
        name="muddled",
        description="auto rules reading a move's steps for call goals",
        dimensions=("segment", "goal"),
        reasons=("access",),
        auto_rules=(
            AutoRule("declared", "steps <= 1", "accept", "fine", actions=("goal",)),
            AutoRule("named", "action = 'goal' AND steps <= 1", "accept", "fine"),
            AutoRule("elsewhere", "reason = 'access'", "accept", "fine", actions=("tier",)),
            AutoRule("right", "calls_added <= 1", "accept", "fine"),
        ),
    )
    register_pack(module_pack("muddled", harmonia_refinement_policies=lambda: [policy]))
    catalog = harmonia_plugins.catalog()
    assert "muddled" not in catalog.refinement_policies
    message = " ".join(catalog.warnings)
    assert "auto_rules[0].actions: steps describes segment, needs, tier requests, not goal" in (
        message
    )
    assert "auto_rules[1].when: the rule names goal requests but reads steps" in message
    assert "auto_rules[2].actions: 'tier' is not one of the policy's dimensions" in message
    assert "auto_rules[3]" not in message


def test_an_auto_rule_that_decides_no_kind_of_request_is_a_load_error(
    register_pack, harmonia_plugins
) -> None:
    """A rule whose facts no kind of request has all of, or only kinds the policy
    lacks, would load and never fire: every request it was meant for would wait
    for a manager (rev12 finding 3)."""
    from harmonia import AutoRule, RefinementPolicy
    from harmonia.testing import module_pack

    policy = RefinementPolicy(
        name="inert",
        description="auto rules no request of the policy can meet",
        dimensions=("segment", "goal"),
        reasons=("access",),
        auto_rules=(
            AutoRule("down", "steps = -1 OR calls_added < 0", "accept", "fine"),
            AutoRule("right", "steps = -1", "accept", "fine"),
        ),
    )
    without_goals = RefinementPolicy(
        name="goalless",
        description="a goal rule in a policy without goals",
        reasons=("access",),
        auto_rules=(AutoRule("more", "calls_added > 0", "accept", "fine"),),
    )
    register_pack(
        module_pack("inert", harmonia_refinement_policies=lambda: [policy, without_goals])
    )
    catalog = harmonia_plugins.catalog()
    assert not {"inert", "goalless"} & set(catalog.refinement_policies)
    message = " ".join(catalog.warnings)
    assert (
        "auto_rules[0].when: the rule reads steps and calls_added, which no kind of request "
        "has all of (steps: segment, needs, tier; calls_added: goal), so it decides nothing: "
        "split it into one rule per kind of request"
    ) in message
    assert "auto_rules[1]" not in message
    assert (
        "auto_rules[0].when: the rule reads calls_added, which only goal requests have, and "
        "the policy's dimensions (segment) have none of them, so it decides nothing: drop the "
        "rule, or add goal to the dimensions"
    ) in message


def test_publishing_expires_what_a_superseded_round_left_undecided(
    feedback: tuple[Harmonia, int], tmp_path: Path
) -> None:
    app, first = feedback
    waiting = ask(app, first, "C03", "tier", "B", "data error", "rita")
    assert waiting["status"] == "pending"
    second = field_market.run(app, tmp_path)
    app.refinement.open_feedback(second)
    app.refinement.close_feedback(second)
    app.refinement.approve(second)
    app.refinement.publish(second, directory=tmp_path / "final")
    assert app.refinement.cycle(first).status == "superseded"
    (expired,) = app.refinement.requests(first)
    assert expired.status == "expired"
    assert f"cycle {second} of the same scope was published" in (expired.message or "")
