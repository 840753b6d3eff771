"""The ``responses`` kind: answers to a questionnaire, one row per answered question.

Rows are checked against their questionnaire, a response at a time
(:mod:`harmonia.questionnaires.validation`): its rows stay in one chunk. A
repeat is the same response and question, also under two source ids of one
customer (the first row is kept); answers dated after today are
counted for the load's warning; a multiple-choice answer is stored as one
answer per option, and a response loaded again is written again, whole,
unless its answers are the ones stored. Responses and answers are facts
(:mod:`harmonia.store.facts`): Parquet files per batch on the embedded store.
"""

from __future__ import annotations

from harmonia.ingest.checks import CheckContext
from harmonia.ingest.kind import DuplicateKey, Kind, Watch
from harmonia.ingest.merge import Merger, Rejections
from harmonia.sql import literal
from harmonia.store.facts import facts_of

#: What makes a response one in a file: its rows have these in common, and are
#: checked together (required items, skip logic), so a chunk never splits them.
RESPONSE = ("customer_id", "questionnaire", "version", "respondent", "answered_at")


def responses_sql(context: CheckContext) -> str:
    """Responses are checked against their questionnaire: see
    :mod:`harmonia.questionnaires.validation`."""
    from harmonia.questionnaires.validation import responses_sql as check

    comma = "TRUE" if context.decimal_comma else "FALSE"
    return check(
        context.questionnaires.values(),
        decimal_comma=context.decimal_comma,
        future_answer=context.expectations.future_answer_reason(
            f"harmonia_timestamp(answered_text, {comma})", "answered_text"
        ),
    )


class LateAnswers(Watch):
    """Counts the valid answers dated after today, for the load's warning."""

    def __init__(self, *args: object):
        super().__init__(*args)  # type: ignore[arg-type]
        self.duck.execute("CREATE TEMP TABLE late_answers (n BIGINT, latest VARCHAR)")

    def count(self, table: str) -> None:
        today = self.expected.today.isoformat()
        self.duck.execute(
            f"INSERT INTO late_answers SELECT count(*), max(answered_at)[:10] FROM {table} "
            f"WHERE len(_reasons) = 0 AND answered_at > '{today}T23:59:59'"
        )

    def warnings(self) -> list[str]:
        count, latest = self.duck.sql(
            "SELECT COALESCE(sum(n), 0), max(latest) FROM late_answers"
        ).fetchall()[0]
        return self.expected.answer_warning(int(count), latest)


# --- merging --------------------------------------------------------------------


class ResponseMerger(Merger):
    """Responses and their answers, written to the facts store.

    A response loaded again is written again, its row and all its answers
    under this batch, unless its answers are the ones stored: then nothing
    of it is written.
    """

    #: What makes a response one: who, which questionnaire, by whom, when.
    KEY = ("harmonia_id", "questionnaire", "version", "respondent", "answered_at")

    def __init__(self, *args: object, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.facts = facts_of(self.bulk.database)
        self.next_id = self.facts.next_id(self.bulk, "response")
        self.first_id = self.next_id
        self.duck.execute(
            "CREATE OR REPLACE TEMP TABLE known (id BIGINT, harmonia_id BIGINT, questionnaire "
            "VARCHAR, version VARCHAR, respondent VARCHAR, answered_at VARCHAR, reset BOOLEAN)"
        )
        # The stored answers of the questionnaires this load meets.
        self.duck.execute(
            "CREATE OR REPLACE TEMP TABLE stored_answers "
            "(response_id BIGINT, question VARCHAR, value VARCHAR)"
        )
        # What became of each response this load met ('new', 'updated' or
        # 'unchanged'), and how many of its rows it has read so far.
        self.duck.execute(
            "CREATE OR REPLACE TEMP TABLE outcome (response_id BIGINT, outcome VARCHAR, rows BIGINT)"
        )
        # Who this system knows under several source ids, and the first answers
        # of their responses in this load (see _repeats_across_ids).
        self.duck.execute(
            "CREATE OR REPLACE TEMP TABLE several_ids AS SELECT customer_id FROM xwalk "
            "GROUP BY customer_id HAVING count(*) > 1"
        )
        self.duck.execute(
            "CREATE OR REPLACE TEMP TABLE shared_answers (_row BIGINT, customer_id VARCHAR, "
            "harmonia_id BIGINT, questionnaire VARCHAR, version VARCHAR, respondent VARCHAR, "
            "answered_at VARCHAR, question VARCHAR, answer VARCHAR)"
        )
        self.seen_questionnaires: set[str] = set()
        self.valid = "valid"  # the chunk's valid rows, as merge is given them

    def merge(self, valid: str) -> Rejections:
        self._group(valid)
        rejected = self._unknown_customers(
            f"(SELECT r._row, r.customer_id, NULL AS harmonia_id FROM {valid} r SEMI JOIN given g "
            "ON g._rk1 = r._rk1 AND g._rk2 = r._rk2 AND g.harmonia_id IS NULL)"
        )
        repeats = self._repeats_across_ids()
        if repeats:
            rejected += repeats
            self.duck.execute(
                f"CREATE OR REPLACE TEMP TABLE kept AS SELECT * FROM {valid} "
                "WHERE _row NOT IN (SELECT _row FROM repeats)"
            )
            self._group("kept")
        self._load_known()
        # As the store keeps it, a response is by harmonia id: two source ids on
        # one harmonia id (two crosswalk rows) answer one response.
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE heads AS
            SELECT h.*, k.id AS known_id, k.reset AS known_reset FROM (
                SELECT {", ".join(self.KEY)}, SUM(rows) AS rows FROM given
                WHERE harmonia_id IS NOT NULL GROUP BY ALL) h
            LEFT JOIN known k ON {self._same_response("k", "h")}
            """
        )
        # 'reloaded': a response stored before this load, loaded again; 'again':
        # one this load already met, given more answers in a later chunk.
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE heads_ided AS
            SELECT h.*, COALESCE(known_id, {self.next_id - 1} + row_number() OVER (
                PARTITION BY known_id IS NULL ORDER BY harmonia_id, questionnaire, version,
                respondent, answered_at)) AS response_id,
                CASE WHEN known_id IS NULL THEN 'new' WHEN known_reset THEN 'again'
                     ELSE 'reloaded' END AS state,
                o.outcome AS earlier
            FROM heads h LEFT JOIN outcome o ON o.response_id = h.known_id
            """
        )
        # Each response of the file, with the response it is stored as.
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE routed AS
            SELECT g._rk1, g._rk2, h.response_id, h.state, h.earlier
            FROM given g JOIN heads_ided h ON {self._same_response("h", "g")}
            """
        )
        states = dict(
            self.duck.sql("SELECT state, COUNT(*) FROM heads_ided GROUP BY state").fetchall()
        )
        self._find_unchanged()
        self._write(states)
        self.next_id += states.get("new", 0)
        self._record_outcomes()
        self.duck.execute(
            "UPDATE known SET reset = TRUE WHERE id IN (SELECT known_id FROM heads_ided)"
        )
        self.duck.execute(
            "INSERT INTO known SELECT response_id, harmonia_id, questionnaire, version, respondent, "
            "answered_at, TRUE FROM heads_ided WHERE state = 'new'"
        )
        return rejected

    def _group(self, valid: str) -> None:
        """``given``: the responses of the rows ``valid``, with their harmonia ids.

        A response as the file gives it: its rows share the check's key hashes
        (_rk1, _rk2), so rows are grouped and joined on two integers, and only
        the responses (a tenth of the rows) are matched to harmonia ids.
        """
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE sourced AS
            SELECT _rk1, _rk2, {", ".join(f"any_value({column}) AS {column}" for column in RESPONSE)},
                COUNT(*) AS rows
            FROM {valid} GROUP BY _rk1, _rk2
            """
        )
        self._resolve("sourced", "given")
        self.valid = valid

    def _repeats_across_ids(self) -> Rejections:
        """The rows answering a question that a row under another source id of the
        same customer answered earlier in this load (``repeats``), for the quarantine.

        The loader's duplicate key is the file's own: it cannot see that C01 and
        AC01 (one customer, two source ids) answer one response. As under one
        source id, the first row is kept; the reason names both ids and says
        whether the answer differs. Only customers with several source ids can
        repeat this way, so only their answers are compared, and remembered for
        the chunks after this one.
        """
        several = "harmonia_id IN (SELECT customer_id FROM several_ids)"
        if not self.duck.sql(f"SELECT EXISTS (FROM given WHERE {several})").fetchall()[0][0]:
            return []
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE answering AS
            SELECT r._row, r.customer_id, g.harmonia_id, r.questionnaire, r.version,
                r.respondent, r.answered_at, r.question, r.answer
            FROM {self.valid} r JOIN given g ON g._rk1 = r._rk1 AND g._rk2 = r._rk2
            WHERE g.{several}
            """
        )
        key = (*self.KEY, "question")
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE repeats AS
            SELECT a._row, a.customer_id, a.answer, f.first_row, f.first_id, f.first_answer
            FROM answering a JOIN (
                SELECT {", ".join(key)}, min(_row) AS first_row,
                    arg_min(customer_id, _row) AS first_id, arg_min(answer, _row) AS first_answer
                FROM (FROM shared_answers UNION ALL FROM answering) GROUP BY ALL
            ) f ON {" AND ".join(f"f.{column} = a.{column}" for column in key)}
            WHERE a._row <> f.first_row
            """
        )
        self.duck.execute(
            "INSERT INTO shared_answers FROM answering WHERE _row NOT IN (SELECT _row FROM repeats)"
        )
        return [
            (row, _repeat_reason(first_row, source_id, first_id, answer == first_answer))
            for row, source_id, answer, first_row, first_id, first_answer in self.duck.sql(
                "FROM repeats ORDER BY _row"
            ).fetchall()
        ]

    def _write(self, states: dict[str, int]) -> None:
        """This chunk's responses and answers, into the batch.

        New responses add keys. A changed one replaces its stored row and
        answers; one left unchanged by an earlier chunk that gains answers now
        is written whole (its stored answers and these); answers of a response
        this batch already wrote are added to it. ``states`` counts the chunk's
        responses by state: a write that can hold no row is not asked for (a
        first load's are all new, a reload's all stored), as each reads the
        whole chunk.
        """
        written = (
            "(state = 'new' OR (state = 'reloaded' AND response_id NOT IN "
            "(SELECT response_id FROM unchanged)) OR (state = 'again' AND earlier = 'unchanged'))"
        )
        heads = (
            "SELECT response_id AS id, harmonia_id AS customer_id, questionnaire, version, "
            f"respondent, answered_at, {self.batch_id} AS batch_id FROM heads_ided"
        )
        stored = bool(states.keys() - {"new"})
        if "new" in states:
            self._facts("response", f"{heads} WHERE state = 'new'", new=True)
        if stored:
            self._facts("response", f"{heads} WHERE {written} AND state <> 'new'", new=False)
        answers = self._answers()
        if states.keys() & {"new", "again"}:
            self._facts(
                "answer",
                f"SELECT response_id, question, value FROM ({answers}) "
                "WHERE state = 'new' OR (state = 'again' AND earlier <> 'unchanged')",
                new=True,
            )
        if not stored:
            return
        self._facts(
            "answer",
            f"""
            SELECT response_id, question, value FROM ({answers})
            WHERE state = 'reloaded' AND response_id NOT IN (SELECT response_id FROM unchanged)
            UNION
            SELECT response_id, question, value FROM ({answers})
            WHERE state = 'again' AND earlier = 'unchanged'
            UNION
            SELECT s.response_id, s.question, s.value FROM stored_answers s
            JOIN heads_ided h ON h.response_id = s.response_id
            WHERE h.state = 'again' AND h.earlier = 'unchanged'
            """,
            new=False,
        )

    def _facts(self, table: str, sql: str, *, new: bool) -> None:
        self.facts.write(self.bulk, self.duck, table, self.batch_id, sql, new=new)

    def _record_outcomes(self) -> None:
        """Add this chunk's rows to what became of their responses.

        A response met again in a later chunk (its rows interleaved with
        others') keeps its outcome, except that one left unchanged so far is
        updated by the answers it gains.
        """
        self.duck.execute(
            """
            UPDATE outcome SET rows = outcome.rows + h.rows,
                outcome = CASE WHEN outcome.outcome = 'unchanged' THEN 'updated'
                               ELSE outcome.outcome END
            FROM heads_ided h WHERE h.state = 'again' AND h.response_id = outcome.response_id
            """
        )
        self.duck.execute(
            """
            INSERT INTO outcome
            SELECT response_id, CASE
                    WHEN state = 'new' THEN 'new'
                    WHEN response_id IN (SELECT response_id FROM unchanged) THEN 'unchanged'
                    ELSE 'updated' END,
                rows
            FROM heads_ided WHERE state <> 'again'
            """
        )

    def _answers(self) -> str:
        """This chunk's answers, each with its response's id and state: a multiple-choice
        answer is one answer per option."""
        return (
            "SELECT g.response_id, g.state, g.earlier, r.question, unnest(CASE WHEN r.multiple "
            "THEN string_split(r.answer, '|') ELSE [r.answer] END) AS value "
            f"FROM {self.valid} r JOIN routed g ON g._rk1 = r._rk1 AND g._rk2 = r._rk2"
        )

    def _same_response(self, left: str, right: str) -> str:
        return " AND ".join(f"{left}.{column} = {right}.{column}" for column in self.KEY)

    def _find_unchanged(self) -> None:
        """``unchanged``: the reloaded responses whose answers are the stored ones."""
        answers = "list_sort(list({'question': question, 'value': value})) AS answers"
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE unchanged AS
            SELECT response_id FROM (
                SELECT response_id, {answers} FROM ({self._answers()})
                WHERE state = 'reloaded' GROUP BY response_id
            ) incoming JOIN (
                SELECT response_id, {answers} FROM stored_answers
                WHERE response_id IN (SELECT response_id FROM heads_ided WHERE state = 'reloaded')
                GROUP BY response_id
            ) stored USING (response_id)
            WHERE incoming.answers = stored.answers
            """
        )

    def _load_known(self) -> None:
        """The stored responses and answers of each questionnaire this load brings, once each."""
        names = self.duck.sql("SELECT DISTINCT questionnaire FROM given").fetchall()
        for (name,) in names:
            if name in self.seen_questionnaires:
                continue
            self.seen_questionnaires.add(name)
            of_it = f"questionnaire = {literal(name)}"
            self.facts.select_into(
                self.bulk,
                self.duck,
                "stored_responses",
                "SELECT id, customer_id, questionnaire, version, respondent, answered_at "
                f"FROM response WHERE {of_it}",
            )
            self.duck.execute(
                "INSERT INTO known SELECT id, customer_id, questionnaire, version, respondent, "
                "answered_at, FALSE FROM stored_responses"
            )
            self.facts.select_into(
                self.bulk,
                self.duck,
                "stored_responses",
                "SELECT a.response_id, a.question, a.value FROM answer a "
                f"JOIN response r ON r.id = a.response_id WHERE r.{of_it}",
            )
            self.duck.execute("INSERT INTO stored_answers SELECT * FROM stored_responses")
            self.duck.execute("DROP TABLE stored_responses")

    def finish(self) -> None:
        counts = dict(
            self.duck.sql("SELECT outcome, SUM(rows) FROM outcome GROUP BY outcome").fetchall()
        )
        self.new, self.updated, self.unchanged = (
            int(counts.get(outcome, 0)) for outcome in ("new", "updated", "unchanged")
        )
        self.bulk.sync_sequence("response")
        if self.next_id > self.first_id:
            self.facts.mark_ids(self.bulk, "response", self.next_id - 1)
        self.bulk.analyze("response", "answer")


def _repeat_reason(first_row: int, source_id: str, first_id: str, same: bool) -> str:
    """Why a row repeats one of the same customer under another source id."""
    ids = f"customer_id '{source_id}' and '{first_id}' are one customer"
    if same:
        return f"duplicate of row {first_row} (same response and question: {ids})"
    return (
        f"another answer than row {first_row} to the same response and question ({ids}): "
        "the first is kept"
    )


KIND = Kind(
    "responses",
    check=responses_sql,
    merger=ResponseMerger,
    keys=(
        DuplicateKey(
            (*RESPONSE, "question"),
            "'duplicate of row ' || first_row || ' (same response and question)'",
            # The check's response key hashes (_rk1, _rk2) and the question: on a row
            # with the whole key they hash RESPONSE as it is (see responses_sql).
            hashes=("hash(_rk1, question)", "hash(_rk2, CAST(question AS VARCHAR) || '~')"),
        ),
    ),
    whole=RESPONSE,
    watch=LateAnswers,
)
