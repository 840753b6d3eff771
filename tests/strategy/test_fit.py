"""Calibrating response curves: known curves are recovered, bad history is explained."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import write

from harmonia.definitions.strategy import ResponseCurve
from harmonia.errors import InputError
from harmonia.strategy.curves import response
from harmonia.strategy.fit import fit_curve

pytest.importorskip("scipy")


def _history(curve: ResponseCurve, noise: float, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    contacts = rng.integers(0, 25, 400).astype(float)
    return contacts, np.maximum(response(curve, contacts) + rng.normal(0, noise, len(contacts)), 0)


@pytest.mark.parametrize("family", ["adbudg", "exponential"])
def test_a_known_curve_is_recovered_with_its_fit_quality(family):
    truth = ResponseCurve(family, minimum=2.0, maximum=8.0, shape=0.8, half_saturation=6.0)
    contacts, observed = _history(truth, noise=0.05)
    fitted = fit_curve(contacts, observed, family=family, revenue_per_unit=500)
    assert fitted.curve.minimum == pytest.approx(2.0, abs=0.1)
    assert fitted.curve.maximum == pytest.approx(8.0, rel=0.05)
    assert fitted.curve.half_saturation == pytest.approx(6.0, rel=0.1)
    if family == "adbudg":
        assert fitted.curve.shape == pytest.approx(0.8, abs=0.1)
    assert fitted.r_squared > 0.99 and fitted.rmse < 0.07
    assert fitted.curve.revenue_per_unit == 500
    assert "revenue_per_unit = 500" in fitted.toml()


def test_noise_lowers_the_reported_quality():
    truth = ResponseCurve(minimum=1.0, maximum=3.0, half_saturation=4.0)
    fitted = fit_curve(*_history(truth, noise=1.0))
    assert fitted.r_squared < 0.5


def test_too_little_history_is_explained():
    with pytest.raises(InputError, match="cannot fit a curve") as caught:
        fit_curve(np.array([1.0, 1, 2, 2]), np.array([1.0, 1, 2, 2]))
    assert "at least 8 rows" in caught.value.fix


def test_fit_command_fits_one_curve_per_segment(harmonia_cli, tmp_path):
    truth = {
        "champion": ResponseCurve(minimum=2, maximum=6, half_saturation=5),
        "grow": ResponseCurve(minimum=1, maximum=2, half_saturation=3),
    }
    lines = ["segment;contacts;response"]
    for segment, curve in truth.items():
        for x in range(0, 20):
            lines.append(
                f"{segment};{x};{str(round(float(response(curve, x)), 4)).replace('.', ',')}"
            )
    path = write(tmp_path / "history.csv", "\n".join(lines) + "\n")
    result = harmonia_cli("strategy", "fit", str(path), "--json")
    assert result.exit_code == 0, result.output
    fits = {f["segment"]: f for f in json.loads(result.output)}
    assert fits["champion"]["curve"]["maximum"] == pytest.approx(6, rel=0.01)
    assert fits["grow"]["r_squared"] > 0.999
    shown = harmonia_cli("strategy", "fit", str(path))
    assert 'response = { family = "adbudg"' in shown.output
