"""Validating questionnaire responses: one vectorized DuckDB pass over a batch.

The loader checks each batch of responses with :func:`responses_sql` (through
:mod:`harmonia.ingest.responses`), over the installed questionnaires.

The canonical long format has one row per answered question. Each row is
checked against the questionnaire version it names, in two layers:

answer checks (the row alone)
    unknown questionnaire or version, unknown question, option not offered
    (or several for a single choice, none for a multiple choice), not a
    number, out of range, not a whole number (integer and scale items), not
    true/false, not a date, empty.

response checks (the row among the other rows of its response)
    A response is the rows sharing customer, questionnaire, version,
    respondent and ``answered_at``. Skip logic is evaluated over the
    response's *accepted* answers (those passing the answer checks): an
    answer to a disabled item is rejected; a required item that is enabled
    but has no accepted answer rejects the *whole response*, and every row of
    it carries the reason (a profile missing a required answer is not stored
    half; fix the file and load it again). An optional answer rejected alone
    leaves the rest of its response stored, scored under the dimension's
    missing-answer policy.

Every rejected row keeps all its reasons for the quarantine. The loader must
hand each response whole to :func:`responses_sql` (all its rows in one
chunk); repeats of the same response and question are flagged by the loader
across chunks (the keys of :data:`harmonia.ingest.responses.KIND`), and only the
first of them counts here. Skip logic is built by
:class:`~harmonia.questionnaires.skiplogic.SkipLogic`, so that validation and
scoring judge it identically.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from harmonia.questionnaires.model import (
    CHOICE_TYPES,
    NUMERIC_TYPES,
    WHOLE_TYPES,
    Item,
    Questionnaire,
    describe_conditions,
)
from harmonia.questionnaires.skiplogic import SkipLogic
from harmonia.sql import key_hashes, quote, quoted_in_message, reasons, text_list

#: The columns that identify a response within a batch (NULLs made comparable).
RESPONSE_KEY = ("_c", "_qid", "_ver", "respondent", "_at")
#: Two independent hashes of the response key: grouping and joining a million
#: rows on two integers is several times faster than on five texts, and a false
#: match would need both to collide (see :func:`~harmonia.sql.key_hashes`).
_HASHES = key_hashes(RESPONSE_KEY, "_rk1", "_rk2")
#: What an answer's checks depend on: they run once per distinct combination.
_ANSWERED = ("questionnaire", "version", "question", "answer")


@attrs.frozen
class CheckedRows:
    """Answers as :func:`responses_sql` tests them for skip logic: one distinct answer
    (questionnaire, version, question, answer) at a time, typed and normalized."""

    def of_item(self, questionnaire: Questionnaire, item: Item) -> str:
        return (
            f"_qid = {quote(questionnaire.id)} AND _ver = {quote(questionnaire.version)} "
            f"AND question = {quote(item.id)}"
        )

    def includes(self, item: Item, literal: str) -> str:
        if item.type == "multiple":
            return f"list_contains(codes, {literal})"
        return f"value = {literal}"

    def number(self, item: Item) -> str:
        return "number"

    def text(self, item: Item) -> str:
        return "value"


#: Bits per word: a response's skip-logic flags are bits of BIGINTs, or-ed over its rows.
_WORD_BITS = 63


@attrs.frozen
class _FlagBits:
    """Skip-logic flags as bits, so that one aggregate of a few words judges a
    response, however many flags the installed questionnaires need.

    Each distinct answer gets the bits of the flags it passes (``_w0``, …) and
    one bit saying which flagged item it answers (``_p0``, …). A response
    answers one questionnaire version, whose flags are only read with that
    version's own conditions: each version numbers its bits from 0, so the
    words are as few as the largest version needs.
    """

    tests: dict[tuple[str, str, str], list[tuple[str, str]]]
    flag: dict[str, tuple[int, int]]  # flag column -> (word, bit)
    item: dict[tuple[str, str, str], tuple[int, int]]  # flagged item -> (word, bit)
    words: int

    @classmethod
    def of(cls, logic: SkipLogic) -> _FlagBits:
        tests = logic.tests()
        flag: dict[str, tuple[int, int]] = {}
        item: dict[tuple[str, str, str], tuple[int, int]] = {}
        flags: dict[tuple[str, str], int] = {}
        items: dict[tuple[str, str], int] = {}
        for key, item_flags in tests.items():
            version = key[:2]
            item[key] = divmod(items.get(version, 0), _WORD_BITS)
            items[version] = items.get(version, 0) + 1
            for alias, _test in item_flags:
                flag[alias] = divmod(flags.get(version, 0), _WORD_BITS)
                flags[version] = flags.get(version, 0) + 1
        counts = [*flags.values(), *items.values()]
        words = max([1, *(-(-count // _WORD_BITS) for count in counts)])
        return cls(tests, flag, item, words)

    def of_answer(self) -> str:
        """SQL over a distinct answer: ``_w0, …``, the bits of the flags it passes (as if
        its row passed its checks), and ``_p0, …``, the bit of its item if flagged."""
        columns = []
        for word in range(self.words):
            flags, items = [], []
            for key, item_flags in self.tests.items():
                questionnaire, version, item_id = key
                when = (
                    f"WHEN _qid = {quote(questionnaire)} AND _ver = {quote(version)} "
                    f"AND question = {quote(item_id)} THEN"
                )
                bits = [
                    f"CASE WHEN {test} THEN {1 << self.flag[alias][1]} ELSE 0 END"
                    for alias, test in item_flags
                    if self.flag[alias][0] == word
                ]
                if bits:
                    flags.append(f"{when} {' | '.join(bits)}")
                if self.item[key][0] == word:
                    items.append(f"{when} {1 << self.item[key][1]}")
            for name, cases in ((f"_w{word}", flags), (f"_p{word}", items)):
                body = f"CASE {' '.join(cases)} ELSE 0 END" if cases else "0"
                columns.append(f"CAST({body} AS BIGINT) AS {name}")
        return ", ".join(columns)

    def names(self, template: str, prefix: str = "_w") -> str:
        """``template`` (with ``{w}``) for each word, comma-separated."""
        return ", ".join(template.format(w=f"{prefix}{word}") for word in range(self.words))

    def columns(self) -> str:
        """SQL over a response's words: each flag column, 1 or 0."""
        return (
            ", ".join(
                f"CAST((_w{word} >> {bit}) & 1 AS INTEGER) AS {alias}"
                for alias, (word, bit) in self.flag.items()
            )
            or "0 AS _no_flags"
        )

    def once(self) -> str:
        """SQL aggregate over a response's rows: no flagged item has two rows (then the
        flags or-ed over its rows are those of each item's first row)."""
        flagged = " OR ".join(f"_p{word} <> 0" for word in range(self.words))
        distinct = " + ".join(f"bit_count(bit_or(_p{word}))" for word in range(self.words))
        return f"count(*) FILTER (WHERE {flagged}) = {distinct}"


def items_table(questionnaires: Iterable[Questionnaire]) -> str:
    """The installed questionnaires' items as an inline table (DuckDB only)."""
    rows = []
    for questionnaire in questionnaires:
        for item in questionnaire.items:
            options = "|" + "|".join(option.code for option in item.options) + "|"
            values = [
                str(len(rows) + 1),
                quote(questionnaire.id),
                quote(questionnaire.version),
                quote(item.id),
                quote(item.type),
                "NULL" if item.min is None else repr(float(item.min)),
                "NULL" if item.max is None else repr(float(item.max)),
                "NULL" if item.min is None else quote(_plain(item.min)),
                "NULL" if item.max is None else quote(_plain(item.max)),
                quote(options),
            ]
            rows.append("(" + ", ".join(values) + ")")
    if not rows:
        rows.append("(" + ", ".join(["NULL"] * 10) + ")")
    return (
        "(VALUES " + ",\n            ".join(rows) + ") AS items(item_number, questionnaire, "
        "version, question, item_type, low, high, low_text, high_text, options)"
    )


def _plain(value: float) -> str:
    """A bound as a person writes it: 1500, not 1500.0."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def responses_sql(
    questionnaires: Iterable[Questionnaire], *, decimal_comma: bool, future_answer: str = "NULL"
) -> str:
    """The check of a ``raw`` batch of responses: typed columns plus ``_reasons``, and
    ``_rk1, _rk2``, the two hashes of the row's response key (by which the loader's
    merger groups a response's rows).

    ``future_answer`` is SQL over ``answered_text`` giving why a response's
    date cannot be data (too far ahead), or NULL (see the loader's plausibility).

    Answer checks depend only on (questionnaire, version, question, answer),
    and a batch repeats few of those (codes, yes/no, small numbers): they run
    once per distinct answer and are joined back, not once per row. So do the
    dates; both are joined back on the text as the file gives it, so that only
    who answered is cleaned row by row.
    """
    comma = "TRUE" if decimal_comma else "FALSE"
    questionnaires = list(questionnaires)
    logic = SkipLogic(CheckedRows())
    disabled = _disabled_checks(logic, questionnaires)
    missing = _missing_checks(logic, questionnaires)
    bits = _FlagBits.of(logic)
    same_answer = " AND ".join(
        f"a._{column}_raw IS NOT DISTINCT FROM raw.{column}" for column in _ANSWERED
    )
    return f"""
    WITH stamps AS (
        SELECT _at_raw, answered_text,
            strftime(harmonia_timestamp(answered_text, {comma}), '%Y-%m-%dT%H:%M:%S') AS answered_at,
            {future_answer} AS _future
        FROM (SELECT _at_raw, harmonia_text(_at_raw) AS answered_text
              FROM (SELECT DISTINCT answered_at AS _at_raw FROM raw))
    ), items AS (
        SELECT * FROM {items_table(questionnaires)}
    ), known AS (
        SELECT DISTINCT questionnaire, version FROM items
    ), typed AS (
        SELECT d.*, i.item_number, i.item_type, i.low, i.high, i.low_text, i.high_text, i.options,
            k.questionnaire IS NOT NULL AS _known,
            CASE WHEN i.item_type IN ({text_list(NUMERIC_TYPES)})
                THEN harmonia_number(answer, {comma}) END AS number,
            CASE WHEN i.item_type IN ({text_list(CHOICE_TYPES)}) THEN list_sort(list_distinct(
                list_transform(list_filter(string_split(answer, '|'), lambda o: trim(o) <> ''),
                               lambda o: trim(o)))) END AS codes
        FROM (
            SELECT *, {", ".join(f"harmonia_text(_{c}_raw) AS {c}" for c in _ANSWERED)}
            FROM (SELECT DISTINCT {", ".join(f"{c} AS _{c}_raw" for c in _ANSWERED)} FROM raw)
        ) d
        LEFT JOIN known AS k ON k.questionnaire = d.questionnaire AND k.version = d.version
        LEFT JOIN items AS i ON i.questionnaire = d.questionnaire
            AND i.version = d.version AND i.question = d.question
    ), valued AS (
        SELECT *, {_normalized_value(comma)} AS value FROM typed
    ), answers AS (
        SELECT {", ".join(f"_{c}_raw" for c in _ANSWERED)}, questionnaire, version, question,
            item_number, item_type, value, {_answer_reasons(questionnaires)}, {bits.of_answer()}
        FROM (SELECT *, COALESCE(questionnaire, '') AS _qid, COALESCE(version, '') AS _ver
              FROM valued)
    ), keyed AS (
        -- Only who answered is cleaned row by row: the rest comes cleaned from the
        -- distinct answers and dates, joined back on the text as the file gives it.
        SELECT raw._row, harmonia_text(raw.customer_id) AS customer_id, a.questionnaire,
            a.version, COALESCE(harmonia_text(raw.respondent), '') AS respondent,
            stamps.answered_text, stamps.answered_at, stamps._future, a.question,
            a.item_number, a.item_type, a.value, a._reasons AS _answer_reasons,
            {bits.names("a.{w}")}, {bits.names("a.{w}", "_p")},
            COALESCE(harmonia_text(raw.customer_id), '') AS _c,
            COALESCE(a.questionnaire, '') AS _qid, COALESCE(a.version, '') AS _ver,
            COALESCE(stamps.answered_at, stamps.answered_text, '') AS _at
        FROM raw
        JOIN stamps ON stamps._at_raw IS NOT DISTINCT FROM raw.answered_at
        JOIN answers a ON {same_answer}
    ), usable AS MATERIALIZED (
        -- read by the per-response aggregates and by the final rows: computed once
        SELECT * EXCLUDE (answered_text, _c, _at, _answer_reasons, _future, {bits.names("{w}")}),
            {_HASHES},
            CASE WHEN customer_id IS NOT NULL AND answered_at IS NOT NULL AND _future IS NULL
                 THEN _answer_reasons
                 ELSE list_concat(list_filter([{_ROW_REASONS}, _future], lambda r: r IS NOT NULL),
                                  _answer_reasons) END AS _reasons,
            -- a row that failed a check answers nothing
            {bits.names(f"CASE WHEN {_USABLE} THEN {{w}} ELSE 0 END AS {{w}}")}
        FROM keyed
    ), flagged AS (
        SELECT _rk1, _rk2, any_value(_qid) AS _qid, any_value(_ver) AS _ver,
            {bits.names("bit_or({w}) AS {w}")}, {bits.once()} AS _once
        FROM usable GROUP BY _rk1, _rk2
    ), repeating AS (
        -- A question's flags are its first row's (the loader quarantines a repeat):
        -- the few responses that repeat a flagged question are judged row by row.
        SELECT _rk1, _rk2, any_value(_qid) AS _qid, any_value(_ver) AS _ver,
            {bits.names("bit_or({w}) AS {w}")}
        FROM (SELECT u._rk1, u._rk2, any_value(u._qid) AS _qid, any_value(u._ver) AS _ver,
                {bits.names("arg_min(u.{w}, u._row) AS {w}")}
              FROM usable u SEMI JOIN (SELECT _rk1, _rk2 FROM flagged WHERE NOT _once) r
                ON r._rk1 = u._rk1 AND r._rk2 = u._rk2
              GROUP BY u._rk1, u._rk2, u.item_number)
        GROUP BY _rk1, _rk2
    ), judged AS (
        SELECT _rk1, _rk2, {bits.columns()}, {_missing_list(missing)} AS _missing
        FROM (SELECT * EXCLUDE (_once) FROM flagged WHERE _once UNION ALL FROM repeating)
    ), verdicts AS (
        SELECT u.*, {_disabled_reason(disabled)} AS _disabled, {_MISSING_REASON} AS _incomplete
        FROM usable u LEFT JOIN judged j ON j._rk1 = u._rk1 AND j._rk2 = u._rk2
    )
    SELECT _row, customer_id, questionnaire, version, respondent, answered_at, question,
        value AS answer, item_type = 'multiple' AS multiple, _rk1, _rk2,
        CASE WHEN _disabled IS NULL AND _incomplete IS NULL THEN _reasons
             ELSE list_concat(_reasons, list_filter([_disabled, _incomplete],
                                                    lambda r: r IS NOT NULL)) END AS _reasons
    FROM verdicts
    """


#: A row whose answer counts for skip logic and required items: it passed every check.
_USABLE = (
    "customer_id IS NOT NULL AND answered_at IS NOT NULL AND len(_answer_reasons) = 0 "
    "AND _future IS NULL AND item_type IS NOT NULL"
)

#: What is wrong with a row beyond its answer: who answered, and when.
_ROW_REASONS = (
    "CASE WHEN customer_id IS NULL THEN 'customer_id is empty' END, "
    "CASE WHEN answered_text IS NULL THEN 'answered_at is empty' WHEN answered_at IS NULL "
    f"THEN 'answered_at ' || {quoted_in_message('answered_text')} || ' is not a date (write YYYY-MM-DD)' END"
)


def _normalized_value(comma: str) -> str:
    """The answer as the store keeps it (what scoring and skip logic compare with)."""
    whole = text_list(WHOLE_TYPES)
    numeric = text_list(NUMERIC_TYPES)
    return f"""CASE
            WHEN item_type = 'multiple' THEN array_to_string(codes, '|')
            WHEN item_type = 'boolean' THEN CASE WHEN lower(answer) IN ('true', 'yes', '1')
                THEN 'true' WHEN lower(answer) IN ('false', 'no', '0') THEN 'false' END
            WHEN item_type IN ({whole}) AND number = floor(number) AND abs(number) < 1e15
                THEN CAST(CAST(number AS BIGINT) AS VARCHAR)
            WHEN item_type IN ({numeric}) THEN CAST(number AS VARCHAR)
            WHEN item_type = 'date' THEN strftime(harmonia_timestamp(answer, {comma}), '%Y-%m-%d')
            ELSE answer
        END"""


def _answer_reasons(questionnaires: list[Questionnaire]) -> str:
    """``_reasons`` of one distinct answer: everything wrong with it, whoever gave it."""
    installed = sorted(f"{q.id} {q.version}" for q in questionnaires)
    numeric = text_list(NUMERIC_TYPES)
    return reasons(
        "CASE WHEN questionnaire IS NULL THEN 'questionnaire is empty' "
        "WHEN version IS NULL THEN 'version is empty' "
        f"WHEN NOT _known THEN 'questionnaire ' || {quoted_in_message('questionnaire')} || ' version ' || "
        f"{quoted_in_message('version')} || ' is not installed (installed: {', '.join(installed) or 'none'})' END",
        "CASE WHEN question IS NULL THEN 'question is empty' WHEN _known AND item_type IS NULL "
        f"THEN 'question ' || {quoted_in_message('question')} || ' is not an item of ' || questionnaire || "
        "' version ' || version END",
        "CASE WHEN answer IS NULL THEN 'answer is empty' END",
        f"CASE WHEN codes IS NOT NULL AND len(codes) = 0 THEN 'answer ' || {quoted_in_message('answer')} || "
        "' to ' || question || ' selects no option' "
        "WHEN codes IS NOT NULL AND len(list_filter(codes, "
        "lambda o: NOT contains(options, '|' || o || '|'))) > 0 THEN 'answer ' || "
        f"{quoted_in_message('answer')} || ' is not an option of ' || question || ' (options: ' || "
        "trim(replace(options, '|', ' ')) || ')' "
        "WHEN item_type = 'single' AND len(codes) > 1 THEN 'question ' || question || "
        f"' takes one option, got ' || {quoted_in_message('answer')} END",
        f"CASE WHEN item_type IN ({numeric}) AND answer IS NOT NULL AND number IS NULL THEN "
        f"'answer ' || {quoted_in_message('answer')} || ' to ' || question || ' is not a number' "
        f"WHEN item_type IN ({numeric}) AND number < low THEN 'answer ' || {quoted_in_message('answer')} || "
        "' to ' || question || ' is below the minimum ' || low_text "
        f"WHEN item_type IN ({numeric}) AND number > high THEN 'answer ' || {quoted_in_message('answer')} || "
        "' to ' || question || ' is above the maximum ' || high_text "
        f"WHEN item_type IN ({text_list(WHOLE_TYPES)}) AND number <> floor(number) "
        f"THEN 'answer ' || {quoted_in_message('answer')} || ' to ' || question || ' is not a whole number' END",
        "CASE WHEN item_type = 'boolean' AND answer IS NOT NULL AND value IS NULL "
        f"THEN 'answer ' || {quoted_in_message('answer')} || ' to ' || question || ' is not true or false' END",
        "CASE WHEN item_type = 'date' AND answer IS NOT NULL AND value IS NULL "
        f"THEN 'answer ' || {quoted_in_message('answer')} || ' to ' || question || ' is not a date' END",
    )


# --- response checks ----------------------------------------------------------------


def _disabled_checks(
    logic: SkipLogic, questionnaires: list[Questionnaire]
) -> list[tuple[str, str]]:
    """(row answers a conditional item and the item is disabled, reason) for every such item."""
    checks = []
    for questionnaire in questionnaires:
        for item in questionnaire.items:
            enabled = logic.enabled(questionnaire, item)
            if enabled is None:
                continue
            row = (
                f"_qid = {quote(questionnaire.id)} AND _ver = {quote(questionnaire.version)} "
                f"AND question = {quote(item.id)}"
            )
            reason = (
                f"question '{item.id}' is not asked in this response (skip logic: "
                f"{describe_conditions(item)}), so it cannot be answered"
            )
            checks.append((f"{row} AND NOT {enabled}", quote(reason)))
    return checks


def _missing_checks(logic: SkipLogic, questionnaires: list[Questionnaire]) -> list[tuple[str, str]]:
    """(response lacks the required item while it is enabled, item id) for every required item."""
    checks = []
    for questionnaire in questionnaires:
        for item in questionnaire.items:
            if not item.required:
                continue
            condition = (
                f"_qid = {quote(questionnaire.id)} AND _ver = {quote(questionnaire.version)} "
                f"AND NOT ({logic.answered(questionnaire, item)})"
            )
            enabled = logic.enabled(questionnaire, item)
            if enabled is not None:
                condition += f" AND {enabled}"
            checks.append((condition, quote(item.id)))
    return checks


def _disabled_reason(checks: list[tuple[str, str]]) -> str:
    if not checks:
        return "CAST(NULL AS VARCHAR)"
    return "CASE " + " ".join(f"WHEN {when} THEN {reason}" for when, reason in checks) + " END"


def _missing_list(checks: list[tuple[str, str]]) -> str:
    if not checks:
        return "[]::VARCHAR[]"
    cases = ", ".join(f"CASE WHEN {when} THEN {item} END" for when, item in checks)
    return f"list_filter([{cases}], lambda m: m IS NOT NULL)"


_MISSING_REASON = (
    "CASE WHEN len(_missing) > 0 THEN 'required question(s) ' || array_to_string("
    "list_transform(_missing, lambda m: '''' || m || ''''), ', ') || ' not answered in this "
    "response (or their answer was rejected): the whole response is quarantined' END"
)
