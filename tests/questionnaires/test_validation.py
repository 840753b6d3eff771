"""Response validation through the real loader into a real SQLite store.

Every kind of bad answer is quarantined with its reason, and nothing is
silently dropped: rows read = rows loaded + rows quarantined.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from qhelpers import QuestionnairePack, build, customers, option, questionnaire_data

from harmonia.questionnaires.skiplogic import SkipLogic, StoredAnswers
from harmonia.store import Database
from harmonia.store.bulk import BulkConnection
from harmonia.testing import query_store

AT = "2026-05-01"


def _item(item_id: str, type_: str = "single", **fields: Any) -> dict[str, Any]:
    if type_ in ("single", "multiple") and "options" not in fields:
        fields["options"] = [option("x", 0), option("y", 1)]
    return {"id": item_id, "type": type_, "text": {"en": item_id}, **fields}


CHECKS = build(
    questionnaire_data(
        id="checks",
        items=[
            _item("s"),
            _item("m", "multiple", options=[option("p", 1), option("q", 2), option("r", 4)]),
            _item("i", "integer", min=0, max=100, unit="patients"),
            _item("d", "decimal", min=0),
            _item("sc", "scale", min=1, max=5),
            _item("b", "boolean"),
            _item("dt", "date"),
            _item("t", "text"),
            _item("gate", "boolean"),
            _item("g1", enable_when=[{"item": "gate", "answer": True}]),
            _item("g2", "text", enable_when=[{"item": "g1", "answer": "y"}]),
            _item("req", required=True, enable_when=[{"item": "gate", "answer": True}]),
            _item("ex", "text", enable_when=[{"item": "t", "operator": "exists", "answer": False}]),
            _item("ne", "text", enable_when=[{"item": "m", "operator": "!=", "answer": "p"}]),
            _item(
                "anyof",
                "text",
                enable_behavior="any",
                enable_when=[
                    {"item": "i", "operator": ">", "answer": 50},
                    {"item": "sc", "operator": ">=", "answer": 4},
                ],
            ),
        ],
    )
)


#: A chain longer than one word of skip-logic bits: each item is asked once the one
#: before it is answered.
CHAIN = build(
    questionnaire_data(
        id="chain",
        items=[
            _item(
                f"c{n}",
                "text",
                **(
                    {"enable_when": [{"item": f"c{n - 1}", "operator": "exists", "answer": True}]}
                    if n
                    else {}
                ),
            )
            for n in range(70)
        ],
    )
)


@pytest.fixture
def plugins(oncology, register_pack, harmonia_plugins):
    register_pack(QuestionnairePack(CHECKS, CHAIN), name="checks")
    return harmonia_plugins.catalog()


@pytest.fixture
def loaded(plugins, load):
    """Load rows of responses ``(case, question, answer[, questionnaire, version])``.

    Each case is its own response (its respondent), of customer C0001.
    """
    load(plugins, "customers", customers(3))

    def run(*rows: tuple) -> Any:
        lines = []
        for row in rows:
            case, question, answer, *rest = row
            questionnaire, version = rest if rest else ("checks", "1")
            lines.append(("C0001", questionnaire, version, case, AT, question, answer))
        (result,) = load(plugins, "responses", lines)
        assert result.rows_read == result.rows_loaded + result.rows_quarantined == len(rows)
        return result

    return run


def rejected(database_url: str) -> dict[tuple[str, str], list[str]]:
    """(respondent, question) -> the reasons its row was quarantined."""
    with BulkConnection(Database(database_url)) as bulk:
        rows = bulk.read("SELECT record, reasons FROM quarantine WHERE kind = 'responses'")
    found = {}
    for record, reasons in zip(rows.column(0).to_pylist(), rows.column(1).to_pylist(), strict=True):
        data = json.loads(record)
        found[(data["respondent"], data["question"])] = json.loads(reasons)
    return found


def stored(database_url: str) -> dict[tuple[str, str], list[str]]:
    """(respondent, question) -> the stored values (one per selected option)."""
    rows = query_store(
        database_url,
        "SELECT r.respondent, a.question, a.value FROM answer a "
        "JOIN response r ON r.id = a.response_id ORDER BY a.value",
    )
    found: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        found.setdefault((row["respondent"], row["question"]), []).append(row["value"])
    return found


BAD_ANSWERS = [
    (("q1", "s", "x", "nope", "1"), "questionnaire 'nope' version '1' is not installed"),
    (("q2", "s", "x", "checks", "9"), "questionnaire 'checks' version '9' is not installed"),
    (("q3", "zz", "x"), "question 'zz' is not an item of checks version 1"),
    (("o1", "s", "z"), "answer 'z' is not an option of s (options: x y)"),
    (("o2", "s", "x|y"), "question s takes one option, got 'x|y'"),
    (("o3", "m", "|"), "answer '|' to m selects no option"),
    (("o4", "m", "p|zz"), "answer 'p|zz' is not an option of m (options: p q r)"),
    (("n1", "i", "abc"), "answer 'abc' to i is not a number"),
    (("n2", "i", "-1"), "answer '-1' to i is below the minimum 0"),
    (("n3", "i", "101"), "answer '101' to i is above the maximum 100"),
    (("n4", "d", "-0,5"), "answer '-0,5' to d is below the minimum 0"),
    (("n5", "i", "2,5"), "answer '2,5' to i is not a whole number"),
    (("n6", "sc", "3,5"), "answer '3,5' to sc is not a whole number"),
    (("n7", "sc", "6"), "answer '6' to sc is above the maximum 5"),
    (("b1", "b", "maybe"), "answer 'maybe' to b is not true or false"),
    (("d1", "dt", "2024-13-45"), "answer '2024-13-45' to dt is not a date"),
    (("e1", "t", ""), "answer is empty"),
]


def test_every_bad_answer_kind_is_quarantined_with_its_reason(loaded, harmonia_database):
    """Each row is its own response (its respondent), so each has exactly one reason."""
    result = loaded(*(row for row, _ in BAD_ANSWERS), ("fine", "s", "x"))
    assert result.rows_quarantined == len(BAD_ANSWERS)
    found = rejected(harmonia_database)
    for row, reason in BAD_ANSWERS:
        (given,) = found[(row[0], row[1])]
        assert given.startswith(reason), given
    assert stored(harmonia_database) == {("fine", "s"): ["x"]}


def test_an_answer_to_a_disabled_item_is_quarantined(loaded, harmonia_database):
    loaded(("r", "gate", "false"), ("r", "g1", "x"), ("r", "s", "y"))
    assert rejected(harmonia_database) == {
        ("r", "g1"): [
            "question 'g1' is not asked in this response (skip logic: gate = true), "
            "so it cannot be answered"
        ]
    }
    assert stored(harmonia_database) == {("r", "gate"): ["false"], ("r", "s"): ["y"]}


def test_skip_logic_chains_and_rejected_answers(loaded, harmonia_database):
    result = loaded(
        # g2 is asked only when g1 = y; here g1 = x.
        ("chain", "gate", "true"),
        ("chain", "req", "x"),
        ("chain", "g1", "x"),
        ("chain", "g2", "no"),
        # g1's answer is rejected, so g2 is not asked either.
        ("bad", "gate", "true"),
        ("bad", "req", "x"),
        ("bad", "g1", "nope"),
        ("bad", "g2", "no"),
        # The whole chain enabled.
        ("ok", "gate", "yes"),
        ("ok", "req", "y"),
        ("ok", "g1", "y"),
        ("ok", "g2", "fine"),
    )
    found = rejected(harmonia_database)
    assert set(found) == {("chain", "g2"), ("bad", "g1"), ("bad", "g2")}
    assert "skip logic: g1 = y" in found[("chain", "g2")][0]
    assert "not asked" in found[("bad", "g2")][0]
    assert result.rows_loaded == 9
    assert stored(harmonia_database)[("ok", "g2")] == ["fine"]


def test_a_response_missing_a_required_enabled_item_is_quarantined_whole(loaded, harmonia_database):
    result = loaded(
        ("missing", "gate", "true"),
        ("missing", "s", "x"),
        ("rejected", "gate", "true"),
        ("rejected", "req", "zz"),
        ("disabled", "gate", "false"),  # req is not asked: nothing is missing
        ("disabled", "s", "x"),
    )
    assert result.rows_quarantined == 4 and result.rows_loaded == 2
    found = rejected(harmonia_database)
    whole = (
        "required question(s) 'req' not answered in this response (or their answer was "
        "rejected): the whole response is quarantined"
    )
    assert found[("missing", "gate")] == [whole] and found[("missing", "s")] == [whole]
    assert found[("rejected", "req")] == [
        "answer 'zz' is not an option of req (options: x y)",
        whole,
    ]
    assert set(stored(harmonia_database)) == {("disabled", "gate"), ("disabled", "s")}


def test_exists_not_equal_and_any_conditions(loaded, harmonia_database):
    loaded(
        ("ex-asked", "ex", "fine"),  # t is not answered: ex is asked
        ("ex-skipped", "t", "words"),
        ("ex-skipped", "ex", "no"),
        ("ne-asked", "m", "q|r"),
        ("ne-asked", "ne", "fine"),
        ("ne-skipped", "m", "q|p"),
        ("ne-skipped", "ne", "no"),
        ("ne-unanswered", "ne", "no"),  # m is not answered: the condition is false
        ("any-asked", "i", "10"),
        ("any-asked", "sc", "4"),
        ("any-asked", "anyof", "fine"),
        ("any-skipped", "i", "50"),
        ("any-skipped", "sc", "3"),
        ("any-skipped", "anyof", "no"),
    )
    skipped = {
        key for key, reasons in rejected(harmonia_database).items() if "not asked" in reasons[0]
    }
    assert skipped == {
        ("ex-skipped", "ex"),
        ("ne-skipped", "ne"),
        ("ne-unanswered", "ne"),
        ("any-skipped", "anyof"),
    }


def test_answers_are_stored_in_canonical_form(loaded, harmonia_database):
    loaded(
        ("canon", "i", " 060 "),
        ("canon", "d", "1 234,5"),
        ("canon", "b", "Yes"),
        ("canon", "m", "r|p|p"),
        ("canon", "dt", "31/01/2024"),
        ("canon", "sc", "4"),
    )
    assert rejected(harmonia_database) == {}
    assert stored(harmonia_database) == {
        ("canon", "i"): ["60"],
        ("canon", "d"): ["1234.5"],
        ("canon", "b"): ["true"],
        ("canon", "m"): ["p", "r"],
        ("canon", "dt"): ["2024-01-31"],
        ("canon", "sc"): ["4"],
    }


def test_a_repeated_question_is_flagged(loaded, harmonia_database):
    result = loaded(("dup", "s", "x"), ("dup", "s", "y"))
    assert result.rows_quarantined == 1
    (reasons,) = rejected(harmonia_database).values()
    assert reasons[0].startswith("duplicate of row")


def test_the_oncology_questionnaire_is_validated(plugins, load, harmonia_database):
    load(plugins, "customers", customers(2))
    complete = {
        "patients_per_month": "120",
        "tumour_types": "lung|breast",
        "novel_therapy_adoption": "early",
        "biomarker_testing": "broad_panel",
        "what_matters_most": "outcome_evidence",
        "support_priority": "trial_updates",
    }
    rows = [("C0001", "oncology-profile", "2", "R1", AT, q, a) for q, a in complete.items()]
    rows += [
        ("C0001", "oncology-profile", "2", "R1", AT, "clinical_trials", "false"),
        ("C0001", "oncology-profile", "2", "R1", AT, "trial_role", "referrer"),
        ("C0002", "oncology-profile", "2", "R1", AT, "novel_therapy_adoption", "early"),
    ]
    (result,) = load(plugins, "responses", rows)
    found = rejected(harmonia_database)
    assert "skip logic: clinical_trials = true" in found[("R1", "trial_role")][0]
    assert result.rows_quarantined == 2 and result.rows_loaded == 7


def test_a_response_whose_rows_are_interleaved_across_chunks_is_counted_right(
    plugins: Any, load: Any, harmonia_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of two responses interleaved, read two at a time: a response met
    again in a later chunk keeps the outcome it had (a first load is all new)."""
    monkeypatch.setattr("harmonia.ingest.loader.CHUNK_ROWS", 2)
    load(plugins, "customers", customers(3))
    answers = [("a", "s", "x"), ("b", "s", "y"), ("a", "t", "hello"), ("b", "t", "bye")]
    rows = [("C0001", "checks", "1", case, AT, q, answer) for case, q, answer in answers]
    (first,) = load(plugins, "responses", rows)
    assert (first.rows_new, first.rows_updated, first.rows_unchanged) == (4, 0, 0)
    stored = "SELECT r.respondent, a.question, a.value FROM answer a JOIN response r ON r.id = a.response_id ORDER BY 1, 2"
    before = query_store(harmonia_database, stored)
    assert len(before) == 4
    (again,) = load(plugins, "responses", rows)
    assert again.rows_new == 0 and again.rows_quarantined == 0
    assert query_store(harmonia_database, stored) == before


def test_a_repeated_question_counts_for_skip_logic_by_its_first_row(loaded, harmonia_database):
    """Skip logic reads a question's first row, even when a repeat says otherwise or is
    the only row that passes its checks."""
    loaded(
        ("later-true", "gate", "false"),
        ("later-true", "gate", "true"),
        ("later-true", "g1", "x"),
        ("first-bad", "gate", "maybe"),
        ("first-bad", "gate", "true"),
        ("first-bad", "req", "x"),
        ("fine", "gate", "true"),
        ("fine", "req", "x"),
        ("fine", "g1", "x"),
    )
    found = rejected(harmonia_database)
    assert set(found) == {
        ("later-true", "gate"),
        ("later-true", "g1"),
        ("first-bad", "gate"),
        ("first-bad", "req"),
    }
    assert found[("later-true", "gate")][0].startswith("duplicate of row")
    assert "not asked" in found[("later-true", "g1")][0]
    assert "not asked" in found[("first-bad", "req")][0]
    assert stored(harmonia_database)[("first-bad", "gate")] == ["true"]


def test_skip_logic_of_more_items_than_one_word_holds(loaded, harmonia_database):
    chain = [(f"c{n}", "words", "chain", "1") for n in range(70)]
    result = loaded(
        *(("whole", *row) for row in chain),
        *(("gap", *row) for row in chain if row[0] != "c40"),
    )
    assert result.rows_loaded == 70 + 40 and result.rows_quarantined == 29
    found = rejected(harmonia_database)
    assert set(found) == {("gap", f"c{n}") for n in range(41, 70)}
    assert all("not asked" in reasons[0] for reasons in found.values())


#: Answers to the numbers ``anyof`` is gated on (i > 50 or sc >= 4), at and around the bounds.
NUMERIC_GATES = {
    "lo": {"i": "50", "sc": "3"},
    "hi": {"i": "51", "sc": "1"},
    "sc4": {"sc": "4"},
    "none": {},
    "zero": {"i": "0", "sc": "3"},
    "both": {"i": "100", "sc": "5"},
}


def test_scoring_judges_numeric_skip_logic_as_validation_did(loaded, harmonia_database):
    """Validation (CheckedRows, over the batch) and scoring (StoredAnswers, over the
    store) agree on which responses ask ``anyof``, gated on two numbers."""
    loaded(
        *(
            (case, question, answer)
            for case, given in NUMERIC_GATES.items()
            for question, answer in [*given.items(), ("anyof", "x")]
        )
    )
    validation = {case for case, question in stored(harmonia_database) if question == "anyof"}
    logic = SkipLogic(StoredAnswers())
    enabled = logic.enabled(CHECKS, CHECKS.item("anyof"))
    flags = ", ".join(
        f"MAX(CASE WHEN {predicate} THEN 1 ELSE 0 END) AS {alias}"
        for alias, predicate in logic.predicates()
    )
    rows = query_store(
        harmonia_database,
        f"SELECT respondent, CASE WHEN {enabled} THEN 1 ELSE 0 END AS asked FROM ("
        f"SELECT l.respondent, {flags} FROM response l "
        "LEFT JOIN answer a ON a.response_id = l.id GROUP BY l.respondent) flags",
    )
    scoring = {row["respondent"] for row in rows if row["asked"]}
    assert validation == scoring == {"hi", "sc4", "both"}
