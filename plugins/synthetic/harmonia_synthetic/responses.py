"""Questionnaire answers of one block, for any :class:`~harmonia.Questionnaire`.

A ``coverage`` share of the HCPs answered, once each, to a rep of their
territory on a date in the 18 months before the cycle starts. Each item is
answered vectorized over all respondents, in dependency order so that skip
logic can look at the answers it depends on:

* an item whose ``enable_when`` is false (under ``enable_behavior``) is not
  answered; a condition on an unanswered item is false, except
  ``exists = false``;
* an enabled required item is always answered, an optional one 85% of the time;
* choices lean towards high-scoring options for customers with a high
  *affinity* (adoption and potential), so profile scores follow potential;
  numbers, scales and booleans lean the same way.

Conditions follow FHIR's ``enableWhen``: on a multiple-choice item ``=``
means "this code was among the selected", ``!=`` "it was not".
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harmonia import RECORD_KINDS, EnableWhen, Item, Period
from harmonia_synthetic import reference
from harmonia_synthetic.columns import constant, dates, numbers, pick, sigmoid
from harmonia_synthetic.customers import CustomerBlock
from harmonia_synthetic.universe import Universe

OPTIONAL_ANSWERED = 0.85
#: How strongly affinity tilts choices towards high-scoring options.
LEANING = 1.2
RESPONSE_WINDOW_MONTHS = 18
REPS_PER_TERRITORY = 2
#: Dates asked about (a first prescription, a last congress) lie this many days before answering.
DATE_ANSWER_DAYS = 3 * 365

SCHEMA = pa.schema(
    [(name, pa.string()) for name in RECORD_KINDS["responses"].column_names]
    + [("_customer", pa.int64())]
)

_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Answers:
    """One item's answers for every respondent.

    ``values`` are comparable with ``enable_when`` answers: option codes,
    numbers, booleans, dates, phrases; for a multiple-choice item, a
    ``respondents x options`` boolean matrix of what was selected.
    """

    text: pa.Array
    values: np.ndarray
    answered: np.ndarray


@dataclass(frozen=True)
class Respondents:
    """Who answered, and what the generators need to know about them."""

    affinity: np.ndarray
    answered_at: np.ndarray
    language: str

    def __len__(self) -> int:
        return len(self.affinity)


def response_rows(
    universe: Universe, block: CustomerBlock, rng: np.random.Generator
) -> pa.Table | None:
    """The responses of a block, customer-major; None without a questionnaire."""
    questionnaire = universe.questionnaire
    if questionnaire is None:
        return None
    local = np.flatnonzero(~block.hco & (rng.random(len(block)) < universe.coverage))
    respondents = Respondents(
        block.affinity[local], _answer_dates(universe, rng, len(local)), universe.language
    )
    rep = rng.integers(0, REPS_PER_TERRITORY, len(local))
    if not len(local) or not questionnaire.items:
        return SCHEMA.empty_table()
    answers = answer_all(questionnaire.items, rng, respondents)
    answered = np.column_stack([answers[item.id].answered for item in questionnaire.items])
    texts = pa.concat_arrays([answers[item.id].text for item in questionnaire.items])
    cells = np.flatnonzero(answered.ravel())
    who, item = np.divmod(cells, len(questionnaire.items))
    territory = pick(universe.territories, block.territory[local])
    reps = pc.binary_join_element_wise(
        territory, pick([f"-R{n}" for n in range(1, REPS_PER_TERRITORY + 1)], rep), ""
    )
    return pa.table(
        {
            "customer_id": block.ids.take(pa.array(local[who])),
            "questionnaire": constant(questionnaire.id, len(cells)),
            "version": constant(questionnaire.version, len(cells)),
            "respondent": reps.take(pa.array(who)),
            "answered_at": dates(respondents.answered_at).take(pa.array(who)),
            "question": pick([i.id for i in questionnaire.items], item),
            "answer": texts.take(pa.array(item * len(local) + who)),
            "_customer": pa.array(block.positions[local[who]]),
        },
        schema=SCHEMA,
    )


def _answer_dates(universe: Universe, rng: np.random.Generator, count: int) -> np.ndarray:
    """Days in the window before the cycle's first day (that day excluded)."""
    first = Period("month", universe.period.first_month - RESPONSE_WINDOW_MONTHS).start
    days = (universe.period.start - first).days
    return np.datetime64(first, "D") + rng.integers(0, days, count)


def answer_all(
    items: Sequence[Item], rng: np.random.Generator, respondents: Respondents
) -> dict[str, Answers]:
    """Every item's answers, honouring skip logic and ``required``."""
    by_id = {item.id: item for item in items}
    answers: dict[str, Answers] = {}
    for item in dependency_order(items):
        enabled = _enabled(item, by_id, answers, len(respondents))
        wanted = np.ones(len(respondents), bool)
        if not item.required:
            wanted = rng.random(len(respondents)) < OPTIONAL_ANSWERED
        generate = _GENERATORS.get(item.type)
        if generate is None:
            raise ValueError(
                f"item {item.id!r} has type {item.type!r}, which the generator does not know"
            )
        text, values = generate(item, rng, respondents)
        answers[item.id] = Answers(text, values, enabled & wanted)
    return answers


def dependency_order(items: Sequence[Item]) -> list[Item]:
    """Items after the items their conditions look at, otherwise in questionnaire order."""
    known = {item.id for item in items}
    ordered: list[Item] = []
    placed: set[str] = set()
    pending = list(items)
    while pending:
        ready = [i for i in pending if all(c.item in placed for c in i.enable_when)]
        if not ready:
            unknown = sorted({c.item for i in pending for c in i.enable_when} - known)
            problem = (
                f"refer to unknown items {unknown}"
                if unknown
                else "depend on each other in a cycle"
            )
            raise ValueError(f"the conditions of items {[i.id for i in pending]} {problem}")
        ordered.extend(ready)
        placed.update(item.id for item in ready)
        pending = [item for item in pending if item.id not in placed]
    return ordered


# --- skip logic -------------------------------------------------------------------------


def _enabled(
    item: Item, items: dict[str, Item], answers: dict[str, Answers], count: int
) -> np.ndarray:
    if not item.enable_when:
        return np.ones(count, bool)
    results = [_condition(c, items[c.item], answers[c.item]) for c in item.enable_when]
    combine = np.logical_and if item.enable_behavior == "all" else np.logical_or
    return combine.reduce(results)


def _condition(condition: EnableWhen, source: Item, answers: Answers) -> np.ndarray:
    if condition.operator == "exists":
        expected = condition.answer is None or _as_bool(condition.answer)
        return answers.answered == expected
    compare = _COMPARISONS[condition.operator]
    if source.type == "multiple":
        return answers.answered & _multiple_condition(source, answers.values, condition, compare)
    return answers.answered & compare(answers.values, _comparable(source, condition.answer))


def _multiple_condition(
    source: Item, selected: np.ndarray, condition: EnableWhen, compare: Callable[[Any, Any], Any]
) -> np.ndarray:
    codes = [option.code for option in source.options]
    target = str(condition.answer)
    if condition.operator in ("=", "!="):
        chosen = (
            selected[:, codes.index(target)] if target in codes else np.zeros(len(selected), bool)
        )
        return chosen if condition.operator == "=" else ~chosen
    matching = np.array([bool(compare(code, target)) for code in codes])
    return (selected & matching).any(axis=1)


def _comparable(item: Item, answer: Any) -> Any:
    """An ``enable_when`` answer in the form of the item's ``values``."""
    if item.type in ("integer", "decimal", "scale"):
        return float(answer)
    if item.type == "boolean":
        return _as_bool(answer)
    if item.type == "date":
        return np.datetime64(str(answer)[:10], "D")
    return str(answer)


def _as_bool(answer: Any) -> bool:
    return (
        answer if isinstance(answer, bool) else str(answer).strip().lower() in ("true", "1", "yes")
    )


# --- answers by item type ----------------------------------------------------------------


def _single(
    item: Item, rng: np.random.Generator, respondents: Respondents
) -> tuple[pa.Array, np.ndarray]:
    codes = [option.code for option in item.options]
    probabilities = _softmax(
        LEANING * respondents.affinity[:, None] * _standard_scores(item)[None, :]
    )
    draws = rng.random(len(respondents))[:, None]
    chosen = np.minimum((draws > np.cumsum(probabilities, axis=1)).sum(axis=1), len(codes) - 1)
    return pick(codes, chosen), np.asarray(codes)[chosen]


def _multiple(
    item: Item, rng: np.random.Generator, respondents: Respondents
) -> tuple[pa.Array, np.ndarray]:
    codes = [option.code for option in item.options]
    logits = -0.4 + LEANING * respondents.affinity[:, None] * _standard_scores(item)[None, :]
    selected = rng.random(logits.shape) < sigmoid(logits)
    # An answered multiple-choice item selects something: the likeliest option, with noise.
    fallback = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    empty = np.flatnonzero(~selected.any(axis=1))
    selected[empty, fallback[empty]] = True
    patterns, inverse = _distinct_rows(selected)
    # Few distinct selections exist, so joining codes once per selection is cheap.
    labels = ["|".join(c for c, on in zip(codes, row, strict=True) if on) for row in patterns]
    return pick(labels, inverse), selected


def _distinct_rows(selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a boolean matrix and, for each row, the index of its pattern."""
    options = selected.shape[1]
    if options > 62:  # beyond a bit mask: the generic (and much slower) row-wise unique
        patterns, inverse = np.unique(selected, axis=0, return_inverse=True)
        return patterns, inverse.ravel()
    masks, inverse = np.unique(
        selected @ (1 << np.arange(options, dtype=np.int64)), return_inverse=True
    )
    return (masks[:, None] >> np.arange(options)) & 1 == 1, inverse


def _number(
    item: Item, rng: np.random.Generator, respondents: Respondents
) -> tuple[pa.Array, np.ndarray]:
    low, high = _bounds(item)
    share = sigmoid(0.8 * respondents.affinity + rng.standard_normal(len(respondents)))
    if item.type == "decimal":
        values = np.clip(np.round(low + share * (high - low), 1), low, high)
        return numbers(values), values
    low, high = math.ceil(low), math.floor(high)
    if high < low:
        raise ValueError(
            f"item {item.id!r} has no whole number between min {item.min} and max {item.max}"
        )
    values = np.minimum(low + np.floor(share * (high - low + 1)), high).astype(np.int64)
    return numbers(values), values.astype(np.float64)


def _boolean(
    item: Item, rng: np.random.Generator, respondents: Respondents
) -> tuple[pa.Array, np.ndarray]:
    values = rng.random(len(respondents)) < sigmoid(0.8 * respondents.affinity)
    return pick(("false", "true"), values.astype(np.int64)), values


def _date(
    item: Item, rng: np.random.Generator, respondents: Respondents
) -> tuple[pa.Array, np.ndarray]:
    values = respondents.answered_at - rng.integers(0, DATE_ANSWER_DAYS, len(respondents))
    return dates(values), values


def _text(
    item: Item, rng: np.random.Generator, respondents: Respondents
) -> tuple[pa.Array, np.ndarray]:
    phrases = reference.PHRASES[respondents.language]
    chosen = rng.integers(0, len(phrases), len(respondents))
    return pick(phrases, chosen), np.asarray(phrases)[chosen]


#: Answers to one item for every respondent: (text column, comparable values).
AnswerGenerator = Callable[[Item, np.random.Generator, Respondents], tuple[pa.Array, np.ndarray]]

_GENERATORS: dict[str, AnswerGenerator] = {
    "single": _single,
    "multiple": _multiple,
    "integer": _number,
    "decimal": _number,
    "scale": _number,
    "boolean": _boolean,
    "date": _date,
    "text": _text,
}


def _bounds(item: Item) -> tuple[float, float]:
    """The item's min and max; an open side spans 100 from the other (or from 0)."""
    if item.min is not None and item.max is not None:
        return item.min, item.max
    if item.min is not None:
        return item.min, item.min + 100
    if item.max is not None:
        return (0.0 if item.max >= 0 else item.max - 100), item.max
    return 0.0, 100.0


def _standard_scores(item: Item) -> np.ndarray:
    """Option scores centred and scaled; options without a score sit in the middle."""
    scores = np.array(
        [np.nan if o.score is None else o.score for o in item.options], dtype=np.float64
    )
    if np.isnan(scores).all() or np.nanstd(scores) == 0:
        return np.zeros(len(scores))
    standard = (scores - np.nanmean(scores)) / np.nanstd(scores)
    return np.nan_to_num(standard, nan=0.0)


def _softmax(logits: np.ndarray) -> np.ndarray:
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)
