"""Response curves: the declared families, their gains, and bad declarations."""

from __future__ import annotations

import types

import numpy as np
import pytest

from harmonia import EngagementStrategy, hookimpl, load_definitions
from harmonia.definitions.strategy import ResponseCurve
from harmonia.errors import DefinitionError
from harmonia.strategy.curves import gains, non_increasing, response


def test_adbudg_is_littles_formula_with_half_saturation_as_the_midpoint():
    curve = ResponseCurve("adbudg", minimum=2, maximum=10, shape=0.7, half_saturation=6)
    x = np.array([0.0, 3.0, 6.0, 40.0])
    d = 6**0.7
    expected = 2 + (10 - 2) * x**0.7 / (d + x**0.7)
    assert response(curve, x) == pytest.approx(expected)
    assert response(curve, 6.0) == pytest.approx(6.0)  # half the lift at half-saturation


def test_exponential_reaches_half_the_lift_at_half_saturation_and_scale_moves_the_lift():
    curve = ResponseCurve("exponential", minimum=1, maximum=3, half_saturation=4)
    assert response(curve, 4.0) == pytest.approx(2.0)
    assert response(curve, 4.0, scale=0.5) == pytest.approx(1.5)
    assert response(curve, 0.0, scale=0.5) == pytest.approx(1.0)


def test_gains_are_per_period_contacts_and_add_up_to_the_revenue_between_bounds():
    curve = ResponseCurve(minimum=1, maximum=5, half_saturation=8, revenue_per_unit=100)
    steps = gains(curve, 2, 7, share=0.5)
    # 2 contacts in a half-year are 4 a year; the half-year earns half the yearly revenue
    total = 0.5 * 100 * (response(curve, 14.0) - response(curve, 4.0))
    assert steps.sum() == pytest.approx(total)
    assert np.all(np.diff(steps) <= 0)


def test_an_s_shaped_curve_is_planned_on_its_concave_envelope():
    curve = ResponseCurve(minimum=0, maximum=10, shape=3, half_saturation=4, revenue_per_unit=1)
    raw = np.diff(response(curve, np.arange(0, 11.0)))
    assert raw[1] > raw[0]  # rises first
    steps = gains(curve, 0, 10, share=1.0)
    assert np.all(np.diff(steps) <= 1e-12)
    assert steps.sum() == pytest.approx(raw.sum())
    assert np.all(np.cumsum(steps) >= np.cumsum(raw) - 1e-9)  # a majorant


def test_non_increasing_leaves_falling_values_alone():
    values = np.array([5.0, 3.0, 3.0, 1.0])
    assert non_increasing(values).tolist() == values.tolist()
    assert non_increasing(np.array([1.0, 3.0])).tolist() == [2.0, 2.0]


BAD = """
[[strategies]]
therapy_area = "cardiology"
segment = "grow"
name = "Grow"
channels = [
    { channel = "face_to_face", per_year = 6, cost = 100, min_per_year = 8, response = { maximum = -2, half_saturation = 0 } },
    { channel = "email", per_year = 6, cost = 1, max_per_year = 12 },
]
"""


def test_a_bad_curve_names_the_definition_and_every_field(tmp_path):
    path = tmp_path / "strategies.toml"
    path.write_text(BAD)
    with pytest.raises(DefinitionError) as caught:
        load_definitions(EngagementStrategy, path)
    text = caught.value.render()
    assert "strategies[0].channels[0].response.maximum: -2.0 is negative" in text
    assert "strategies[0].channels[0].response.half_saturation: 0.0 must be above 0" in text
    assert (
        "strategies[0].channels[0].min_per_year: the minimum 8.0 is above the maximum 6.0" in text
    )
    assert "strategies[0].channels[1].max_per_year: only a channel with a response curve" in text


def test_a_pack_with_a_bad_curve_is_reported_with_its_name(harmonia_plugins, tmp_path):
    path = tmp_path / "strategies.toml"
    path.write_text(BAD)
    pack = types.ModuleType("bad_curves")

    @hookimpl
    def harmonia_engagement_strategies():
        return load_definitions(EngagementStrategy, path)

    pack.harmonia_engagement_strategies = harmonia_engagement_strategies
    harmonia_plugins.register(pack, name="bad", distribution="harmonia-bad", version="1")
    catalog = harmonia_plugins.catalog()
    assert dict(catalog.engagement_strategies) == {}
    warning = "\n".join(catalog.warnings)
    assert "harmonia-bad" in warning
    assert "channels[0].response.maximum" in warning


def test_the_oncology_curves_load_and_reproduce_the_expected_revenue_at_the_standard_plan():
    import harmonia_oncology

    strategies = harmonia_oncology.harmonia_engagement_strategies()
    champion = next(s for s in strategies if s.segment == "champion" and s.variant == "standard")
    yearly = sum(
        plan.response.revenue_per_unit * float(response(plan.response, plan.per_year))
        for plan in champion.channels
        if plan.response is not None
    )
    assert yearly == pytest.approx(champion.expected_revenue, rel=0.05)
