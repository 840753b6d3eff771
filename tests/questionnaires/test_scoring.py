"""Profile scoring SQL: every method x missing policy x skip-logic case, on every engine.

The same generated SQL runs on DuckDB, SQLite and PostgreSQL over tables
shaped like the store's, and must give the exact scores and levels worked
out by hand below.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from qhelpers import build, option, questionnaire_data

from harmonia.questionnaires import Questionnaire
from harmonia.questionnaires.scoring import dimension_ctes

START, END = "2025-01-01", "2027-01-01"
MAIN_BANDS = [
    {"level": "none", "min": 0},
    {"level": "some", "min": 1},
    {"level": "much", "min": 2.5},
]
SCORES = {"x": 0, "y": 1, "z": 2, "w": 3}


def _item(item_id: str, type_: str = "single", **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "type": type_, "text": {"en": item_id}, **fields}


def _dimension(name: str, items: list[str], bands: list[dict], **fields: Any) -> dict[str, Any]:
    return {"name": name, "items": items, "bands": bands, **fields}


def probe_data() -> dict[str, Any]:
    """a, b: 0-3 optional; gate: boolean, required; c: 1-3, asked when gate = true;
    kc: asked when the number k > 10, d: when the decimal d1 >= 0.5."""
    quarter = [option(code, score) for code, score in SCORES.items()]
    items = [
        _item("a", options=quarter),
        _item("b", options=quarter),
        _item("gate", "boolean", required=True),
        _item(
            "c",
            options=[option("x", 1), option("y", 2), option("z", 3)],
            enable_when=[{"item": "gate", "operator": "=", "answer": True}],
        ),
        _item("n", options=[option("neg2", -2), option("neg1", -1)]),
        _item("m", "multiple", options=[option("p", 1), option("q", 2), option("r", 4)]),
        _item("k", "integer", min=0, max=20),
        _item("d1", "decimal", min=0, max=1),
        _item("d2", "decimal", min=0, max=1),
        _item(
            "kc",
            options=[option("x", 1)],
            enable_when=[{"item": "k", "operator": ">", "answer": 10}],
        ),
        _item(
            "d",
            options=[option("x", 1)],
            enable_when=[{"item": "d1", "operator": ">=", "answer": 0.5}],
        ),
    ]
    dimensions = [
        _dimension(
            f"{method}_{missing}", ["a", "b", "c"], MAIN_BANDS, method=method, missing=missing
        )
        for method in ("sum", "mean", "max")
        for missing in ("unknown", "zero", "partial")
    ]
    signed = [{"level": "neg", "min": -2}, *MAIN_BANDS]
    dimensions += [
        _dimension("only_c", ["c"], MAIN_BANDS, missing="zero"),
        _dimension("neg_max_zero", ["n", "a"], signed, method="max", missing="zero"),
        _dimension("neg_max_partial", ["n", "a"], signed, method="max", missing="partial"),
        _dimension("flag", ["gate"], [{"level": "no", "min": 0}, {"level": "yes", "min": 1}]),
        _dimension("multi", ["m"], [{"level": "few", "min": 1}, {"level": "many", "min": 5}]),
        _dimension("count", ["k"], [{"level": "low", "min": 0}, {"level": "high", "min": 10}]),
        _dimension(
            "tolerance", ["d1", "d2"], [{"level": "lo", "min": 0}, {"level": "hi", "min": 0.8}]
        ),
        _dimension(
            "over_ten",
            ["k", "kc"],
            [{"level": "low", "min": 0}, {"level": "high", "min": 10}],
            missing="unknown",
        ),
        _dimension(
            "half",
            ["d"],
            [{"level": "no", "min": 0}, {"level": "yes", "min": 1}],
            missing="unknown",
        ),
    ]
    return questionnaire_data(items=items, dimensions=dimensions)


@pytest.fixture(scope="module")
def versions() -> list[Questionnaire]:
    """Version 1, and version 2 where the options of ``m`` score ten times more."""
    first = probe_data()
    second = copy.deepcopy(first)
    second["version"] = "2"
    second["previous"] = {"version": "1"}
    for entry in second["items"][5]["options"]:
        entry["score"] *= 10
    return [build(first), build(second)]


# customer -> (version, answered_at, {question: answer}); multiple choice: one row per code.
RESPONSES: dict[int, tuple[str, str, dict[str, Any]]] = {
    1: ("1", "2026-03-01", {"a": "z", "b": "y", "gate": "false"}),
    2: ("1", "2026-03-01", {"a": "z", "gate": "true"}),
    3: ("1", "2026-03-01", {"gate": "false"}),
    4: ("1", "2026-03-01", {"a": "w", "b": "w", "gate": "true", "c": "z"}),
    5: ("1", "2026-03-01", {"a": "x", "gate": "true", "c": "x"}),
    6: (
        "1",
        "2026-03-01",
        {"n": "neg2", "gate": "false", "m": ["p", "r"], "k": "12", "d1": "0.7", "d2": "0.1"},
    ),
    11: ("2", "2026-03-01", {"gate": "false", "m": ["p"]}),
    12: ("1", "2026-03-01", {"gate": "false", "m": ["p"]}),
    # Skip logic on numbers: kc is asked when k > 10, d when d1 >= 0.5.
    13: ("1", "2026-03-01", {"gate": "false", "k": "5", "d1": "0.5", "d": "x"}),
    14: ("1", "2026-03-01", {"gate": "false", "k": "12", "kc": "x", "d1": "0.25"}),
    20: ("0", "2026-03-01", {"a": "z", "gate": "false"}),  # a version nobody installed
}
# Customer 7: an older and a newer response in the window (the newer wins); 8: only a
# response older than the window; 9: only one after it (neither is scored).
EXTRA = [
    (7, "1", "2025-06-01", {"a": "w", "b": "w", "gate": "false"}),
    (7, "1", "2026-06-01T10:00:00", {"a": "x", "b": "x", "gate": "false"}),
    (8, "1", "2024-12-31", {"a": "w", "b": "w", "gate": "false"}),
    (9, "1", "2027-01-01", {"a": "w", "b": "w", "gate": "false"}),
]

INCOMPLETE = (None, None, "incomplete")


def main_expected(sum_: tuple, mean: tuple, max_: tuple) -> dict[str, tuple]:
    """Expected (score, level, status) of the nine main dimensions from per-policy tuples."""
    found = {}
    for method, per_policy in (("sum", sum_), ("mean", mean), ("max", max_)):
        for missing, expected in zip(("unknown", "zero", "partial"), per_policy, strict=True):
            found[f"{method}_{missing}"] = expected
    return found


def scored(score: float, level: str) -> tuple:
    return (score, level, "scored")


EXPECTED: dict[int, dict[str, tuple]] = {
    # c is disabled (gate false): two applicable items, both answered.
    1: main_expected((scored(3, "much"),) * 3, (scored(1.5, "some"),) * 3, (scored(2, "some"),) * 3)
    | {"only_c": INCOMPLETE, "neg_max_zero": scored(2, "some"), "flag": scored(0, "no")},
    # c enabled and unanswered, b unanswered: three applicable items, one answered.
    2: main_expected(
        (INCOMPLETE, scored(2, "some"), scored(2, "some")),
        (INCOMPLETE, scored(2 / 3, "none"), scored(2, "some")),
        (INCOMPLETE, scored(2, "some"), scored(2, "some")),
    )
    | {"only_c": scored(0, "none"), "flag": scored(1, "yes")},
    # Nothing applicable answered (c disabled).
    3: main_expected(
        (INCOMPLETE, scored(0, "none"), INCOMPLETE),
        (INCOMPLETE, scored(0, "none"), INCOMPLETE),
        (INCOMPLETE, scored(0, "none"), INCOMPLETE),
    )
    | {"neg_max_zero": scored(0, "none"), "neg_max_partial": INCOMPLETE},
    4: main_expected((scored(9, "much"),) * 3, (scored(3, "much"),) * 3, (scored(3, "much"),) * 3)
    | {"only_c": scored(3, "much")},
    5: main_expected(
        (INCOMPLETE, scored(1, "some"), scored(1, "some")),
        (INCOMPLETE, scored(1 / 3, "none"), scored(0.5, "none")),
        (INCOMPLETE, scored(1, "some"), scored(1, "some")),
    ),
    # A negative score: "zero" counts the missing item as 0, which is higher.
    6: {
        "neg_max_zero": scored(0, "none"),
        "neg_max_partial": scored(-2, "neg"),
        "multi": scored(5, "many"),
        "count": scored(12, "high"),
        "tolerance": scored(0.8, "hi"),  # 0.7 + 0.1 is 0.7999999999999999 in doubles
        "flag": scored(0, "no"),
        "over_ten": INCOMPLETE,  # k = 12 enables kc, unanswered
        "half": INCOMPLETE,  # d1 = 0.7 enables d, unanswered
    },
    7: main_expected((scored(0, "none"),) * 3, (scored(0, "none"),) * 3, (scored(0, "none"),) * 3),
    # Version 2 scores "p" 10, version 1 scores it 1: each with its own definition.
    11: {"multi": scored(10, "many")},
    12: {"multi": scored(1, "few"), "count": INCOMPLETE, "over_ten": INCOMPLETE},
    # k = 5 disables kc; d1 = 0.5 is >= 0.5.
    13: {"over_ten": scored(5, "low"), "half": scored(1, "yes")},
    # k = 12 enables kc, answered; d1 = 0.25 disables d (nothing applicable).
    14: {"over_ten": scored(13, "high"), "half": INCOMPLETE},
    20: {name: (None, None, "not_comparable") for name in ("sum_zero", "multi", "flag")},
}


def store_rows() -> tuple[list[tuple], list[tuple], list[tuple]]:
    responses, answers = [], []
    entries = [(c, *r) for c, r in RESPONSES.items()] + EXTRA
    for response_id, (customer, version, answered_at, given) in enumerate(entries, start=1):
        stamp = answered_at if "T" in answered_at else f"{answered_at}T00:00:00"
        responses.append((response_id, customer, "probe", version, "rep", stamp))
        for question, answer in given.items():
            for value in answer if isinstance(answer, list) else [answer]:
                answers.append((response_id, question, value))
    customers = sorted({(customer, "FR") for customer, *_ in entries})
    return responses, answers, customers


def run_dimension(engine: Any, versions: list[Questionnaire], name: str) -> dict[int, tuple]:
    ctes = list(dimension_ctes("probe", name, versions, "k", START, END))
    body = ",\n".join(f"{cte} AS ({sql})" for cte, sql in ctes)
    rows = engine.query(
        f"WITH {body} SELECT customer_id, score, level, status FROM k ORDER BY customer_id"
    )
    return {
        int(c): (None if s is None else round(float(s), 9), level, status)
        for c, s, level, status in rows
    }


def test_scoring_gives_the_expected_levels_on_every_engine(engine, versions):
    engine.setup(*store_rows())
    names = [d.name for d in versions[0].dimensions]
    for name in names:
        found = run_dimension(engine, versions, name)
        assert set(found) == {c for c in RESPONSES} | {7}, (engine.name, name)  # not 8, not 9
        for customer, by_dimension in EXPECTED.items():
            if name not in by_dimension:
                continue
            score, level, status = by_dimension[name]
            expected = (None if score is None else round(float(score), 9), level, status)
            assert found[customer] == expected, (engine.name, name, customer)


def test_python_levels_agree_with_sql_bands(versions):
    dimension = versions[0].dimension("tolerance")
    assert dimension.level(0.7 + 0.1) == "hi"
    assert dimension.level(0.79) == "lo"
