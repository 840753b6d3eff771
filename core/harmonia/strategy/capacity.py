"""What the field force can deliver: reps per territory, and the channels' budgets.

The planner needs one thing from the field: how many reps (full-time
equivalents) each territory has. :class:`FieldForce` is that narrow
interface, territory -> reps. Today it comes from a CSV or XLSX file
(columns ``territory`` and ``reps``) or, for territories the file does not
list, from the country's ``reps_per_territory`` parameter; the roster of
field refinement will feed the same interface.

A territory's capacity in a period is ``reps x working_days x calls_per_day
x share of the year`` face-to-face calls and ``reps x event_seats_per_rep x
share`` event attendances (country parameters, bounded by the global
catalogue). Every other channel is limited only by its budget, where one is
given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import attrs
import numpy as np

from harmonia.definitions.strategy import CHANNELS, FIELD_CHANNELS
from harmonia.errors import ConfigError, InputError


@attrs.frozen
class FieldForce:
    """Reps per territory; ``default`` for a territory not listed."""

    reps: Mapping[str, float]
    default: float
    source: str = "the country's reps_per_territory"

    def of(self, territories: np.ndarray) -> np.ndarray:
        """Reps of each territory in ``territories``."""
        return np.array([self.reps.get(str(t), self.default) for t in territories], dtype=float)

    def scaled(self, change: str) -> FieldForce:
        """Every territory's reps changed by ``+2``, ``-1`` (reps each) or ``+10%``."""
        text = change.strip()
        try:
            if text.endswith("%"):
                factor = 1 + float(text[:-1]) / 100

                def apply(reps: float) -> float:
                    return max(0.0, reps * factor)
            else:
                delta = float(text)

                def apply(reps: float) -> float:
                    return max(0.0, reps + delta)
        except ValueError:
            raise ConfigError(
                f"{change!r} is not a change of reps", fix="write +2, -1 or +10%"
            ) from None
        return FieldForce(
            {t: apply(r) for t, r in self.reps.items()}, apply(self.default), self.source
        )


@attrs.frozen
class Capacity:
    """What a plan may use: the field force and, per channel, a budget for the period."""

    field_force: FieldForce
    budgets: Mapping[str, float] = attrs.Factory(dict)

    def __attrs_post_init__(self) -> None:
        for channel, amount in self.budgets.items():
            if channel in FIELD_CHANNELS or channel not in CHANNELS:
                allowed = [c for c in CHANNELS if c not in FIELD_CHANNELS]
                raise ConfigError(
                    f"no budget can be set for {channel!r}",
                    where="--budget",
                    fix=f"budgets limit {', '.join(allowed)}; face-to-face calls and events are "
                    "limited by the field force (--capacity)",
                )
            if not math.isfinite(amount) or amount < 0:
                raise ConfigError(
                    f"the {channel} budget {amount} is not an amount",
                    where="--budget",
                    fix="give a number of 0 or more, e.g. --budget email=20000",
                )


def parse_budgets(values: list[str] | tuple[str, ...]) -> dict[str, float]:
    """``["email=20000", "web=5000"]`` -> ``{"email": 20000.0, "web": 5000.0}``."""
    budgets = {}
    for value in values:
        channel, sep, amount = value.partition("=")
        try:
            budgets[channel.strip()] = float(amount.replace(",", "."))
        except ValueError:
            sep = ""
        if not sep:
            raise ConfigError(
                f"{value!r} is not CHANNEL=AMOUNT",
                where="--budget",
                fix="e.g. --budget email=20000",
            )
    return budgets


def read_field_force(path: Path, default: float) -> FieldForce:
    """Reps per territory from a CSV (``,`` or ``;``, decimal commas) or XLSX file."""
    location = str(path)
    if not path.is_file():
        raise InputError("no such file", where=location, fix="check the --capacity path")
    rows = _xlsx_rows(path) if path.suffix.lower() == ".xlsx" else _csv_rows(path)
    if not rows:
        raise InputError("the file is empty", where=location, fix="give a header and rows")
    header = [_normalize(str(name or "")) for name in rows[0]]
    missing = [name for name in ("territory", "reps") if name not in header]
    if missing:
        raise InputError(
            f"a capacity file needs the columns territory and reps; the header has "
            f"{', '.join(h for h in header if h) or 'nothing'}",
            where=location,
            fix="name the columns territory and reps (one row per territory)",
        )
    at_territory, at_reps = header.index("territory"), header.index("reps")
    reps: dict[str, float] = {}
    problems = []
    for line, row in enumerate(rows[1:], start=2):
        territory = str(row[at_territory] or "").strip() if at_territory < len(row) else ""
        value = row[at_reps] if at_reps < len(row) else None
        if not territory:
            if any(str(cell or "").strip() for cell in row):
                problems.append(f"row {line}: no territory")
            continue
        number = _number(value)
        if number is None or number < 0:
            problems.append(
                f"row {line}: reps {value!r} of {territory} is not a number of 0 or more"
            )
        elif territory in reps:
            problems.append(f"row {line}: territory {territory} is listed twice")
        else:
            reps[territory] = number
    if problems:
        raise InputError(
            "; ".join(problems[:5])
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
            where=location,
            fix="give each territory once, with its reps (full-time equivalents, e.g. 1 or 0.5)",
        )
    return FieldForce(reps, default, source=location)


def _normalize(name: str) -> str:
    from harmonia.files import normalize_header

    return normalize_header(name)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _csv_rows(path: Path) -> list[list[str]]:
    import csv

    text = path.read_text(encoding="utf-8-sig")
    first = text.splitlines()[0] if text else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return [row for row in csv.reader(text.splitlines(), delimiter=delimiter)]


def _xlsx_rows(path: Path) -> list[list[object]]:
    try:
        import openpyxl
    except ImportError:
        raise InputError(
            "reading XLSX needs openpyxl", where=str(path), fix="pip install harmonia-excel"
        ) from None
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()


def territory_capacity(
    reps: np.ndarray, *, share: float, working_days: float, calls_per_day: float, seats: float
) -> dict[str, np.ndarray]:
    """Face-to-face calls and event seats each territory has in the period."""
    return {
        "face_to_face": np.floor(reps * working_days * calls_per_day * share + 1e-9),
        "event": np.floor(reps * seats * share + 1e-9),
    }
