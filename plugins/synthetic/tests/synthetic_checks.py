"""Independent checkers for the synthetic-universe tests.

They re-implement, row by row in plain Python, what the generator does
vectorized: slow and obvious on purpose, so that a bug in the fast path cannot
hide behind the same bug in the test. (A uniquely named module rather than
``conftest``, so that importing it never picks up another directory's conftest.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from harmonia import Batch, IdentifierScheme, InvalidIdentifier, Period, Questionnaire


def tables(batches: Iterable[Batch]) -> dict[str, pa.Table]:
    """All batches of each kind as one table."""
    parts: dict[str, list[pa.Table]] = {}
    for batch in batches:
        parts.setdefault(batch.kind, []).append(batch.table)
    return {kind: pa.concat_tables(found) for kind, found in parts.items()}


# --- independent checkers -------------------------------------------------------------


def answer_problem(item: Any, answer: str) -> str | None:
    """Why ``answer`` is not a valid answer to ``item`` (None when it is)."""
    if item.type in ("single", "multiple"):
        codes = answer.split("|") if item.type == "multiple" else [answer]
        offered = {option.code for option in item.options}
        if not codes or any(code not in offered for code in codes) or len(set(codes)) < len(codes):
            return f"{answer!r} is not among {sorted(offered)}"
        return None
    if item.type in ("integer", "decimal", "scale"):
        try:
            value = float(answer) if item.type == "decimal" else int(answer)
        except ValueError:
            return f"{answer!r} is not a number"
        low = -float("inf") if item.min is None else item.min
        high = float("inf") if item.max is None else item.max
        return None if low <= value <= high else f"{value} is outside {low}..{high}"
    if item.type == "boolean":
        return None if answer in ("true", "false") else f"{answer!r} is not true/false"
    if item.type == "date":
        try:
            dt.date.fromisoformat(answer)
        except ValueError:
            return f"{answer!r} is not a date"
        return None
    return None if answer else "empty text"


def enabled(item: Any, answers: dict[str, str], questionnaire: Questionnaire) -> bool:
    """FHIR enableWhen for one respondent, from their answers as text."""
    if not item.enable_when:
        return True
    results = []
    for condition in item.enable_when:
        source = questionnaire.item(condition.item)
        given = answers.get(condition.item)
        if condition.operator == "exists":
            results.append((given is not None) == bool(condition.answer))
            continue
        if given is None:
            results.append(False)
            continue
        if source.type == "multiple":
            chosen = str(condition.answer) in given.split("|")
            results.append(chosen if condition.operator == "=" else not chosen)
            continue
        value: Any = given
        target: Any = condition.answer
        if source.type in ("integer", "decimal", "scale"):
            value, target = float(given), float(target)
        elif source.type == "boolean":
            value = given == "true"
        ops = {
            "=": value == target,
            "!=": value != target,
            ">": value > target,
            ">=": value >= target,
            "<": value < target,
            "<=": value <= target,
        }
        results.append(ops[condition.operator])
    return all(results) if item.enable_behavior == "all" else any(results)


def bad_rows(
    found: dict[str, pa.Table],
    *,
    country: str,
    schemes: dict[str, IdentifierScheme],
    questionnaire: Questionnaire | None,
) -> dict[str, int]:
    """How many rows of each kind a careful loader would quarantine."""
    customers = found["customers"].to_pylist()
    known = {row["customer_id"] for row in customers}
    counts = {"customers": sum(_bad_customer(row, country, schemes) for row in customers)}
    counts["metrics"] = sum(_bad_metric(row, known) for row in found["metrics"].to_pylist())
    if "responses" in found and questionnaire is not None:
        counts["responses"] = sum(
            row["customer_id"] not in known
            or answer_problem(questionnaire.item(row["question"]), row["answer"]) is not None
            for row in found["responses"].to_pylist()
        )
    return counts


def _bad_customer(row: dict[str, Any], country: str, schemes: dict[str, IdentifierScheme]) -> bool:
    if row["country"] != country:
        return True
    if row["id_value"] is None:
        return False
    try:
        schemes[row["id_scheme"]].check(row["id_value"])
    except InvalidIdentifier:
        return True
    return False


def _bad_metric(row: dict[str, Any], known: set[str]) -> bool:
    if row["customer_id"] not in known:
        return True
    try:
        Period.parse(row["period"])
        float(row["value"])
    except (TypeError, ValueError):
        return True
    return False
