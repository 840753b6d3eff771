"""Row validation as SQL: what the checks of every kind share.

Each kind's check (in the kind's module, see :mod:`harmonia.ingest.kind`) is
a DuckDB query over the raw text columns of a batch (``raw``) that returns
typed, normalized columns plus ``_reasons``: the list of everything wrong
with the row, empty when it is fine, in one vectorized pass. Nothing is
dropped there; the loader stores the rows without reasons and quarantines
the rest with theirs.

The helpers that parse market formats (decimal commas, periods, Luhn check
digits) are SQL macros, so that a million rows are checked without a Python
loop; :mod:`harmonia.periods` and python-stdnum are their references and the
tests hold the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from harmonia.ingest.plausibility import Expectations
from harmonia.plugin.types import IdentifierScheme
from harmonia.questionnaires import Questionnaire

MACROS = r"""
-- A text value, trimmed, NULL when empty: NULLIF(trim(s), ''). Most values are
-- ASCII with no space at either end, which trim (it strips Unicode spaces, the
-- only ASCII one being ' ') leaves as they are: they skip it, which halves the
-- cost of cleaning a file's columns.
CREATE OR REPLACE MACRO harmonia_text(s) AS CASE
    WHEN CAST(s AS VARCHAR) = '' THEN NULL
    WHEN strlen(CAST(s AS VARCHAR)) = length(CAST(s AS VARCHAR))
        AND NOT starts_with(CAST(s AS VARCHAR), ' ') AND NOT ends_with(CAST(s AS VARCHAR), ' ')
        THEN CAST(s AS VARCHAR)
    ELSE NULLIF(trim(CAST(s AS VARCHAR)), '')
END;

CREATE OR REPLACE MACRO harmonia_finite(x) AS CASE WHEN isfinite(x) THEN x END;

CREATE OR REPLACE MACRO harmonia_number_written(v, comma) AS CASE
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
        -- Only what the fast path refused: signs that grouping marks keep apart
        -- are still two signs, and the rest is read as written.
        CASE WHEN NOT regexp_matches(s, '[+-][\s\x{00A0}\x{202F}'']+[+-]') THEN
            harmonia_number_written(regexp_replace(s, '[\s\x{00A0}\x{202F}'']', '', 'g'), comma)
        END
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


@attrs.frozen
class CheckContext:
    """What row checks need to know beyond the rows themselves."""

    countries: frozenset[str]
    country: str | None = None
    decimal_comma: bool = False
    identifier_schemes: Mapping[str, IdentifierScheme] = attrs.Factory(dict)
    questionnaires: Mapping[tuple[str, str], Questionnaire] = attrs.Factory(dict)
    expectations: Expectations = attrs.Factory(Expectations)
