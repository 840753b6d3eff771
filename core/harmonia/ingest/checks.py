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

from collections.abc import Callable, Mapping

import attrs

from harmonia.ingest.plausibility import Expectations, bounds_reason
from harmonia.plugin.types import IdentifierScheme, InvalidIdentifier
from harmonia.questionnaires import Questionnaire
from harmonia.sql import quote, quoted_in_message, reasons, text_list

MACROS = r"""
CREATE OR REPLACE MACRO harmonia_text(s) AS NULLIF(trim(CAST(s AS VARCHAR)), '');

CREATE OR REPLACE MACRO harmonia_finite(x) AS CASE WHEN isfinite(x) THEN x END;

CREATE OR REPLACE MACRO harmonia_number_written(v, comma) AS CASE
    -- Signs that a grouping mark keeps apart are still two signs.
    WHEN regexp_matches(v, '[+-][+-]') THEN NULL
    WHEN comma AND regexp_full_match(v, '[+-]?[1-9]\d{0,2}(\.\d{3})+(,\d*)?')
        THEN TRY_CAST(replace(replace(v, '.', ''), ',', '.') AS DOUBLE)
    WHEN comma AND NOT contains(v, '.') THEN TRY_CAST(replace(v, ',', '.') AS DOUBLE)
    WHEN comma AND NOT contains(v, ',') THEN TRY_CAST(v AS DOUBLE)
    WHEN comma THEN NULL
    WHEN regexp_full_match(v, '[+-]?[1-9]\d{0,2}(,\d{3})+(\.\d*)?')
        THEN TRY_CAST(replace(v, ',', '') AS DOUBLE)
    WHEN NOT contains(v, ',') THEN TRY_CAST(v AS DOUBLE)
    WHEN NOT contains(v, '.') THEN TRY_CAST(replace(v, ',', '.') AS DOUBLE)
    ELSE NULL
END;

-- A plain number takes the fast path; grouping marks (spaces, no-break spaces,
-- apostrophes, the other mark in groups of three after a leading 1-999) take
-- the written one. The other mark anywhere else cannot be grouping, so it is
-- read as the decimal mark: 92.9 and 0.125 in a decimal-comma file are 92.9 and
-- 0.125, but 1.234 is 1234 (unless the column shows otherwise, see below).
CREATE OR REPLACE MACRO harmonia_number(s, comma) AS CASE
    -- DuckDB's cast takes '+-0'; a number has one sign at most.
    WHEN contains(s, '+-') OR contains(s, '-+') OR contains(s, '--') OR contains(s, '++')
        THEN NULL
    ELSE harmonia_finite(COALESCE(
        CASE WHEN comma AND contains(s, '.') THEN NULL
             WHEN comma THEN TRY_CAST(replace(s, ',', '.') AS DOUBLE)
             ELSE TRY_CAST(s AS DOUBLE) END,
        harmonia_number_written(regexp_replace(s, '[\s\x{00A0}\x{202F}'']', '', 'g'), comma)
    ))
END;

-- A value with the file's other mark where it cannot be grouping (92.9 in a
-- decimal-comma file): evidence that its column writes that mark as decimal,
-- so that its 2.500 is read as 2.5, not 2500.
CREATE OR REPLACE MACRO harmonia_other_mark_decimal(s, comma) AS CASE
    WHEN comma THEN contains(s, '.') AND NOT contains(s, ',') AND NOT regexp_full_match(
        regexp_replace(s, '[\s\x{00A0}\x{202F}'']', '', 'g'), '[+-]?[1-9]\d{0,2}(\.\d{3})+')
    ELSE contains(s, ',') AND NOT contains(s, '.') AND NOT regexp_full_match(
        regexp_replace(s, '[\s\x{00A0}\x{202F}'']', '', 'g'), '[+-]?[1-9]\d{0,2}(,\d{3})+')
END;

CREATE OR REPLACE MACRO harmonia_period_valid(p) AS
    regexp_full_match(p, '\d{4}(-(H[12]|Q[1-4]|0[1-9]|1[0-2]))?');

CREATE OR REPLACE MACRO harmonia_period_months(p) AS CASE
    WHEN NOT harmonia_period_valid(p) THEN NULL
    WHEN length(p) = 4 THEN 12
    WHEN p[6] = 'H' THEN 6
    WHEN p[6] = 'Q' THEN 3
    ELSE 1
END;

CREATE OR REPLACE MACRO harmonia_period_first(p) AS CASE
    WHEN NOT harmonia_period_valid(p) THEN NULL
    WHEN length(p) = 4 THEN CAST(p AS INTEGER) * 12
    WHEN p[6] = 'H' THEN CAST(p[1:4] AS INTEGER) * 12 + (CAST(p[7] AS INTEGER) - 1) * 6
    WHEN p[6] = 'Q' THEN CAST(p[1:4] AS INTEGER) * 12 + (CAST(p[7] AS INTEGER) - 1) * 3
    ELSE CAST(p[1:4] AS INTEGER) * 12 + CAST(p[6:7] AS INTEGER) - 1
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

-- The check digit after len(weights) digits is (10 - weighted sum mod 10) mod 10.
CREATE OR REPLACE MACRO harmonia_weighted_mod10(v, weights) AS (
    length(v) > len(weights) AND regexp_full_match(v[1:len(weights) + 1], '\d+')
    AND (10 - list_sum(list_transform(weights, lambda w, i: w * TRY_CAST(v[i] AS INTEGER))) % 10) % 10
        = TRY_CAST(v[len(weights) + 1] AS INTEGER)
);

CREATE OR REPLACE MACRO harmonia_timestamp(s, day_first) AS COALESCE(
    TRY_CAST(s AS TIMESTAMP),
    CASE WHEN day_first THEN try_strptime(s, ['%d/%m/%Y', '%d.%m.%Y', '%d/%m/%Y %H:%M'])
         ELSE try_strptime(s, ['%m/%d/%Y', '%m/%d/%Y %H:%M']) END
);
"""

#: Columns whose repetition within one load is a duplicate, per kind. The
#: loader flags every repeat after the first, across the chunks of a large file.
DUPLICATE_KEYS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "customers": (("customer_id",), ("id_scheme", "id_value")),
    "metrics": (("customer_id", "therapy_area", "metric", "period"),),
    "responses": (
        ("customer_id", "questionnaire", "version", "respondent", "answered_at", "question"),
    ),
}


@attrs.frozen
class CheckContext:
    """What row checks need to know beyond the rows themselves."""

    countries: frozenset[str]
    country: str | None = None
    decimal_comma: bool = False
    identifier_schemes: Mapping[str, IdentifierScheme] = attrs.Factory(dict)
    questionnaires: Mapping[tuple[str, str], Questionnaire] = attrs.Factory(dict)
    expectations: Expectations = attrs.Factory(Expectations)


# --- customers ------------------------------------------------------------------

#: How a customers file says a customer objects to profiling, or does not.
OBJECTION_YES = ("yes", "y", "true", "1", "x", "oui", "ja", "si", "はい")
OBJECTION_NO = ("no", "n", "false", "0", "non", "nein", "いいえ")


def customers_sql(context: CheckContext) -> str:
    schemes = context.identifier_schemes
    scheme_checks = [_scheme_check(scheme) for scheme in schemes.values()]
    country_check = (
        f"CASE WHEN country IS NOT NULL AND country <> {quote(context.country)} THEN "
        f"'country ' || {quoted_in_message('country')} || "
        f"{quote(f' is not the country of this load ({context.country})')} END"
        if context.country
        else "NULL"
    )
    iso = ", ".join(f"({quote(code)})" for code in sorted(context.countries))
    installed = ", ".join(sorted(schemes)) or "none"
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
            harmonia_text(address) AS address,
            regexp_replace(harmonia_text(phone), '[^0-9+]', '', 'g') AS phone,
            lower(harmonia_text(email)) AS email,
            lower(harmonia_text(objection)) AS objection,
            upper(harmonia_text(id_scheme)) AS id_scheme,
            regexp_replace(harmonia_text(id_value), '[\\s.\\-]', '', 'g') AS id_value
        FROM raw
    ), iso(code) AS (VALUES {iso}),
    known AS (
        SELECT clean.*, iso.code IS NOT NULL AS _known_country
        FROM clean LEFT JOIN iso ON iso.code = clean.country
    )
    SELECT * EXCLUDE (_known_country),
        {
        reasons(
            "CASE WHEN customer_id IS NULL THEN 'customer_id is empty' END",
            "CASE WHEN country IS NULL THEN 'country is empty' "
            "WHEN NOT _known_country THEN 'country ''' || country || "
            "''' is not an ISO 3166 alpha-2 code such as FR or US' END",
            country_check,
            "CASE WHEN type IS NULL THEN 'type is empty: write HCP or HCO' "
            "WHEN type NOT IN ('HCP', 'HCO') THEN 'type ''' || type || ''' is not HCP or HCO' END",
            f"CASE WHEN objection IS NOT NULL AND objection NOT IN ({text_list(OBJECTION_YES + OBJECTION_NO)}) "
            f"THEN 'objection ' || {quoted_in_message('objection')} || ' is not yes or no' END",
            "CASE WHEN (id_scheme IS NULL) <> (id_value IS NULL) THEN "
            "'id_scheme and id_value go together: give both or neither' END",
            "CASE WHEN id_scheme IS NOT NULL AND id_value IS NOT NULL AND id_scheme NOT IN "
            f"({text_list(schemes)}) THEN 'identifier scheme ' || {quoted_in_message('id_scheme')} "
            f"|| {quote(f' is not installed (installed: {installed})')} END",
            *scheme_checks,
        )
    }
    FROM known
    """


def _scheme_check(scheme: IdentifierScheme) -> str:
    name = quote(scheme.name)
    pattern = quote(scheme.pattern)
    valid = f"regexp_full_match(id_value, {pattern})"
    elsewhere = f"{scheme.name} is a {scheme.country} identifier but the customer's country is "
    digits = f"{quote(scheme.prefix)} || id_value"
    if scheme.checksum == "luhn":
        valid += f" AND harmonia_luhn({digits})"
    elif scheme.checksum == "weighted-mod10":
        weights = ", ".join(str(int(weight)) for weight in scheme.weights)
        valid += f" AND harmonia_weighted_mod10({digits}, [{weights}])"
    return (
        f"CASE WHEN id_scheme = {name} AND id_value IS NOT NULL AND NOT ({valid}) THEN "
        f"{quote(scheme.name + ' ')} || {quoted_in_message('id_value')} || "
        f"{quote(f' is not valid ({scheme.description})')} "
        f"WHEN id_scheme = {name} AND id_value IS NOT NULL AND country <> {quote(scheme.country)} "
        f"THEN {quote(elsewhere)} || {quoted_in_message('country')} "
        + _specialty_check(scheme)
        + (
            f"WHEN id_scheme = {name} AND id_value IS NOT NULL "
            f"THEN {python_check_name(scheme)}(id_value) "
            if scheme.validate is not None
            else ""
        )
        + "END"
    )


def _specialty_check(scheme: IdentifierScheme) -> str:
    """The WHEN branch refusing a value whose specialty code the customer's specialty lacks."""
    if scheme.specialty_digits is None:
        return ""
    first, last = scheme.specialty_digits
    code = f"substr(id_value, {first}, {last - first + 1})"
    pairs = text_list(
        f"{specialty}/{group}"
        for specialty, groups in sorted(scheme.specialty_groups.items())
        for group in groups
    )
    allowed = (
        "CASE specialty "
        + " ".join(
            f"WHEN {quote(specialty)} THEN {quote(' or '.join(groups))}"
            for specialty, groups in sorted(scheme.specialty_groups.items())
        )
        + " END"
    )
    return (
        f"WHEN id_scheme = {quote(scheme.name)} AND id_value IS NOT NULL "
        f"AND specialty IN ({text_list(scheme.specialty_groups)}) "
        f"AND specialty || '/' || {code} NOT IN ({pairs}) "
        f"THEN {quote(scheme.name + ' ')} || {quoted_in_message('id_value')} || "
        f"' carries specialty group ' || {code} || ', but the customer''s specialty ' || "
        f"specialty || ' has group ' || {allowed} "
    )


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
    own = "," if context.decimal_comma else "."
    expected = context.expectations
    # Periods, areas and metric names repeat across millions of rows: they are
    # parsed and checked once per distinct value and joined back.
    return f"""
    WITH clean AS (
        SELECT _row,
            harmonia_text(customer_id) AS customer_id,
            lower(harmonia_text(therapy_area)) AS therapy_area,
            lower(harmonia_text(metric)) AS metric,
            upper(harmonia_text(period)) AS period,
            harmonia_text(value) AS value_text
        FROM raw
    ), marks AS (
        -- The chunk's values decide what its other mark means (see the macro).
        SELECT COALESCE(bool_or(harmonia_other_mark_decimal(value_text, {comma})), FALSE)
            AS other_is_decimal
        FROM clean
    ), valued AS (
        SELECT clean.*, harmonia_number(value_text, CASE
            WHEN other_is_decimal AND NOT contains(value_text, {quote(own)}) THEN NOT {comma}
            ELSE {comma} END) AS value
        FROM clean, marks
    ), periods AS (
        SELECT period, harmonia_period_first(period) AS first_month,
            harmonia_period_first(period) + harmonia_period_months(period) - 1 AS last_month
        FROM (SELECT DISTINCT period FROM clean)
    ), names AS (
        SELECT d.therapy_area, d.metric,
            regexp_full_match(d.therapy_area, '[a-z0-9][a-z0-9_.-]*') AS _area_ok,
            regexp_full_match(d.metric, '[a-z][a-z0-9_]*') AS _metric_ok,
            bounds.low, bounds.high, bounds.declared_by
        FROM (SELECT DISTINCT therapy_area, metric FROM clean) d
        LEFT JOIN {expected.bounds_table()}
            ON bounds.therapy_area = d.therapy_area AND bounds.metric = d.metric
    ), joined AS (
        SELECT valued.*, periods.first_month, periods.last_month, names._area_ok, names._metric_ok,
            names.low, names.high, names.declared_by
        FROM valued
        LEFT JOIN periods ON periods.period IS NOT DISTINCT FROM valued.period
        LEFT JOIN names ON names.therapy_area IS NOT DISTINCT FROM valued.therapy_area
            AND names.metric IS NOT DISTINCT FROM valued.metric
    )
    SELECT * EXCLUDE (value_text, _area_ok, _metric_ok, low, high, declared_by),
        {
        reasons(
            "CASE WHEN customer_id IS NULL THEN 'customer_id is empty' END",
            "CASE WHEN therapy_area IS NULL THEN 'therapy_area is empty' "
            "WHEN NOT _area_ok THEN 'therapy_area ''' || "
            "therapy_area || ''' is not an id (lower case letters, digits, - _ .)' END",
            "CASE WHEN metric IS NULL THEN 'metric is empty' "
            "WHEN NOT _metric_ok THEN 'metric ''' || metric || "
            "''' is not a name (lower case letters, digits and _)' END",
            "CASE WHEN period IS NULL THEN 'period is empty' WHEN first_month IS NULL THEN 'period ''' "
            "|| period || ''' is not a period: write 2027, 2027-H1, 2027-Q3 or 2027-05' END",
            expected.future_period_reason("period", "first_month"),
            "CASE WHEN value_text IS NULL THEN 'value is empty' "
            "WHEN value IS NULL AND regexp_matches(value_text, '[0-9]') AND isinf(COALESCE("
            "TRY_CAST(value_text AS DOUBLE), TRY_CAST(replace(value_text, ',', '.') AS DOUBLE))) "
            "THEN 'value ''' || value_text || ''' is out of range: no metric is that large' "
            "WHEN value IS NULL THEN 'value ''' || "
            f"value_text || ''' is not a number (this file is read with a {mark})' END",
            bounds_reason("value", "value_text", "metric"),
        )
    }
    FROM joined
    """


# --- responses ------------------------------------------------------------------


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


CHECKS: Mapping[str, Callable[[CheckContext], str]] = {
    "customers": customers_sql,
    "metrics": metrics_sql,
    "responses": responses_sql,
}
