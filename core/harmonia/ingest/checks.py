"""Row validation as SQL: every canonical kind checked in one vectorized pass.

Each kind's check is a DuckDB query over the raw text columns of a batch
(``raw``) that returns typed, normalized columns plus ``_reasons``: the list
of everything wrong with the row, empty when it is fine. Nothing is dropped
here; the loader stores the rows without reasons and quarantines the rest
with theirs.

The helpers that parse market formats (decimal commas, periods, Luhn check
digits) are SQL macros, so that a million rows are checked without a Python
loop; :mod:`harmonia.periods` and python-stdnum are their references and the
tests hold the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import attrs

from harmonia.definitions import Questionnaire
from harmonia.definitions.questionnaire import CHOICE_TYPES, NUMERIC_TYPES
from harmonia.records import IdentifierScheme, InvalidIdentifier

MACROS = r"""
CREATE OR REPLACE MACRO harmonia_text(s) AS NULLIF(trim(CAST(s AS VARCHAR)), '');

CREATE OR REPLACE MACRO harmonia_number(s, comma) AS (
    WITH compact AS (SELECT regexp_replace(s, '[\s\x{00A0}\x{202F}'']', '', 'g') AS v)
    SELECT CASE
        WHEN v IS NULL THEN NULL
        WHEN comma AND regexp_full_match(v, '[+-]?\d{1,3}(\.\d{3})+(,\d*)?')
            THEN TRY_CAST(replace(replace(v, '.', ''), ',', '.') AS DOUBLE)
        WHEN comma AND NOT contains(v, '.') THEN TRY_CAST(replace(v, ',', '.') AS DOUBLE)
        WHEN comma THEN TRY_CAST(CASE WHEN contains(v, ',') THEN NULL ELSE v END AS DOUBLE)
        WHEN regexp_full_match(v, '[+-]?\d{1,3}(,\d{3})+(\.\d*)?')
            THEN TRY_CAST(replace(v, ',', '') AS DOUBLE)
        WHEN contains(v, ',') THEN NULL
        ELSE TRY_CAST(v AS DOUBLE)
    END FROM compact
);

CREATE OR REPLACE MACRO harmonia_period_months(p) AS CASE
    WHEN regexp_full_match(p, '\d{4}') THEN 12
    WHEN regexp_full_match(p, '\d{4}-H[12]') THEN 6
    WHEN regexp_full_match(p, '\d{4}-Q[1-4]') THEN 3
    WHEN regexp_full_match(p, '\d{4}-(0[1-9]|1[0-2])') THEN 1
END;

CREATE OR REPLACE MACRO harmonia_period_first(p) AS CASE
    WHEN regexp_full_match(p, '\d{4}') THEN CAST(p AS INTEGER) * 12
    WHEN regexp_full_match(p, '\d{4}-H[12]')
        THEN CAST(p[1:4] AS INTEGER) * 12 + (CAST(p[7] AS INTEGER) - 1) * 6
    WHEN regexp_full_match(p, '\d{4}-Q[1-4]')
        THEN CAST(p[1:4] AS INTEGER) * 12 + (CAST(p[7] AS INTEGER) - 1) * 3
    WHEN regexp_full_match(p, '\d{4}-(0[1-9]|1[0-2])')
        THEN CAST(p[1:4] AS INTEGER) * 12 + CAST(p[6:7] AS INTEGER) - 1
END;

CREATE OR REPLACE MACRO harmonia_luhn(v) AS (
    list_sum(list_transform(
        list_reverse(string_split(v, '')),
        lambda d, i: CASE
            WHEN i % 2 = 1 THEN TRY_CAST(d AS INTEGER)
            WHEN TRY_CAST(d AS INTEGER) * 2 > 9 THEN TRY_CAST(d AS INTEGER) * 2 - 9
            ELSE TRY_CAST(d AS INTEGER) * 2
        END
    )) % 10 = 0
);

CREATE OR REPLACE MACRO harmonia_timestamp(s, day_first) AS COALESCE(
    TRY_CAST(s AS TIMESTAMP),
    CASE WHEN day_first THEN try_strptime(s, ['%d/%m/%Y', '%d.%m.%Y', '%d/%m/%Y %H:%M'])
         ELSE try_strptime(s, ['%m/%d/%Y', '%m/%d/%Y %H:%M']) END
);
"""


def quote(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def text_list(values: Iterable[str]) -> str:
    """A SQL list of text literals (``'a', 'b'``), never empty."""
    quoted = [quote(value) for value in values]
    return ", ".join(quoted) if quoted else "NULL"


def _q(expression: str) -> str:
    """A value inside a reason, quoted so that alike reasons can be counted together."""
    return "'''' || " + expression + " || ''''"


def reasons(*conditions: str) -> str:
    """The ``_reasons`` column: the messages of every condition that applies."""
    return (
        "list_filter([" + ",\n        ".join(conditions) + "], lambda r: r IS NOT NULL) AS _reasons"
    )


@attrs.frozen
class CheckContext:
    """What row checks need to know beyond the rows themselves."""

    countries: frozenset[str]
    country: str | None = None
    decimal_comma: bool = False
    identifier_schemes: Mapping[str, IdentifierScheme] = attrs.Factory(dict)
    questionnaires: Mapping[tuple[str, str], Questionnaire] = attrs.Factory(dict)


# --- customers ------------------------------------------------------------------


def customers_sql(context: CheckContext) -> str:
    schemes = context.identifier_schemes
    scheme_checks = [_scheme_check(scheme) for scheme in schemes.values()]
    country_check = (
        f"CASE WHEN country IS NOT NULL AND country <> {quote(context.country)} THEN "
        f"'country ''' || country || ''' is not the country of this load ({context.country})' END"
        if context.country
        else "NULL"
    )
    return f"""
    WITH clean AS (
        SELECT _row,
            harmonia_text(customer_id) AS customer_id,
            upper(harmonia_text(country)) AS country,
            upper(harmonia_text(type)) AS type,
            harmonia_text(first_name) AS first_name,
            harmonia_text(last_name) AS last_name,
            harmonia_text(specialty) AS specialty,
            harmonia_text(postal_code) AS postal_code,
            harmonia_text(city) AS city,
            harmonia_text(territory) AS territory,
            upper(harmonia_text(id_scheme)) AS id_scheme,
            regexp_replace(harmonia_text(id_value), '[\\s.\\-]', '', 'g') AS id_value
        FROM raw
    ), ranked AS (
        SELECT *,
            min(_row) OVER (PARTITION BY customer_id) AS _first_row,
            CASE WHEN id_value IS NULL THEN NULL
                 ELSE min(_row) OVER (PARTITION BY id_scheme, id_value) END AS _first_id_row
        FROM clean
    )
    SELECT * EXCLUDE (_first_row, _first_id_row),
        {
        reasons(
            "CASE WHEN customer_id IS NULL THEN 'customer_id is empty' END",
            "CASE WHEN country IS NULL THEN 'country is empty' "
            f"WHEN country NOT IN ({text_list(sorted(context.countries))}) THEN 'country ''' || country || "
            "''' is not an ISO 3166 alpha-2 code such as FR or US' END",
            country_check,
            "CASE WHEN type IS NULL THEN 'type is empty: write HCP or HCO' "
            "WHEN type NOT IN ('HCP', 'HCO') THEN 'type ''' || type || ''' is not HCP or HCO' END",
            "CASE WHEN (id_scheme IS NULL) <> (id_value IS NULL) THEN "
            "'id_scheme and id_value go together: give both or neither' END",
            "CASE WHEN id_scheme IS NOT NULL AND id_value IS NOT NULL AND id_scheme NOT IN "
            f"({text_list(schemes)}) THEN 'identifier scheme ''' || id_scheme || ''' is not installed "
            f"(installed: {', '.join(sorted(schemes)) or 'none'})' END",
            *scheme_checks,
            "CASE WHEN _row <> _first_row THEN 'duplicate customer_id ''' || customer_id || "
            "''', first given at row ' || _first_row END",
            "CASE WHEN _row <> _first_id_row THEN 'identifier ''' || id_scheme || ' ' || id_value || "
            "''' is also given at row ' || _first_id_row END",
        )
    }
    FROM ranked
    """


def _scheme_check(scheme: IdentifierScheme) -> str:
    name = quote(scheme.name)
    pattern = quote(scheme.pattern)
    valid = f"regexp_full_match(id_value, {pattern})"
    if scheme.checksum == "luhn":
        valid += f" AND harmonia_luhn({quote(scheme.prefix)} || id_value)"
    return (
        f"CASE WHEN id_scheme = {name} AND id_value IS NOT NULL AND NOT ({valid}) THEN "
        f"'{scheme.name} ''' || id_value || ''' is not valid ({_sql_text(scheme.description)})' "
        f"WHEN id_scheme = {name} AND id_value IS NOT NULL AND country <> {quote(scheme.country)} "
        f"THEN '{scheme.name} is a {scheme.country} identifier but the customer''s country is ''' || country || '''' "
        + (
            f"WHEN id_scheme = {name} AND id_value IS NOT NULL "
            f"THEN {python_check_name(scheme)}(id_value) "
            if scheme.validate is not None
            else ""
        )
        + "END"
    )


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def python_check_name(scheme: IdentifierScheme) -> str:
    return "harmonia_check_" + "".join(ch if ch.isalnum() else "_" for ch in scheme.name.lower())


def python_check(scheme: IdentifierScheme) -> Callable[[str], str | None]:
    """A scheme's Python validator as a function returning the problem, or None."""

    def check(value: str) -> str | None:
        try:
            scheme.check(value)
        except InvalidIdentifier as error:
            return str(error)
        return None

    return check


# --- metrics --------------------------------------------------------------------


def metrics_sql(context: CheckContext) -> str:
    comma = "TRUE" if context.decimal_comma else "FALSE"
    mark = "decimal comma" if context.decimal_comma else "decimal point"
    return f"""
    WITH clean AS (
        SELECT _row,
            harmonia_text(customer_id) AS customer_id,
            lower(harmonia_text(therapy_area)) AS therapy_area,
            lower(harmonia_text(metric)) AS metric,
            upper(harmonia_text(period)) AS period,
            harmonia_text(value) AS value_text,
            harmonia_number(harmonia_text(value), {comma}) AS value
        FROM raw
    ), ranked AS (
        SELECT *,
            harmonia_period_first(period) AS first_month,
            harmonia_period_first(period) + harmonia_period_months(period) - 1 AS last_month,
            min(_row) OVER (PARTITION BY customer_id, therapy_area, metric, period) AS _first_row
        FROM clean
    )
    SELECT * EXCLUDE (_first_row, value_text),
        {
        reasons(
            "CASE WHEN customer_id IS NULL THEN 'customer_id is empty' END",
            "CASE WHEN therapy_area IS NULL THEN 'therapy_area is empty' "
            "WHEN NOT regexp_full_match(therapy_area, '[a-z0-9][a-z0-9_.-]*') THEN 'therapy_area ''' || "
            "therapy_area || ''' is not an id (lower case letters, digits, - _ .)' END",
            "CASE WHEN metric IS NULL THEN 'metric is empty' "
            "WHEN NOT regexp_full_match(metric, '[a-z][a-z0-9_]*') THEN 'metric ''' || metric || "
            "''' is not a name (lower case letters, digits and _)' END",
            "CASE WHEN period IS NULL THEN 'period is empty' WHEN first_month IS NULL THEN 'period ''' || "
            "period || ''' is not a period: write 2027, 2027-H1, 2027-Q3 or 2027-05' END",
            "CASE WHEN value_text IS NULL THEN 'value is empty' WHEN value IS NULL THEN 'value ''' || "
            f"value_text || ''' is not a number (this file is read with a {mark})' END",
            "CASE WHEN _row <> _first_row THEN 'duplicate of row ' || _first_row || "
            "' (same customer, therapy area, metric and period)' END",
        )
    }
    FROM ranked
    """


# --- responses ------------------------------------------------------------------


def items_table(questionnaires: Iterable[Questionnaire]) -> str:
    """The installed questionnaires' items as an inline VALUES table."""
    rows = []
    for questionnaire in questionnaires:
        for item in questionnaire.items:
            options = "|" + "|".join(option.code for option in item.options) + "|"
            rows.append(
                "("
                + ", ".join(
                    [
                        quote(questionnaire.id),
                        quote(questionnaire.version),
                        quote(item.id),
                        quote(item.type),
                        "NULL" if item.min is None else repr(float(item.min)),
                        "NULL" if item.max is None else repr(float(item.max)),
                        quote(options),
                    ]
                )
                + ")"
            )
    if not rows:
        rows.append("(NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
    return (
        "(VALUES " + ",\n            ".join(rows) + ") AS items(questionnaire, version, question, "
        "item_type, low, high, options)"
    )


def responses_sql(context: CheckContext) -> str:
    comma = "TRUE" if context.decimal_comma else "FALSE"
    installed = sorted(f"{qid} {version}" for qid, version in context.questionnaires)
    choice = text_list(CHOICE_TYPES)
    numeric = text_list(NUMERIC_TYPES)
    return f"""
    WITH clean AS (
        SELECT _row,
            harmonia_text(customer_id) AS customer_id,
            harmonia_text(questionnaire) AS questionnaire,
            harmonia_text(version) AS version,
            COALESCE(harmonia_text(respondent), '') AS respondent,
            harmonia_text(answered_at) AS answered_text,
            strftime(harmonia_timestamp(harmonia_text(answered_at), {comma}), '%Y-%m-%dT%H:%M:%S')
                AS answered_at,
            harmonia_text(question) AS question,
            harmonia_text(answer) AS answer
        FROM raw
    ), items AS (
        SELECT * FROM {items_table(context.questionnaires.values())}
    ), known AS (
        SELECT DISTINCT questionnaire, version FROM items
    ), typed AS (
        SELECT clean.*, i.item_type, i.low, i.high, i.options,
            k.questionnaire IS NOT NULL AS _known,
            harmonia_number(answer, {comma}) AS number,
            list_filter(string_split(answer, '|'), lambda o: trim(o) <> '') AS codes,
            min(_row) OVER (PARTITION BY clean.customer_id, clean.questionnaire, clean.version,
                            clean.respondent, clean.answered_text, clean.question) AS _first_row
        FROM clean
        LEFT JOIN known AS k
            ON k.questionnaire = clean.questionnaire AND k.version = clean.version
        LEFT JOIN items AS i ON i.questionnaire = clean.questionnaire
            AND i.version = clean.version AND i.question = clean.question
    )
    SELECT _row, customer_id, questionnaire, version, respondent, answered_at, question,
        CASE
            WHEN item_type = 'multiple' THEN array_to_string(list_sort(list_distinct(
                list_transform(codes, lambda o: trim(o)))), '|')
            WHEN item_type = 'boolean' THEN CASE WHEN lower(answer) IN ('true', 'yes', '1')
                THEN 'true' ELSE 'false' END
            WHEN item_type IN ({numeric}) AND number IS NOT NULL THEN CAST(number AS VARCHAR)
            WHEN item_type = 'date' THEN strftime(harmonia_timestamp(answer, {comma}), '%Y-%m-%d')
            ELSE answer
        END AS answer,
        item_type = 'multiple' AS multiple,
        {
        reasons(
            "CASE WHEN customer_id IS NULL THEN 'customer_id is empty' END",
            "CASE WHEN questionnaire IS NULL THEN 'questionnaire is empty' "
            "WHEN version IS NULL THEN 'version is empty' "
            f"WHEN NOT _known THEN 'questionnaire ' || {_q('questionnaire')} || ' version ' || "
            f"{_q('version')} || ' is not installed (installed: {', '.join(installed) or 'none'})' END",
            "CASE WHEN answered_text IS NULL THEN 'answered_at is empty' WHEN answered_at IS NULL "
            f"THEN 'answered_at ' || {_q('answered_text')} || ' is not a date (write YYYY-MM-DD)' END",
            "CASE WHEN question IS NULL THEN 'question is empty' WHEN _known AND item_type IS NULL "
            f"THEN 'question ' || {_q('question')} || ' is not an item of ' || questionnaire || "
            "' version ' || version END",
            "CASE WHEN answer IS NULL THEN 'answer is empty' END",
            f"CASE WHEN item_type IN ({choice}) AND answer IS NOT NULL AND len(list_filter(codes, "
            "lambda o: NOT contains(options, '|' || trim(o) || '|'))) > 0 THEN 'answer ' || "
            f"{_q('answer')} || ' is not an option of ' || question || ' (options: ' || "
            "trim(replace(options, '|', ' ')) || ')' END",
            "CASE WHEN item_type = 'single' AND len(codes) > 1 THEN 'question ' || question || "
            f"' takes one option, got ' || {_q('answer')} END",
            f"CASE WHEN item_type IN ({numeric}) AND answer IS NOT NULL AND number IS NULL THEN "
            f"'answer ' || {_q('answer')} || ' to ' || question || ' is not a number' "
            f"WHEN item_type IN ({numeric}) AND (number < low OR number > high) THEN 'answer ' || "
            f"{_q('answer')} || ' to ' || question || ' is outside ' || low || ' to ' || high END",
            "CASE WHEN item_type = 'integer' AND number IS NOT NULL AND number <> floor(number) "
            f"THEN 'answer ' || {_q('answer')} || ' to ' || question || ' is not a whole number' END",
            "CASE WHEN item_type = 'boolean' AND lower(answer) NOT IN "
            f"('true', 'false', 'yes', 'no', '1', '0') THEN 'answer ' || {_q('answer')} || ' to ' || "
            "question || ' is not true or false' END",
            f"CASE WHEN item_type = 'date' AND harmonia_timestamp(answer, {comma}) IS NULL "
            f"THEN 'answer ' || {_q('answer')} || ' to ' || question || ' is not a date' END",
            "CASE WHEN _row <> _first_row THEN 'duplicate of row ' || _first_row || "
            "' (same response and question)' END",
        )
    }
    FROM typed
    """


CHECKS: Mapping[str, Callable[[CheckContext], str]] = {
    "customers": customers_sql,
    "metrics": metrics_sql,
    "responses": responses_sql,
}
