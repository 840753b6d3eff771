"""Finding the customers that are one person: splink on DuckDB, after the identifiers.

National identifiers decide first, at load time: a row whose identifier a
customer already has *is* that customer (:mod:`harmonia.ingest.customers`), so
no two customers share one. What is left are duplicates that share no
identifier (a vendor without RPPS, a rep's workbook, a typo). These are
found here by probabilistic record linkage (Fellegi-Sunter, splink on
DuckDB) on name, specialty, address, postal code, phone and e-mail:

* blocking rules keep the comparisons to pairs sharing a surname and postal
  code, a full name, a phone, an e-mail, a first name and postal code, or a
  postal code and address, so a universe of millions compares a few pairs
  per customer, not millions squared;
* postal code, address and phone are compared together, as one practice: a
  practice that moved changes all three at once, which three comparisons
  would count three times against the person;
* the model starts from declared m and u probabilities (how often a field
  agrees between two records of one person, and of two people); from
  :data:`TRAIN_FROM` customers u is estimated from random pairs and m by
  expectation maximisation (on pairs sharing a full name, then a postal
  code), each m kept at least :data:`M_FLOOR` so that no one disagreement
  vetoes a match; names agreeing weigh by their frequency (splink's term
  frequency adjustments: a rare surname says more than Martin);
* the prior (how likely two random customers are one person) is estimated
  from customers sharing an e-mail address held by few customers (a shared
  mailbox or a placeholder is nobody's), scaled by how often the sure pairs
  (same name, same practice, not rejected by a steward) share one, counted on
  every customer record of the country, merged ones included, so that a
  re-run finds the prior the first run found; at most 1/N. With nothing to
  estimate from it is 1/N, the run says why, and it merges no pair under
  :data:`UNCALIBRATED_MERGE` (those are reviewed). So a probability is
  calibrated, and a country's thresholds are probabilities;
* whether two customers have a system in common is compared too: a system
  rarely knows one person twice, another system's file covers many of them;
* another e-mail address weighs apart inside one system and across systems
  (where a market has duplicates inside a system): two systems are often
  given two mailboxes of one person, one system's duplicates keep theirs;
* two customers with different values of one national identifier scheme are
  never a match, whatever the names say;
* one to one between sources: a system knows a person once, so a customer is
  merged with at most one customer of each other system, the likeliest. A
  pair above the merge threshold goes to review instead when a customer of
  the same other system is as likely or likelier, unless those two rivals are
  a pair themselves (a duplicate inside that system, not a namesake). Pairs
  inside one system (its own duplicates) are not ranked. The rule ranks the
  pairs of one run: customers merged by an earlier run are not rivals.

Pairs at or above the country's ``match_merge_threshold`` are merged (with
``apply``); pairs between ``match_review_threshold`` and it go to the
review queue, where a data steward accepts or rejects them. A pair once
rejected (or undone) is never proposed again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import attrs
import pyarrow as pa

from harmonia.compute import duckdb_connection
from harmonia.errors import ConfigError
from harmonia.sql import literal
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database

#: Below this many customers m and u are taken as declared: a small universe
#: has too few random pairs to estimate u, too few matches to estimate m.
TRAIN_FROM = 20_000
#: Random pairs u is estimated from, and blocked pairs each EM reads at most (a
#: sample beyond; EM without term frequencies, which predicting applies): 1M x
#: 400k trains in 13 s, not 58 s, to the same m within 0.01.
U_PAIRS = 2e6
EM_PAIRS = 5e5
#: The least m probability: one person's two records may differ in anything (a
#: specialty recorded differently, a second e-mail address) one time in a hundred.
M_FLOOR = 0.01
#: Pairs sharing a full name and a practice (postal code and address) the
#: e-mail rule's recall is estimated from, at least: fewer say too little.
PRIOR_FROM_PAIRS = 100
#: An e-mail address held by more customers than this is a shared mailbox (a
#: practice's, a secretariat's) or a placeholder, not one person's: the prior's
#: rule leaves it out, else k customers on one address count k(k-1)/2 matches.
MAILBOX_HOLDERS = 3
#: Without an estimated prior (1/N, several times too high) a probability is not
#: calibrated: pairs under this are reviewed, whatever the country's merge threshold.
UNCALIBRATED_MERGE = 0.9


@attrs.frozen
class MatchResult:
    """What a match run found (and merged, with ``apply``)."""

    country: str
    customers: int
    compared: int  # pairs the blocking rules let through, scored
    candidates: int  # pairs at or above the review threshold, not decided before
    to_merge: int
    to_review: int
    conflicting: int  # pairs refused for different national identifiers
    outranked: int  # above the merge threshold but reviewed: a likelier pair of the same system
    merged: int
    seconds: float
    stages: dict[str, float] = attrs.field(factory=dict)  # seconds each stage took, in order
    prior: float = 0.0  # the probability that two random customers are one person
    prior_from: str = ""  # how the prior was found (estimated, or why not)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def normalised_records(country: str, table: str = "customers", systems: str = "systems") -> str:
    """SQL (DuckDB, over ``table`` and ``systems``): the fields compared, made comparable."""
    name = "NULLIF(regexp_replace(lower(strip_accents({0})), '[^a-z]', '', 'g'), '')"
    # Columns a store left all empty come over untyped: text first.
    text = "CAST({0} AS VARCHAR)"
    return f"""
        SELECT id AS unique_id,
            {name.format(text.format("first_name"))} AS first_name,
            {name.format(text.format("last_name"))} AS last_name,
            NULLIF(lower(trim({text.format("specialty")})), '') AS specialty,
            NULLIF(upper(regexp_replace({text.format("postal_code")}, '\\s', '', 'g')), '')
                AS postal_code,
            NULLIF(trim(regexp_replace(lower(strip_accents({text.format("address")})),
                '[^a-z0-9]+', ' ', 'g')), '') AS address,
            -- the last nine digits: +33 1 ... and 01 ... are one number
            NULLIF(right(regexp_replace({text.format("phone")}, '[^0-9]', '', 'g'), 9), '')
                AS phone,
            NULLIF(lower(trim({text.format("email")})), '') AS email,
            known.systems
        FROM {table}
        -- the systems that know the customer (two, once identifiers made one)
        LEFT JOIN (SELECT customer_id, list(DISTINCT system ORDER BY system) AS systems
                   FROM {systems} GROUP BY customer_id) known ON known.customer_id = {table}.id
        WHERE country = {literal(country)}
    """


def settings(
    universe: int, inside: tuple[float, float] | None = None, prior: float | None = None
) -> Any:
    """The splink model: comparisons with declared m and u, blocking rules.

    ``prior`` is the probability that two random customers are one person
    (1/N when None). ``inside`` is the share of one person's pairs of records inside one system,
    and of all pairs (see :func:`_inside_one_system`); None leaves systems out.
    Another e-mail address weighs apart inside one system and across systems
    (:func:`_email`) when the market has duplicates inside a system (a share
    of at least :data:`M_FLOOR`): without any there is nothing to learn the
    inside case from, and EM would drive its m to zero, which splink refuses.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    def name(column: str, u_exact: float) -> Any:
        # Exact, Jaro-Winkler > 0.92, > 0.88, > 0.70, anything else. A name agreeing
        # weighs by its frequency (a rare surname says more than Martin), nearly
        # agreeing too, by the more frequent of the two: else Jean and Jean would say
        # less than Jean and Jeanne.
        def close(threshold: float) -> Any:
            return cll.JaroWinklerLevel(column, threshold).configure(tf_adjustment_column=column)

        return cl.CustomComparison(
            output_column_name=column,
            comparison_levels=[
                cll.NullLevel(column),
                cll.ExactMatchLevel(column).configure(tf_adjustment_column=column),
                close(0.92),
                close(0.88),
                cll.JaroWinklerLevel(column, 0.7),
                cll.ElseLevel(),
            ],
        ).configure(
            m_probabilities=[0.86, 0.07, 0.03, 0.02, 0.02],
            u_probabilities=[u_exact, 0.002, 0.004, 0.03, 0.964 - u_exact],
        )

    def practice() -> Any:
        # Postal code, address and phone together: a practice that moved changes all
        # three at once, which three comparisons would count three times against the
        # person.
        same_postal_code = cll.ExactMatchLevel("postal_code")
        return cl.CustomComparison(
            output_column_name="practice",
            comparison_levels=[
                cll.And(
                    cll.NullLevel("postal_code"), cll.NullLevel("address"), cll.NullLevel("phone")
                ),
                cll.And(
                    same_postal_code,
                    cll.Or(cll.ExactMatchLevel("address"), cll.ExactMatchLevel("phone")),
                ).configure(label_for_charts="same practice"),
                cll.ExactMatchLevel("phone"),
                cll.And(same_postal_code, cll.JaroWinklerLevel("address", 0.9)),
                same_postal_code,
                # the first two characters: the French departement, a German Leitzone
                cll.CustomLevel(
                    "substr(postal_code_l, 1, 2) = substr(postal_code_r, 1, 2)",
                    label_for_charts="same area",
                ),
                cll.ElseLevel(),
            ],
        ).configure(
            # a moved practice keeps the person: 'else' is common among matches
            m_probabilities=[0.6, 0.05, 0.05, 0.05, 0.01, 0.24],
            u_probabilities=[0.000001, 0.00005, 0.00001, 0.0001, 0.01, 0.989839],
        )

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=(
            min(0.5, 1.0 / max(universe, 2)) if prior is None else prior
        ),
        comparisons=[
            name("first_name", 0.01),
            name("last_name", 0.001),
            cl.ExactMatch("specialty").configure(
                m_probabilities=[0.95, 0.05], u_probabilities=[0.15, 0.85]
            ),
            practice(),
            _email(by_systems=inside is not None and inside[0] >= M_FLOOR),
            *([] if inside is None else [_systems(*inside)]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("last_name", "postal_code"),
            block_on("first_name", "last_name"),
            block_on("phone"),
            block_on("email"),
            block_on("first_name", "postal_code"),
            block_on("postal_code", "address"),
        ],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


#: The e-mail comparison's levels with systems compared: per systems case (a
#: system in common, none), the same address and another one.
EMAIL_BY_SYSTEMS = (
    ("same address, a system in common", "another address, a system in common"),
    ("same address, no system in common", "another address, no system in common"),
)


def _email(*, by_systems: bool) -> Any:
    """The e-mail address, the same or another: exact only.

    A similar address is mostly the same name again (namesakes get
    jean.martin and jean.martin2), which the names already count.

    With systems compared, another address weighs apart for two customers
    with a system in common and for two across systems: one system asks a
    person the same way twice (its duplicates are mostly re-keyed records and
    keep the address), while two systems are often given two mailboxes (a
    personal one and the hospital's, which a move also changes). Trained
    jointly, then conditioned on the systems (:func:`_conditioned`), so the
    systems themselves are counted once, by their own comparison.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    if not by_systems:
        return cl.ExactMatch("email").configure(
            m_probabilities=[0.8, 0.2], u_probabilities=[0.00001, 0.99999]
        )
    same = cll.ExactMatchLevel("email")
    common = cll.CustomLevel("len(list_intersect(systems_l, systems_r)) > 0")
    (same_common, other_common), (same_apart, other_apart) = EMAIL_BY_SYSTEMS
    return cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email"),
            cll.And(same, common).configure(label_for_charts=same_common),
            same.configure(label_for_charts=same_apart),
            common.configure(label_for_charts=other_common),
            cll.ElseLevel().configure(label_for_charts=other_apart),
        ],
    ).configure(
        # declared as conditional already: each systems case's two levels sum to one
        m_probabilities=[0.8, 0.8, 0.2, 0.2],
        u_probabilities=[0.00001, 0.00001, 0.99999, 0.99999],
    )


def _conditioned(model: dict[str, Any]) -> dict[str, Any]:
    """The e-mail levels of a trained model as given the systems (see :func:`_email`).

    Training estimates P(address level and systems case); a Bayes factor of
    P(address level | systems case) leaves the systems case to the systems
    comparison, which counts it once.
    """
    for comparison in model["comparisons"]:
        levels = {level.get("label_for_charts"): level for level in comparison["comparison_levels"]}
        for case in EMAIL_BY_SYSTEMS:
            if not all(label in levels for label in case):
                continue
            for probability in ("m_probability", "u_probability"):
                total = sum(levels[label].get(probability) or 0.0 for label in case)
                if total > 0:
                    for label in case:
                        levels[label][probability] = (levels[label].get(probability) or 0.0) / total
    return model


def _systems(duplicates: float, pairs: float) -> Any:
    """Whether two customers have a system in common, as one comparison.

    A system rarely knows one person twice, while another system's file covers
    many of its people: a pair inside one system is one person less often than
    a pair across two. The m and u probabilities are counted, not trained (EM
    drives an m to zero where a market has no duplicate inside a system).
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    fixed = {"fix_m_probability": True, "fix_u_probability": True}
    return cl.CustomComparison(
        output_column_name="systems",
        comparison_levels=[
            cll.NullLevel("systems"),
            cll.CustomLevel(
                "len(list_intersect(systems_l, systems_r)) > 0",
                label_for_charts="a system in common",
            ).configure(
                m_probability=max(duplicates, M_FLOOR), u_probability=max(pairs, M_FLOOR), **fixed
            ),
            cll.ElseLevel().configure(
                m_probability=max(1 - duplicates, M_FLOOR),
                u_probability=max(1 - pairs, M_FLOOR),
                **fixed,
            ),
        ],
    )


def _inside_one_system(duck: Any, universe: int) -> tuple[float, float] | None:
    """(Share of one person's pairs of records inside one system, share of all pairs), or None.

    Counted on ``all_records`` (``universe`` of them), each known to its own systems.

    One person's pairs are those sharing a ``mailboxes`` address (the prior's
    rule); a pair of customers is inside one system when they have a system in
    common, counted once however many they share. None with one system, or
    with fewer than :data:`PRIOR_FROM_PAIRS` customers sharing an address.
    """
    ((systems, inside, sharing),) = duck.sql(
        """
        WITH mine AS (SELECT unique_id, email, systems FROM all_records
                      WHERE email IN (SELECT email FROM mailboxes))
        SELECT (SELECT COUNT(DISTINCT system) FROM systems),
            COUNT(*) FILTER (len(list_intersect(l.systems, r.systems)) > 0), COUNT(*)
        FROM mine l JOIN mine r ON r.email = l.email AND r.unique_id > l.unique_id
        """
    ).fetchall()
    if systems < 2 or sharing < PRIOR_FROM_PAIRS:
        return None
    # Pairs with a system in common, over the few distinct sets of systems: a
    # survivor both systems know is counted once, not once per system.
    ((same,),) = duck.sql(
        """
        WITH sets AS (SELECT systems, COUNT(*) AS n FROM all_records
                      WHERE systems IS NOT NULL GROUP BY systems)
        SELECT COALESCE(SUM(CASE WHEN a.systems = b.systems THEN a.n * (a.n - 1) / 2
                                 ELSE a.n * b.n END), 0)
        FROM sets a JOIN sets b
          ON a.systems <= b.systems AND len(list_intersect(a.systems, b.systems)) > 0
        """
    ).fetchall()
    return inside / sharing, min(1.0, float(same) / (universe * (universe - 1) / 2))


def score_pairs(
    duck: Any,
    country: str,
    on_stage: Callable[[str], None] = lambda _: None,
    *,
    population: str = "customers",
    record_systems: str = "systems",
    rejected: str | None = None,
) -> tuple[int, int, float, str]:
    """Score the candidate pairs of ``customers`` into ``scored`` (DuckDB tables).

    ``systems`` (``customer_id, system``) says which systems know each customer.
    The prior is estimated, and the model trained, on ``population``, every
    customer record of the country (merged ones too: ``customers`` are those
    not merged yet), each known to its own systems (``record_systems``), so a
    re-run after merges scores by the model the first run had; the prior leaves
    out the pairs in ``rejected`` (``left_id, right_id``: two people, a steward said).

    ``scored`` has ``left_id, right_id, probability`` and each field's
    match weight as ``evidence`` (JSON). Returns (customers, pairs compared,
    the prior, how it was found).
    """
    from splink import DuckDBAPI, Linker, block_on

    on_stage("normalising records")
    duck.execute(f"CREATE OR REPLACE TABLE records AS {normalised_records(country)}")
    universe = duck.sql("SELECT COUNT(*) FROM records").fetchall()[0][0]
    if universe < 2:
        duck.execute(
            "CREATE OR REPLACE TABLE scored (left_id BIGINT, right_id BIGINT, "
            "probability DOUBLE, evidence VARCHAR)"
        )
        return universe, 0, 0.0, "fewer than two customers"
    duck.execute(
        "CREATE OR REPLACE TABLE all_records AS "
        + (
            "SELECT * FROM records"
            if population == "customers"
            else normalised_records(country, population, record_systems)
        )
    )
    records = duck.sql("SELECT COUNT(*) FROM all_records").fetchall()[0][0]
    duck.execute(
        "CREATE OR REPLACE TABLE mailboxes AS SELECT email, COUNT(*) AS holders FROM all_records "
        f"WHERE email IS NOT NULL GROUP BY email HAVING COUNT(*) <= {MAILBOX_HOLDERS}"
    )
    on_stage("estimating the prior")
    prior, prior_from = _estimate_prior(duck, universe, rejected)
    db_api = DuckDBAPI(connection=duck)
    inside = _inside_one_system(duck, records)
    model = settings(universe, inside, prior)
    if records >= TRAIN_FROM:
        linker = Linker(db_api.register("all_records"), model, log_level="ERROR")
        on_stage("estimating u from random pairs")
        linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=42)
        on_stage("estimating m by expectation maximisation")
        training = linker.training
        # Pairs sharing a full name train every other field; pairs sharing a postal
        # code train the names.
        training.estimate_parameters_using_expectation_maximisation(
            block_on("first_name", "last_name"),
            max_pairs=EM_PAIRS,
            estimate_without_term_frequencies=True,
        )
        training.estimate_parameters_using_expectation_maximisation(
            block_on("postal_code"),
            max_pairs=EM_PAIRS,
            estimate_without_term_frequencies=True,
        )
        model = _floored(_conditioned(linker.misc.save_model_to_json()))
        model["probability_two_random_records_match"] = prior
    linker = Linker(db_api.register("records"), model, log_level="ERROR")
    on_stage("scoring candidate pairs")
    predictions = linker.inference.predict()
    names = {c.unquote().name for c in predictions.columns}
    # Per field, the match weight it added (log2 of its Bayes factor, term
    # frequencies included): what a steward reads to see why a pair matched.
    weights = sorted(n for n in names if n.startswith("mw_") and not n.startswith("mw_tf_adj_"))
    evidence = ", ".join(
        f"{literal(w.removeprefix('mw_'))}: round({w} + COALESCE("
        f"{'mw_tf_adj_' + w.removeprefix('mw_') if 'mw_tf_adj_' + w.removeprefix('mw_') in names else '0'}"
        ", 0), 2)"
        for w in weights
    )
    duck.execute(
        f"""
        CREATE OR REPLACE TABLE scored AS
        SELECT LEAST(unique_id_l, unique_id_r) AS left_id,
            GREATEST(unique_id_l, unique_id_r) AS right_id,
            match_probability AS probability,
            CAST(to_json({{{evidence}}}) AS VARCHAR) AS evidence
        FROM {predictions.physical_name}
        """
    )
    compared = duck.sql("SELECT COUNT(*) FROM scored").fetchall()[0][0]
    return universe, compared, prior, prior_from


def _estimate_prior(duck: Any, universe: int, rejected: str | None) -> tuple[float, str]:
    """The probability that two random customers are one person, and how it was found.

    Estimated from a deterministic rule, the same e-mail address held by few
    customers (``mailboxes``: a mailbox is one person's; national identifiers
    would be the other, but two customers sharing one were made one at load),
    scaled up by the rule's recall: the share of sure pairs (the same full name
    at the same practice, not rejected) that share such an address. Counted
    on ``all_records`` (merged records too), so merges do not take away what it is estimated from;
    at most 1/N, an upper bound. Without sure pairs, or without an address
    shared, there is nothing to estimate from: the prior stays 1/N (as if every
    other customer had a duplicate), and the note says why.
    """
    fallback = f"1/N: {{}}; set from {universe:,} customers"
    not_rejected = (
        ""
        if rejected is None
        else f"""AND NOT EXISTS (SELECT 1 FROM {rejected} d
                WHERE d.left_id = LEAST(l.unique_id, r.unique_id)
                  AND d.right_id = GREATEST(l.unique_id, r.unique_id))"""
    )
    ((records, rule, sure, sharing),) = duck.sql(
        f"""
        SELECT (SELECT COUNT(*) FROM all_records),
            (SELECT COALESCE(SUM(holders * (holders - 1) / 2), 0) FROM mailboxes),
            COUNT(*),
            COUNT(*) FILTER (l.email = r.email AND l.email IN (SELECT email FROM mailboxes))
        FROM all_records l JOIN all_records r
          ON r.first_name = l.first_name AND r.last_name = l.last_name
         AND r.postal_code = l.postal_code AND r.address = l.address
         AND r.unique_id > l.unique_id
        WHERE true {not_rejected}
        """
    ).fetchall()
    if sure < PRIOR_FROM_PAIRS:
        return 1.0 / universe, fallback.format(
            f"{sure} pairs with the same name and practice, {PRIOR_FROM_PAIRS} needed to "
            "estimate how often one person's records share an e-mail address"
        )
    if not sharing:
        return 1.0 / universe, fallback.format(
            f"none of {sure:,} pairs with the same name and practice shares an e-mail address"
        )
    recall = sharing / sure
    prior = float(rule) / recall / (records * (records - 1) / 2)
    found = (
        f"estimated: customers sharing an e-mail address (held by at most "
        f"{MAILBOX_HOLDERS}), found by that rule in {recall:.0%} of {sure:,} pairs with "
        f"the same name and practice, on {records:,} customer records"
    )
    if prior > 1.0 / universe:
        return 1.0 / universe, f"{found}; capped at 1/N"
    return prior, found


def _floored(model: dict[str, Any]) -> dict[str, Any]:
    """The trained model with every m probability at least :data:`M_FLOOR`.

    EM learns from the data at hand that, say, one person's two records never
    differ in specialty; taken literally, one such difference would then veto
    a match whatever else agrees. A floor keeps every disagreement evidence,
    never proof (only two national identifiers are proof).
    """
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if "m_probability" in level:
                level["m_probability"] = max(level["m_probability"], M_FLOOR)
    return model


def match(
    database: Database,
    country: str,
    *,
    review_threshold: float,
    merge_threshold: float,
    apply: bool,
    actor: str,
    on_stage: Callable[[str], None] = lambda _: None,
) -> MatchResult:
    """Find a country's duplicate customers; queue the grey zone; merge the sure ones."""
    from harmonia.master.merging import merge_pairs

    if not 0 < review_threshold <= merge_threshold < 1:
        raise ConfigError(
            f"thresholds must satisfy 0 < review ({review_threshold}) <= merge "
            f"({merge_threshold}) < 1",
            fix="set parameters.match_review_threshold and match_merge_threshold in the "
            "country profile within the option catalogue",
        )
    started = time.perf_counter()
    timed = _Stages(on_stage)
    on_stage = timed.start
    duck = duckdb_connection()
    on_stage("reading customers")
    with BulkConnection(database, write=False) as bulk:
        # Every record of the country, merged ones too: the prior describes them all.
        _copy(
            duck,
            "population",
            bulk.read(
                "SELECT id, country, first_name, last_name, specialty, postal_code, address, "
                "phone, email, id IN (SELECT merged_id FROM customer_redirect) AS merged "
                f"FROM customer WHERE country = {literal(country)}"
            ),
        )
        duck.execute(
            "CREATE OR REPLACE TABLE customers AS "
            "SELECT * EXCLUDE (merged) FROM population WHERE NOT merged"
        )
        # A merged customer's identifiers and systems are its survivor's.
        survivor = "COALESCE(r.survivor_id, c.id)"
        of_country = (
            f"JOIN customer c ON c.id = {{0}}.customer_id "
            "LEFT JOIN customer_redirect r ON r.merged_id = c.id "
            f"WHERE c.country = {literal(country)}"
        )
        _copy(
            duck,
            "identifiers",
            bulk.read(
                f"SELECT {survivor} AS customer_id, i.scheme, i.value FROM identifier i "
                + of_country.format("i")
            ),
        )
        _copy(
            duck,
            "systems",
            bulk.read(
                f"SELECT DISTINCT {survivor} AS customer_id, x.system FROM crosswalk x "
                + of_country.format("x")
            ),
        )
        # Each record's own systems, a merged one's too: what the model is trained on.
        _copy(
            duck,
            "record_systems",
            bulk.read(
                "SELECT DISTINCT x.customer_id, x.system FROM crosswalk x "
                f"JOIN customer c ON c.id = x.customer_id WHERE c.country = {literal(country)}"
            ),
        )
        _copy(
            duck,
            "decided",
            bulk.read(
                "SELECT left_id, right_id, status FROM match_pair "
                "WHERE status IN ('rejected', 'merged', 'accepted', 'review')"
            ),
        )
    duck.execute(
        "CREATE OR REPLACE TABLE rejected AS "
        "SELECT left_id, right_id FROM decided WHERE status = 'rejected'"
    )
    universe, compared, prior, prior_from = score_pairs(
        duck,
        country,
        on_stage,
        population="population",
        record_systems="record_systems",
        rejected="rejected",
    )
    merge_from = merge_threshold
    if not prior_from.startswith("estimated") and merge_threshold < UNCALIBRATED_MERGE:
        # 1/N overstates the prior several times: a country's calibrated threshold
        # would merge pairs the estimated prior puts far lower.
        merge_from = UNCALIBRATED_MERGE
        prior_from += (
            f"; not calibrated: pairs under {UNCALIBRATED_MERGE} reviewed, not merged "
            f"(merge threshold {merge_threshold})"
        )
    on_stage("applying thresholds")
    duck.execute(
        f"""
        CREATE OR REPLACE TABLE conflicting AS
        SELECT DISTINCT s.left_id, s.right_id FROM scored s
        JOIN identifiers l ON l.customer_id = s.left_id
        JOIN identifiers r ON r.customer_id = s.right_id
            AND r.scheme = l.scheme AND r.value <> l.value
        WHERE s.probability >= {review_threshold}
        """
    )
    duck.execute(
        f"""
        CREATE OR REPLACE TABLE open_pairs AS
        SELECT s.* FROM scored s
        WHERE s.probability >= {review_threshold}
          AND NOT EXISTS (SELECT 1 FROM conflicting c
                          WHERE c.left_id = s.left_id AND c.right_id = s.right_id)
          AND NOT EXISTS (SELECT 1 FROM decided d
                          WHERE d.left_id = s.left_id AND d.right_id = s.right_id
                            AND d.status <> 'review');
        -- One to one between sources: a system knows a person once, so a customer is
        -- one person with at most one customer of each other system (its own system's
        -- duplicates are what dedupe is for). A pair is reviewed, not merged, when a
        -- customer of the same other system is as likely or likelier, unless the two
        -- rivals are themselves a pair (a duplicate in that system, not a namesake).
        CREATE OR REPLACE TABLE sides AS
        SELECT s.customer_id, s.other_id, s.probability, y.system
        FROM (SELECT left_id AS customer_id, right_id AS other_id, probability
              FROM open_pairs
              UNION ALL
              SELECT right_id, left_id, probability FROM open_pairs) s
        JOIN systems y ON y.customer_id = s.other_id
        WHERE NOT EXISTS (SELECT 1 FROM systems own
                          WHERE own.customer_id = s.customer_id AND own.system = y.system);
        CREATE OR REPLACE TABLE outranked AS
        SELECT DISTINCT LEAST(a.customer_id, a.other_id) AS left_id,
            GREATEST(a.customer_id, a.other_id) AS right_id
        FROM sides a JOIN sides b
          ON b.customer_id = a.customer_id AND b.system = a.system
         AND b.other_id <> a.other_id AND b.probability >= a.probability
        WHERE NOT EXISTS (
            SELECT 1 FROM open_pairs p
            WHERE p.left_id = LEAST(a.other_id, b.other_id)
              AND p.right_id = GREATEST(a.other_id, b.other_id));
        CREATE OR REPLACE TABLE candidates AS
        -- A pair queued for review stays there: a steward is to decide it.
        SELECT p.*, CASE WHEN p.probability >= {merge_from} AND NOT EXISTS (
                SELECT 1 FROM outranked o WHERE o.left_id = p.left_id AND o.right_id = p.right_id
            ) AND NOT EXISTS (
                SELECT 1 FROM decided q WHERE q.status = 'review'
                  AND q.left_id = p.left_id AND q.right_id = p.right_id
            ) THEN 'accepted' ELSE 'review' END AS status
        FROM open_pairs p;
        """
    )
    counts = duck.sql(
        "SELECT COUNT(*), COUNT(*) FILTER (status = 'accepted'), "
        "COUNT(*) FILTER (status = 'review'), "
        "COUNT(*) FILTER (status = 'review' AND EXISTS (SELECT 1 FROM outranked o "
        "WHERE o.left_id = c.left_id AND o.right_id = c.right_id) "
        f"AND probability >= {merge_threshold}) FROM candidates c"
    ).fetchall()[0]
    conflicting = duck.sql("SELECT COUNT(*) FROM conflicting").fetchall()[0][0]
    on_stage("writing the review queue")
    _queue(database, duck, country)
    _audit(database, country, actor, prior, prior_from, review_threshold, merge_from, counts)
    merged = 0
    if apply:
        on_stage("merging")
        merged = merge_pairs(database, country=country, actor=actor)
    return MatchResult(
        country,
        universe,
        compared,
        counts[0],
        counts[1],
        counts[2],
        conflicting,
        counts[3],
        merged,
        round(time.perf_counter() - started, 2),
        timed.finish(),
        prior,
        prior_from,
    )


class _Stages:
    """Passes each stage on, and remembers how long each took."""

    def __init__(self, on_stage: Callable[[str], None]) -> None:
        self.on_stage = on_stage
        self.seconds: dict[str, float] = {}
        self.current: tuple[str, float] | None = None

    def start(self, stage: str) -> None:
        self._close()
        self.current = (stage, time.perf_counter())
        self.on_stage(stage)

    def finish(self) -> dict[str, float]:
        self._close()
        return self.seconds

    def _close(self) -> None:
        if self.current is not None:
            stage, began = self.current
            self.seconds[stage] = round(time.perf_counter() - began, 2)
            self.current = None


def _copy(duck: Any, name: str, table: pa.Table) -> None:
    duck.register("incoming", table)
    duck.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM incoming")
    duck.unregister("incoming")


def _audit(
    database: Database,
    country: str,
    actor: str,
    prior: float,
    prior_from: str,
    review_threshold: float,
    merge_from: float,
    counts: tuple[int, ...],
) -> None:
    """The run's prior and thresholds in the audit trail: why its pairs merged."""
    details = {
        "prior": prior,
        "prior_from": prior_from,
        "review_threshold": review_threshold,
        "merge_threshold": merge_from,
        "to_merge": counts[1],
        "to_review": counts[2],
    }
    with BulkConnection(database) as bulk:
        bulk.execute(
            "INSERT INTO audit_event (at, actor, action, subject, details) VALUES "
            f"(CURRENT_TIMESTAMP, {literal(actor)}, 'master.match', "
            f"{literal(f'match of {country}')}, {literal(json.dumps(details))})"
        )


def _queue(database: Database, duck: Any, country: str) -> None:
    """Candidates into ``match_pair``: new ones added, pending ones re-scored."""
    rows = duck.sql(
        f"SELECT left_id, right_id, {literal(country)} AS country, 'probabilistic' AS method, "
        "probability, evidence, status FROM candidates ORDER BY left_id, right_id"
    ).to_arrow_table()
    if not rows.num_rows:
        return
    with BulkConnection(database) as bulk:
        stage = bulk.stage(rows, "pairs")
        bulk.execute(
            f"""
            INSERT INTO match_pair (left_id, right_id, country, method, probability, evidence,
                                    status, found_at)
            SELECT left_id, right_id, country, method, probability, evidence, status,
                   CURRENT_TIMESTAMP FROM {stage} WHERE true
            ON CONFLICT (left_id, right_id) DO UPDATE SET
                probability = excluded.probability, evidence = excluded.evidence,
                status = excluded.status, found_at = excluded.found_at
            WHERE match_pair.status = 'review'
            """
        )
