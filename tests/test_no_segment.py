"""Leaving a customer unsegmented: ``no_segment``, with no invented segment or strategy.

The tiny market's rule set, changed as a pack author would: general
practitioners are not segmented (instead of an invented ``monitor`` segment
with an invented "no contact" strategy), nor tiered when they have no
prescriptions. Outputs, explain and diff show ``no_segment``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
import tiny_market

from harmonia import NO_SEGMENT, Dimension, EngagementStrategy, RuleSet, load_definitions
from harmonia.testing import module_pack, query_store


def _rule_set() -> RuleSet:
    (tiny,) = tiny_market.harmonia_segmentation_rules()
    segment = tiny.segment
    rules = tuple(
        attrs.evolve(rule, segment=NO_SEGMENT) if rule.id == "gp" else rule
        for rule in segment.rules
    )
    segments = tuple(s for s in segment.segments if s != "monitor")
    assert tiny.tier is not None
    tier_rules = tuple(
        attrs.evolve(rule, segment=NO_SEGMENT) if rule.id == "no_trx" else rule
        for rule in tiny.tier.rules
    )
    return attrs.evolve(
        tiny,
        segment=attrs.evolve(segment, segments=segments, rules=rules),
        tier=attrs.evolve(tiny.tier, segments=("A", "B"), rules=tier_rules),
    )


def _strategies() -> list[EngagementStrategy]:
    every = load_definitions(EngagementStrategy, tiny_market.DATA.parent / "strategies.toml")
    return [s for s in every if s.segment != "monitor"]


def _pack() -> object:
    return module_pack(
        "unsegmenting",
        harmonia_country_profiles=tiny_market.harmonia_country_profiles,
        harmonia_identifier_schemes=tiny_market.harmonia_identifier_schemes,
        harmonia_questionnaires=tiny_market.harmonia_questionnaires,
        harmonia_segmentation_rules=lambda: [_rule_set()],
        harmonia_engagement_strategies=_strategies,
    )


@pytest.fixture
def unsegmenting_cli(
    harmonia_cli: Callable, register_pack: Callable, wide_terminal: None
) -> Callable:
    register_pack(_pack(), name="unsegmenting")
    loaded = harmonia_cli("load", str(tiny_market.DATA / "h1"), "--country", "NL")
    assert loaded.exit_code == 0, loaded.output
    return harmonia_cli


def test_a_rule_set_leaves_customers_unsegmented_without_a_segment_or_strategy(
    unsegmenting_cli: Callable, harmonia_database: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run = unsegmenting_cli(
        "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--out", str(out),
        "--output", "assignments", "--output", "target_list", "--output", "segment_summary",
        "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    document = json.loads(run.stdout)
    summary = {row["segment"]: row for row in document["summary"]}
    # Declared segments first, the customers left unsegmented last: not targeted,
    # no contacts, no cost, under the core's strategy (the pack declared none).
    assert list(summary)[-1] == NO_SEGMENT
    unsegmented = summary[NO_SEGMENT]
    assert (unsegmented["customers"], unsegmented["strategy"]) == (1, "none (not segmented)")
    assert (unsegmented["target"], unsegmented["contacts"], unsegmented["cost"]) == (False, 0, 0)
    assert "monitor" not in summary

    rows = {
        r["customer_id"]: r
        for r in query_store(
            harmonia_database,
            "SELECT x.source_id AS customer_id, a.segment, a.segment_rule, a.final_segment, "
            "a.tier, a.tier_rule FROM assignment a JOIN crosswalk x ON x.customer_id = a.customer_id",
        )
    }
    assert (rows["C10"]["segment"], rows["C10"]["segment_rule"]) == (NO_SEGMENT, "gp")
    assert rows["C10"]["final_segment"] == NO_SEGMENT
    assert {r["tier"] for r in rows.values() if r["tier_rule"] == "no_trx"} == {NO_SEGMENT}

    written = {w["output"]: Path(w["location"]) for w in document["written"]}
    assignments = written["assignments"].read_text(encoding="utf-8")
    assert NO_SEGMENT in assignments  # C10's segment and final segment, untiered tiers
    with written["target_list"].open(encoding="utf-8") as handle:
        targets = list(csv.DictReader(handle, delimiter=";"))
    assert "C10" not in {t["source_id"] for t in targets}
    assert NO_SEGMENT not in {t["segment"] for t in targets}

    explained = unsegmenting_cli("explain", "--cycle", "1", "--customer", "C10")
    assert explained.exit_code == 0, explained.output
    assert "no_segment (not segmented) (rule gp)" in explained.output
    assert "final segment no_segment (not segmented)" in explained.output


def test_diff_shows_customers_left_unsegmented_in_both_cycles(
    unsegmenting_cli: Callable, tmp_path: Path
) -> None:
    out = str(tmp_path / "out")
    for period, data in (("2027-H1", None), ("2027-H2", "h2")):
        if data:
            unsegmenting_cli("load", str(tiny_market.DATA / data), "--country", "NL")
        run = unsegmenting_cli(
            "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", period, "--out", out
        )
        assert run.exit_code == 0, run.output
    matrix = json.loads(unsegmenting_cli("cycle", "diff", "1", "2", "--json").stdout)
    assert matrix["counts"][NO_SEGMENT] == {NO_SEGMENT: 1}
    assert matrix["after_segments"][-1] == NO_SEGMENT
    assert NO_SEGMENT in unsegmenting_cli("cycle", "diff", "1", "2").output


def test_no_segment_is_the_cores_outcome_not_a_declared_segment() -> None:
    declared = Dimension(segments=("A", NO_SEGMENT), fallback="A", rules=())
    messages = [p.message for p in declared.problems("segment")]
    assert any("do not declare it" in m for m in messages), messages
    unsegmenting = Dimension(segments=("A",), fallback=NO_SEGMENT, rules=())
    assert unsegmenting.outcomes == ("A", NO_SEGMENT)
    assert [p for p in unsegmenting.problems("segment") if "fallback" in p.path] == []
    typo = Dimension(segments=("A",), fallback="no-segment", rules=())
    assert any(p.path == "segment.fallback" for p in typo.problems("segment"))


def test_plans_and_reports_leave_unsegmented_customers_uncontacted(
    unsegmenting_cli: Callable, tmp_path: Path
) -> None:
    run = unsegmenting_cli(
        "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--out", str(tmp_path)
    )
    assert run.exit_code == 0, run.output
    planned = unsegmenting_cli("strategy", "plan", "1", "--dry-run", "--json")
    assert planned.exit_code == 0, planned.output
    forma = json.loads(planned.stdout)["pro_forma"]
    segments = {row["segment"]: row for row in forma["segments"]}
    assert segments[NO_SEGMENT]["customers"] == 1
    assert segments[NO_SEGMENT]["contacts"] == 0 and segments[NO_SEGMENT]["cost"] == 0
