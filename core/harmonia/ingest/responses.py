"""The ``responses`` kind: answers to a questionnaire, one row per answered question.

Rows are checked against their questionnaire, a response at a time
(:mod:`harmonia.questionnaires.validation`): its rows stay in one chunk. A
repeat is the same response and question; answers dated after today are
counted for the load's warning; a multiple-choice answer is stored as one
answer per option, and a response loaded again has its answers replaced
unless they are the ones stored.
"""

from __future__ import annotations

import pyarrow as pa

from harmonia.ingest.checks import CheckContext
from harmonia.ingest.kind import DuplicateKey, Kind, Watch
from harmonia.ingest.merge import Merger, Rejections
from harmonia.sql import literal

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
    """Responses and their answers.

    A response loaded again has its answers replaced, unless they are the
    ones stored: then it is left as it was.
    """

    #: What makes a response one: who, which questionnaire, by whom, when.
    KEY = ("harmonia_id", "questionnaire", "version", "respondent", "answered_at")

    def __init__(self, *args: object, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.bulk.lock("response")
        self.next_id = self.bulk.next_id("response")
        self.duck.execute(
            "CREATE OR REPLACE TEMP TABLE known (id BIGINT, harmonia_id BIGINT, questionnaire "
            "VARCHAR, version VARCHAR, respondent VARCHAR, answered_at VARCHAR, reset BOOLEAN)"
        )
        # What became of each response this load met ('new', 'updated' or
        # 'unchanged'), and how many of its rows it has read so far.
        self.duck.execute(
            "CREATE OR REPLACE TEMP TABLE outcome (response_id BIGINT, outcome VARCHAR, rows BIGINT)"
        )
        self.seen_questionnaires: set[str] = set()

    def merge(self, valid: str) -> Rejections:
        self._resolve(valid, "resolved")
        rejected = self._unknown_customers("resolved")
        self._load_known()
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE heads AS
            SELECT h.*, k.id AS known_id, k.reset AS known_reset FROM (
                SELECT harmonia_id, questionnaire, version, respondent, answered_at,
                    COUNT(DISTINCT _row) AS rows
                FROM resolved WHERE harmonia_id IS NOT NULL
                GROUP BY harmonia_id, questionnaire, version, respondent, answered_at) h
            LEFT JOIN known k ON {self._same_response("k", "h")}
            """
        )
        # 'reloaded': a response stored before this load, loaded again; 'again':
        # one this load already wrote, given more answers in a later chunk.
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE heads_ided AS
            SELECT *, COALESCE(known_id, {self.next_id - 1} + row_number() OVER (
                PARTITION BY known_id IS NULL ORDER BY harmonia_id, questionnaire, version,
                respondent, answered_at)) AS response_id,
                CASE WHEN known_id IS NULL THEN 'new' WHEN known_reset THEN 'again'
                     ELSE 'reloaded' END AS state
            FROM heads
            """
        )
        self.duck.execute("CREATE OR REPLACE TEMP TABLE unchanged (response_id BIGINT)")
        self._write_heads()
        changed = "response_id NOT IN (SELECT response_id FROM unchanged)"
        self.bulk.append(
            "answer",
            self._arrow(
                f"SELECT response_id, question, value FROM ({self._answers()}) WHERE {changed} "
                "ORDER BY response_id, question, value"
            ),
        )
        self._record_outcomes()
        return rejected

    def _record_outcomes(self) -> None:
        """Add this chunk's rows to what became of their responses.

        A response met again in a later chunk (its rows interleaved with
        others') keeps its outcome, except that one left unchanged so far is
        updated by the answers it gains.
        """
        gained = self._arrow(
            "SELECT response_id AS id FROM heads_ided h JOIN outcome o USING (response_id) "
            "WHERE h.state = 'again' AND o.outcome = 'unchanged'"
        )
        self._take_into_batch(gained, replacing_answers=False)
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
        """This chunk's answers, each with its response's id and state."""
        return (
            "SELECT h.response_id, h.state, r.question, r.value "
            f"FROM resolved r JOIN heads_ided h ON {self._same_response('h', 'r')}"
        )

    def _same_response(self, left: str, right: str) -> str:
        return " AND ".join(f"{left}.{column} = {right}.{column}" for column in self.KEY)

    def _write_heads(self) -> None:
        batch = self.batch_id
        new = self._arrow(
            "SELECT response_id AS id, harmonia_id AS customer_id, questionnaire, version, "
            f"respondent, answered_at, {batch} AS batch_id FROM heads_ided "
            "WHERE state = 'new' ORDER BY response_id"
        )
        self.bulk.append("response", new)
        self.next_id += new.num_rows
        reloaded = self._arrow("SELECT response_id AS id FROM heads_ided WHERE state = 'reloaded'")
        if reloaded.num_rows:
            self._find_unchanged(reloaded)
            changed = self._arrow(
                "SELECT response_id AS id FROM heads_ided WHERE state = 'reloaded' "
                "AND response_id NOT IN (SELECT response_id FROM unchanged)"
            )
            self._take_into_batch(changed, replacing_answers=True)
        self.duck.execute(
            "UPDATE known SET reset = TRUE WHERE id IN (SELECT known_id FROM heads_ided)"
        )
        self.duck.execute(
            "INSERT INTO known SELECT response_id, harmonia_id, questionnaire, version, respondent, "
            "answered_at, TRUE FROM heads_ided WHERE state = 'new'"
        )

    def _take_into_batch(self, responses: pa.Table, *, replacing_answers: bool) -> None:
        """Stored responses (``id``) this batch writes: their answers go first if it replaces them."""
        if not responses.num_rows:
            return
        stage = self.bulk.stage(responses, "responses")
        if replacing_answers:
            self.bulk.execute(f"DELETE FROM answer WHERE response_id IN (SELECT id FROM {stage})")
        self.bulk.execute(
            f"UPDATE response SET batch_id = {self.batch_id} WHERE id IN (SELECT id FROM {stage})"
        )

    def _find_unchanged(self, reloaded: pa.Table) -> None:
        """Fill ``unchanged``: the reloaded responses whose answers are the stored ones."""
        stage = self.bulk.stage(reloaded, "responses")
        stored = self.bulk.read(
            "SELECT response_id, question, value FROM answer "
            f"WHERE response_id IN (SELECT id FROM {stage})"
        )
        self._into_duck(
            "stored_answers", stored, "response_id BIGINT, question VARCHAR, value VARCHAR"
        )
        answers = "list_sort(list({'question': question, 'value': value})) AS answers"
        self.duck.execute(
            f"""
            INSERT INTO unchanged
            SELECT response_id FROM (
                SELECT response_id, {answers} FROM ({self._answers()})
                WHERE state = 'reloaded' GROUP BY response_id
            ) incoming JOIN (
                SELECT response_id, {answers} FROM stored_answers GROUP BY response_id
            ) stored USING (response_id)
            WHERE incoming.answers = stored.answers
            """
        )

    def _load_known(self) -> None:
        names = self.duck.sql("SELECT DISTINCT questionnaire FROM resolved").fetchall()
        for (name,) in names:
            if name in self.seen_questionnaires:
                continue
            self.seen_questionnaires.add(name)
            stored = self.bulk.read(
                "SELECT id, customer_id, questionnaire, version, respondent, answered_at, "
                f"FALSE AS reset FROM response WHERE questionnaire = {literal(name)}"
            )
            if stored.num_rows:
                self.duck.register("incoming", stored)
                self.duck.execute(
                    "INSERT INTO known SELECT id, customer_id, questionnaire, version, respondent, "
                    "answered_at, CAST(reset AS BOOLEAN) FROM incoming"
                )
                self.duck.unregister("incoming")

    def finish(self) -> None:
        counts = dict(
            self.duck.sql("SELECT outcome, SUM(rows) FROM outcome GROUP BY outcome").fetchall()
        )
        self.new, self.updated, self.unchanged = (
            int(counts.get(outcome, 0)) for outcome in ("new", "updated", "unchanged")
        )
        self.bulk.sync_sequence("response")
        self.bulk.analyze("response", "answer")


KIND = Kind(
    "responses",
    check=responses_sql,
    merger=ResponseMerger,
    keys=(
        DuplicateKey(
            (*RESPONSE, "question"),
            "'duplicate of row ' || first_row || ' (same response and question)'",
        ),
    ),
    whole=RESPONSE,
    # One stored answer per option of a multiple-choice answer.
    valid_rows="""
        SELECT * EXCLUDE (_reasons, answer, multiple),
            unnest(CASE WHEN multiple THEN string_split(answer, '|') ELSE [answer] END) AS value
        FROM checked WHERE len(_reasons) = 0
    """,
    watch=LateAnswers,
)
