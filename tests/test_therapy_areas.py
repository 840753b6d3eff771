"""The diabetes and immunology packs, installed through entry points, on one market.

A customer can be in several therapy areas: one physician (internal medicine
treats both type 2 diabetes and immune-mediated diseases) is segmented by
each therapy area's own rule set, from that therapy area's own metrics and
questionnaire, and the two segments are independent. The universe is ten
internists and one hospital of the test market NL, written by hand below so
each expected segment can be read off the data.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
from helpers import write

import harmonia_diabetes
import harmonia_immunology
from harmonia import Harmonia
from harmonia.plugin.manager import PluginManager

INTERNISTS = [f"C{i:02d}" for i in range(1, 11)]


def test_packs_are_installed_under_the_harmonia_entry_point_group():
    found = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="harmonia")}
    assert found["diabetes"] == "harmonia_diabetes"
    assert found["immunology"] == "harmonia_immunology"
    manager = PluginManager.discover(strict=True)
    catalog = manager.catalog()
    assert {"diabetes-core", "immunology-core"} <= set(catalog.rule_sets)
    assert {("diabetes-profile", "1"), ("immunology-profile", "1")} <= set(catalog.questionnaires)


def _universe(directory: Path) -> list[Path]:
    customers = ["customer_id;country;type;specialty;territory"]
    customers += [f"{c};NL;HCP;internal_medicine;T1" for c in INTERNISTS]
    customers += ["H01;NL;HCO;hospital;T1"]
    # Diabetes: C10 has the most patients on treatment and C01 the most new
    # prescriptions; immunology: C01 has the most eligible patients.
    metrics = ["customer_id;therapy_area;metric;period;value"]
    for i, customer in enumerate(INTERNISTS, start=1):
        metrics += [
            f"{customer};diabetes;potential;2026;{10 * i}",
            f"{customer};diabetes;nrx;2027-Q1;{11 - i}",
            f"{customer};diabetes;trx;2027-Q1;{20 + i}",
            f"{customer};immunology;potential;2026;{10 * (11 - i)}",
        ]
    metrics += ["H01;diabetes;potential;2026;5000", "H01;immunology;potential;2026;900"]
    answers = {
        # experienced (3, 3) x disease control (2, 2)
        "C01": ("expert", "switch_mechanism", "remission", "comparative_evidence"),
        # naive (0, 0) x safety and convenience (-2, -2)
        "C03": ("refer", "refer_back", "low_burden", "patient_support"),
        # initiating (1, 1) x safety and convenience (-1, -1)
        "C04": ("occasional", "optimise_dose", "long_term_safety", "safety_monitoring"),
    }
    items = ("advanced_therapy_initiation", "loss_of_response", "treatment_goal")
    items += ("most_useful_support",)
    responses = ["customer_id;questionnaire;version;respondent;answered_at;question;answer"]
    for customer, codes in answers.items():
        head = f"{customer};immunology-profile;1;rep1;2026-11-02"
        responses += [f"{head};indications;rheumatoid_arthritis"]
        responses += [f"{head};patients_on_advanced_therapy;40"]
        responses += [f"{head};{item};{code}" for item, code in zip(items, codes, strict=True)]
    return [
        write(directory / "customers.csv", "\n".join(customers) + "\n"),
        write(directory / "metrics.csv", "\n".join(metrics) + "\n"),
        write(directory / "responses.csv", "\n".join(responses) + "\n"),
    ]


@pytest.fixture
def app(harmonia_database, tiny, register_pack, harmonia_plugins, tmp_path) -> Harmonia:
    register_pack(harmonia_diabetes, name="diabetes")
    register_pack(harmonia_immunology, name="immunology")
    app = Harmonia(harmonia_database, harmonia_plugins.catalog(), actor="test")
    loaded = app.loads.run(app.loads.plan(_universe(tmp_path / "in")), country="NL")
    assert [result.rows_quarantined for result in loaded] == [0, 0, 0]
    return app


def _segments(app: Harmonia, cycle: int, customer: str) -> dict[str, str]:
    explanation = app.cycles.explain(cycle, customer).to_json()
    return {trace["dimension"]: trace["segment"] for trace in explanation["dimensions"]}


def test_a_customer_in_two_therapy_areas_keeps_independent_segments(app, tmp_path):
    run = {
        area: app.cycles.run(
            country="NL", therapy_area=area, period="2027-H1", directory=tmp_path / area
        ).cycle.id
        for area in ("diabetes", "immunology")
    }
    diabetes = {c: _segments(app, run["diabetes"], c) for c in [*INTERNISTS, "H01"]}
    immunology = {c: _segments(app, run["immunology"], c) for c in [*INTERNISTS, "H01"]}

    # Diabetes is data-driven: patients on treatment x new prescriptions.
    assert diabetes["C10"]["segment"] == "grow"  # most patients, fewest new prescriptions
    assert diabetes["C01"]["segment"] == "maintain"  # fewest patients, most new prescriptions
    assert diabetes["C05"]["segment"] == "develop"  # medium x medium
    assert diabetes["H01"]["segment"] == "monitor"
    assert {s["needs"] for c, s in diabetes.items()} == {"unprofiled"}

    # Immunology is needs-based: the questionnaire decides.
    assert immunology["C01"]["needs"] == immunology["C01"]["segment"] == "outcomes_expert"
    assert immunology["C03"]["segment"] == "referral_pathway"
    assert immunology["C04"]["segment"] == "safety_reassurance"
    assert immunology["C02"] == {"segment": "profile_first", "needs": "unprofiled", "tier": "B"}
    assert immunology["C10"]["segment"] == "monitor"  # unprofiled, bottom decile

    # The same physician, two therapy areas, two unrelated answers.
    assert (diabetes["C01"]["segment"], immunology["C01"]["segment"]) == (
        "maintain",
        "outcomes_expert",
    )
    assert (diabetes["C10"]["segment"], immunology["C10"]["segment"]) == ("grow", "monitor")
    # Re-running one therapy area leaves the other's cycle as it was.
    again = app.cycles.run(
        country="NL", therapy_area="diabetes", period="2027-H1", directory=tmp_path / "again"
    )
    assert app.cycles.diff(run["diabetes"], again.cycle.id)["moved"] == 0
    assert _segments(app, run["immunology"], "C01")["segment"] == "outcomes_expert"


def test_pack_problems_names_a_segment_left_without_a_strategy():
    from harmonia import EngagementStrategy
    from harmonia.testing import module_pack, pack_problems

    strategies = [
        s for s in harmonia_diabetes.harmonia_engagement_strategies() if s.segment != "develop"
    ]
    broken = module_pack(
        "broken-diabetes",
        harmonia_segmentation_rules=harmonia_diabetes.harmonia_segmentation_rules,
        harmonia_questionnaires=harmonia_diabetes.harmonia_questionnaires,
        harmonia_engagement_strategies=lambda: [
            *strategies,
            EngagementStrategy(therapy_area="diabetes", segment="vip", name="VIP", target=False),
        ],
    )
    problems = pack_problems(broken)
    assert len(problems) == 3, problems  # vip (refused by the catalog), develop in both variants
    assert "engagement strategy diabetes/standard/vip" in problems[0]
    assert "'vip' is not a segment of the installed diabetes rule sets" in problems[0]
    assert "variant 'standard': no strategy for the segments ['develop']" in problems[2]
