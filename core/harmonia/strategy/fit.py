"""Calibrating response curves from history, with scipy's least squares.

History is one row per customer and year (or any fixed span): the contacts
they got and the response observed (prescriptions, units, patients),
optionally with a ``segment`` to fit one curve per segment. The fit is
non-linear least squares (``scipy.optimize.curve_fit``, trust-region
reflective, with the definition's bounds: minimum >= 0, maximum >= minimum,
shape in (0, 5], half-saturation > 0), reported with its quality: R², root
mean squared error and each parameter's standard error. Bayesian fitting
(PyMC-Marketing) is deliberately not a dependency; scipy comes with the
``fit`` extra.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np

from harmonia.definitions.strategy import ResponseCurve
from harmonia.errors import ConfigError, InputError
from harmonia.strategy.curves import response

#: Fewer points than this cannot say anything about four parameters.
MIN_POINTS = 8


@attrs.frozen
class CurveFit:
    """A fitted curve and how well it fits."""

    segment: str | None
    curve: ResponseCurve
    points: int
    r_squared: float
    rmse: float
    #: Standard error of each fitted parameter (inf where the data cannot tell).
    errors: dict[str, float]

    def as_json(self) -> dict[str, object]:
        return {
            "segment": self.segment,
            "curve": attrs.asdict(self.curve),
            "points": self.points,
            "r_squared": self.r_squared,
            "rmse": self.rmse,
            "standard_errors": self.errors,
        }

    def toml(self) -> str:
        """The curve as a pack author pastes it into a strategy's channel."""
        c = self.curve
        shape = "" if c.family == "exponential" else f", shape = {c.shape:.3g}"
        return (
            f'response = {{ family = "{c.family}", minimum = {c.minimum:.4g}, '
            f"maximum = {c.maximum:.4g}{shape}, half_saturation = {c.half_saturation:.4g}, "
            f"revenue_per_unit = {c.revenue_per_unit:g} }}"
        )


def fit_curve(
    contacts: np.ndarray,
    observed: np.ndarray,
    *,
    family: str = "adbudg",
    revenue_per_unit: float = 0.0,
    segment: str | None = None,
) -> CurveFit:
    """Fit one curve to ``observed`` responses at ``contacts`` a year."""
    try:
        from scipy.optimize import curve_fit
    except ImportError:
        raise ConfigError(
            "fitting response curves needs scipy", fix="pip install 'harmonia[fit]'"
        ) from None
    x = np.asarray(contacts, dtype=float)
    y = np.asarray(observed, dtype=float)
    where = f"segment {segment}" if segment else "history"
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < MIN_POINTS or len(np.unique(x)) < 3:
        raise InputError(
            f"{len(x)} points at {len(np.unique(x))} different contact levels cannot fit a curve",
            where=where,
            fix=f"give at least {MIN_POINTS} rows with 3 or more different numbers of contacts",
        )
    if np.any(x < 0) or np.any(y < 0):
        raise InputError(
            "contacts and responses cannot be negative", where=where, fix="correct those rows"
        )

    def model(
        values: np.ndarray, minimum: float, lift: float, shape: float, half: float
    ) -> np.ndarray:
        curve = ResponseCurve(family, minimum, minimum + lift, shape, half)  # type: ignore[arg-type]
        return response(curve, values)

    start = [
        max(float(np.mean(y[x == x.min()])), 0.0),
        max(float(y.max() - y.min()), 1e-6),
        1.0,
        max(float(np.median(x[x > 0])) if np.any(x > 0) else 1.0, 1e-3),
    ]
    shape_bounds = (1e-3, 5.0) if family == "adbudg" else (0.999, 1.001)  # unused by exponential
    try:
        parameters, covariance = curve_fit(
            model,
            x,
            y,
            p0=start,
            bounds=([0.0, 0.0, shape_bounds[0], 1e-3], [np.inf, np.inf, shape_bounds[1], np.inf]),
            method="trf",
            maxfev=20_000,
        )
    except (RuntimeError, ValueError) as error:
        raise InputError(
            f"the fit did not converge: {error}",
            where=where,
            fix="check the data (a response that does not grow with contacts has no curve), "
            "or try --family exponential",
        ) from None
    minimum, lift, shape, half = (float(p) for p in parameters)
    curve = ResponseCurve(
        family,  # type: ignore[arg-type]
        minimum,
        minimum + lift,
        shape if family == "adbudg" else 1.0,
        half,
        revenue_per_unit,
    )
    residuals = y - response(curve, x)
    total = float(np.sum((y - y.mean()) ** 2))
    errors = np.sqrt(np.clip(np.diag(covariance), 0, None))
    names = ("minimum", "lift", "shape", "half_saturation")
    return CurveFit(
        segment,
        curve,
        len(x),
        1 - float(np.sum(residuals**2)) / total if total > 0 else math.nan,
        float(np.sqrt(np.mean(residuals**2))),
        {
            name: float(e)
            for name, e in zip(names, errors, strict=True)
            if family == "adbudg" or name != "shape"
        },
    )


def fit_segments(
    contacts: np.ndarray,
    observed: np.ndarray,
    segments: Sequence[str | None],
    **options: object,
) -> list[CurveFit]:
    """One fit per segment (or one for all when no row names a segment)."""
    labels = np.array([s or "" for s in segments], dtype=object)
    fits = []
    for label in sorted(set(labels.tolist())):
        rows = labels == label
        fits.append(
            fit_curve(contacts[rows], observed[rows], segment=label or None, **options)  # type: ignore[arg-type]
        )
    return fits


def read_history(path: object) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """``contacts``, ``response`` (and ``segment``) columns of a CSV (``,``/``;``,
    decimal commas) or Parquet file."""
    from pathlib import Path

    from harmonia.compute import duckdb_connection
    from harmonia.files import normalize_header

    location = Path(str(path))
    if not location.is_file():
        raise InputError("no such file", where=str(location), fix="check the path")
    connection = duckdb_connection()
    try:
        if location.suffix.lower() == ".parquet":
            relation = connection.read_parquet(str(location))
        else:
            relation = connection.read_csv(str(location), header=True, all_varchar=True)
        names = {normalize_header(c): c for c in relation.columns}
        missing = [c for c in ("contacts", "response") if c not in names]
        if missing:
            raise InputError(
                f"a history file needs the columns {', '.join(missing)}; the header has "
                f"{', '.join(names)}",
                where=str(location),
                fix="one row per customer and year: contacts, response (and segment)",
            )

        def number(name: str) -> str:
            return f"TRY_CAST(replace(CAST(r.\"{names[name]}\" AS VARCHAR), ',', '.') AS DOUBLE)"

        segment = f'CAST(r."{names["segment"]}" AS VARCHAR)' if "segment" in names else "NULL"
        connection.register("history_in", relation)
        table = connection.sql(
            f"SELECT {number('contacts')} AS contacts, {number('response')} AS response, "
            f"{segment} AS segment FROM history_in r"
        ).fetchnumpy()
    finally:
        connection.close()
    return (
        np.asarray(table["contacts"], dtype=float),
        np.asarray(table["response"], dtype=float),
        [None if s is None else str(s) for s in table["segment"].tolist()],
    )
