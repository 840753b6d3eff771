"""The ``customers`` kind: healthcare professionals and organisations with their identifiers.

Checks each row (country, type, the national identifier by its installed
scheme, with its check digit, its country and the specialty it encodes),
keys a repeat by ``customer_id`` and by identifier, and merges a row into
the customer this system already knows by its id, else the customer another
system knows by the same national identifier, else a new customer.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from harmonia.definitions.country import GOLDEN_ATTRIBUTES
from harmonia.errors import ConfigError
from harmonia.ingest.checks import MACROS, CheckContext
from harmonia.ingest.kind import DuplicateKey, Kind
from harmonia.ingest.merge import Merger, Rejections
from harmonia.plugin.types import RECORD_KINDS, IdentifierScheme, InvalidIdentifier
from harmonia.sql import literal, quote, quoted_in_message, reasons, text_list
from harmonia.store import history, suppression
from harmonia.store.identity import record_objections

if TYPE_CHECKING:
    import duckdb

#: How a customers file says a customer objects to profiling, or does not.
OBJECTION_YES = ("yes", "y", "true", "1", "x", "oui", "ja", "si", "はい")
OBJECTION_NO = ("no", "n", "false", "0", "non", "nein", "いいえ")


#: How the check reads each column of a raw row: trimmed, NULL when empty, case folded.
CLEAN = {
    "customer_id": "harmonia_text(customer_id)",
    "country": "upper(harmonia_text(country))",
    "type": "upper(harmonia_text(type))",
    "first_name": "harmonia_text(first_name)",
    "last_name": "harmonia_text(last_name)",
    "specialty": "harmonia_text(specialty)",
    "postal_code": "harmonia_text(postal_code)",
    "city": "harmonia_text(city)",
    "territory": "harmonia_text(territory)",
    "address": "harmonia_text(address)",
    # a cell of junk only ('-', 'n/a') gives no phone: NULL, never ''
    "phone": "NULLIF(regexp_replace(harmonia_text(phone), '[^0-9+]', '', 'g'), '')",
    "email": "lower(harmonia_text(email))",
    "objection": "lower(harmonia_text(objection))",
    "id_scheme": "upper(harmonia_text(id_scheme))",
    "id_value": "regexp_replace(harmonia_text(id_value), '[\\s.\\-]', '', 'g')",
}


def _cleaned(columns: dict[str, str]) -> str:
    return ", ".join(f"{sql} AS {name}" for name, sql in columns.items())


def customers_sql(context: CheckContext) -> str:
    """The check, with ``_row_hash``: each row's hash as stored in the crosswalk."""
    return _check_sql(context, row_hash_sql(context))


def _check_sql(context: CheckContext, row_hash: str) -> str:
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
        SELECT _row, {_cleaned(CLEAN)}, {row_hash} AS _row_hash FROM raw
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
            f"WHEN NOT _known_country THEN 'country ' || {quoted_in_message('country')} || "
            "' is not an ISO 3166 alpha-2 code such as FR or US' END",
            country_check,
            "CASE WHEN type IS NULL THEN 'type is empty: write HCP or HCO' "
            f"WHEN type NOT IN ('HCP', 'HCO') THEN 'type ' || {quoted_in_message('type')} "
            "|| ' is not HCP or HCO' END",
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


def row_hash_sql(context: CheckContext) -> str:
    """SQL over a raw row (its columns as text): a 64-bit hash of the row, as stored in
    ``crosswalk.row_hash``.

    Salted with everything that decides what checking and merging the row gives
    (the check's SQL, the macros, the versions of harmonia and DuckDB, the packs
    of Python validators, the merge rules' source: :func:`_merge_rules_digest`),
    so that a row checked or merged otherwise now never passes for unchanged.
    DuckDB's hash combines the columns in order, NULL included: no two rows
    share a text for it, as a joined string could. A changed row is
    taken for unchanged only if its hash equals the one of its record's last
    row: one chance in 2**64.
    """
    from importlib.metadata import version

    import duckdb

    validators = sorted(
        (scheme.name, repr(scheme.provenance))
        for scheme in context.identifier_schemes.values()
        if scheme.validate is not None
    )
    salt = hashlib.sha256(
        repr(
            (
                _check_sql(context, "NULL"),
                MACROS,
                version("harmonia"),
                duckdb.__version__,
                validators,
                _merge_rules_digest(),
            )
        ).encode()
    ).hexdigest()
    columns = ", ".join(RECORD_KINDS["customers"].column_names)
    # UBIGINT to BIGINT, all 64 bits kept: SQLite and PostgreSQL store signed integers.
    return f"CAST(CAST(hash({quote(salt)}, {columns}) AS HUGEINT) - 9223372036854775808 AS BIGINT)"


@functools.cache
def _merge_rules_digest() -> str:
    """A digest of the source of the modules deciding how a customers row merges:
    this one (CustomerMerger), the merger's base, and the history, suppression and
    objection code it calls. A dev or editable install keeps version("harmonia")
    across commits: a change to the merge rules alone must still change the salt.
    The files' bytes, not inspect.getsource: an install shipped as bytecode only
    has no source, and its .pyc files change with the rules just as well."""
    from harmonia.ingest import merge
    from harmonia.store import identity

    modules = (sys.modules[__name__], merge, history, identity, suppression)
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def python_check_name(scheme: IdentifierScheme) -> str:
    return "harmonia_check_" + "".join(ch if ch.isalnum() else "_" for ch in scheme.name.lower())


def register_python_checks(duck: duckdb.DuckDBPyConnection, context: CheckContext) -> None:
    """The installed schemes' Python validators as DuckDB functions, for their checks."""
    for scheme in context.identifier_schemes.values():
        if scheme.validate is not None:
            duck.create_function(
                python_check_name(scheme),
                python_check(scheme),
                ["VARCHAR"],
                "VARCHAR",
                null_handling="special",  # the check returns NULL for a valid value
            )


def python_check(scheme: IdentifierScheme) -> Callable[[str], str | None]:
    """A scheme's Python validator as a function returning the problem, or None."""

    def check(value: str) -> str | None:
        try:
            scheme.check(value)
        except InvalidIdentifier as error:
            return str(error)
        return None

    return check


# --- merging --------------------------------------------------------------------

_NO_IDS = pa.array([], pa.int64())


def _ids(column: pa.ChunkedArray) -> pa.Array:
    """Customer or response ids, from whichever engine, as one int64 array."""
    return column.combine_chunks().cast(pa.int64())


class CustomerMerger(Merger):
    """Customers, their crosswalk entries and national identifiers.

    A row is the customer this system already knows by its id, else the
    customer another system knows by the same national identifier, else a
    new customer with the next harmonia id.
    """

    def __init__(self, *args: object, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._row_hash: str | None = None  # the SQL of a row's hash, made on first use
        self.chunks_merged = 0
        self.bulk.lock("customer", "identifier", "crosswalk")
        self.next_id = self.bulk.next_id("customer")
        if self.next_id == 1:  # a first load fills the tables: their indexes come after
            # Until the commit, a read of customer by country or of identifier or
            # crosswalk by customer_id scans: this load reads them whole (here)
            # and writes them by primary key only. The crosswalk's customer_id
            # index, 1M rows appended and committed (CPU, load 15): 5.5-6.0 s
            # kept -> 3.7-3.9 s deferred (ids not in source id order), 2.4 ->
            # 1.9 s in order (the bench file).
            self.bulk.defer_indexes("customer", "identifier", "crosswalk")
        identifiers = self.bulk.read("SELECT scheme, value, customer_id FROM identifier")
        self._into_duck("ids", identifiers, "scheme VARCHAR, value VARCHAR, customer_id BIGINT")
        # Merged ids are one person with their survivor: identifiers are checked per person.
        redirects = self.bulk.read("SELECT merged_id, survivor_id FROM customer_redirect")
        self._into_duck("redirects", redirects, "merged_id BIGINT, survivor_id BIGINT")
        self.erased = self._suppressed()

    def _load_crosswalk(self) -> None:
        """This system's crosswalk (``xwalk``, kept current across chunks) and, in the
        same read, ``stored_hashes``: its records with the hash of their row as last
        loaded, and whether a row hashing the same may be passed over (see
        :meth:`unchanged_sql`): not when the customer was ever merged or unmerged,
        which may make the same row a conflict now."""
        table = self.bulk.read(
            "SELECT source_id, customer_id, row_hash, customer_id NOT IN ("
            "SELECT survivor_id FROM customer_merge UNION SELECT merged_id FROM customer_merge"
            f") AS passable FROM crosswalk WHERE system = {literal(self.system)}"
        )
        self._into_duck(
            "xwalk",
            table.select(["source_id", "customer_id"]),
            "source_id VARCHAR, customer_id BIGINT",
        )
        hashed = table.filter(pc.is_valid(table.column("row_hash")))
        self._into_duck(
            "stored_hashes",
            hashed.select(["source_id", "row_hash", "passable"]),
            "source_id VARCHAR, row_hash BIGINT, passable BOOLEAN",
        )
        self.hashes_stored = hashed.num_rows > 0

    def unchanged_sql(self, raw: str, context: CheckContext) -> str | None:
        """SQL: the rows of ``raw`` that this system gave last exactly as they are, as
        the check would read their keys (for the load's repeats); the loader counts
        them unchanged without checking or merging them.

        A row is its record's when its hash (:func:`row_hash_sql`) is the one the
        crosswalk keeps. Nothing else of the store can have changed what merging
        it would do: another system's row changing its customer forgets the hash
        (:meth:`_forget_hashes`), an erasure deletes the record, a merge makes it
        unpassable (:meth:`_load_crosswalk`). Rows saying the customer objects
        are merged in full: an objection withdrawn since is recorded again.
        """
        if not self.hashes_stored:
            return None
        if self._row_hash is None:
            self._row_hash = row_hash_sql(context)
        self.duck.execute(
            "CREATE OR REPLACE TEMP TABLE chunk_hashes AS SELECT _row, "
            f"{CLEAN['customer_id']} AS source_id, {self._row_hash} AS row_hash FROM {raw}"
        )
        yes = ", ".join(literal(word) for word in OBJECTION_YES)
        columns = self.duck.sql(f"SELECT * FROM {raw} LIMIT 0").columns
        read = "AND _original_line IS NULL" if "_original_line" in columns else ""
        keys = {name: CLEAN[name] for name in ("customer_id", "id_scheme", "id_value")}
        return f"""
            SELECT _row, {_cleaned(keys)} FROM {raw}
            WHERE _row IN (
                SELECT h._row FROM chunk_hashes h
                JOIN stored_hashes s ON s.source_id = h.source_id AND s.row_hash = h.row_hash
                WHERE s.passable
            ) AND COALESCE({CLEAN["objection"]} NOT IN ({yes}), true) {read}
        """

    def _suppressed(self) -> str:
        """SQL over a row: whether it names an erased person (see :mod:`harmonia.store.suppression`)."""
        hashes = self.bulk.read("SELECT hash FROM suppression")
        if not hashes.num_rows:
            return "false"
        keys = suppression.workspace_keys(
            self.bulk.database,
            lambda sql: [tuple(row.values()) for row in self.bulk.read(sql).to_pylist()],
            self.bulk.execute,
        )
        if not keys:
            raise ConfigError(
                "the suppression list holds erased people but this store has no key for it",
                where=self.bulk.database.display_url,
                fix="restore the store's key file (docs/master.md, The suppression key)",
            )
        self._into_duck("suppressed", hashes, "hash VARCHAR")
        source = suppression.source_sql(literal(self.system), "v.customer_id")
        identifier = suppression.identifier_sql("v.id_scheme", "v.id_value")
        return (
            f"({suppression.suppressed_sql(keys, source)} OR (v.id_value IS NOT NULL "
            f"AND {suppression.suppressed_sql(keys, identifier)}))"
        )

    def merge(self, valid: str) -> Rejections:
        if self.chunks_merged:
            self._remember_previous_chunk()
        # Every checked row, invalid ones too: an erased person's row is refused as
        # such, so that the quarantine keeps nothing of it (see the loader). Their
        # source ids left the crosswalk: only the rows new to it are hashed (a
        # filter, so DuckDB hashes no other row).
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE erased_rows AS
            SELECT v._row FROM checked v LEFT JOIN xwalk x ON x.source_id = v.customer_id
            WHERE x.customer_id IS NULL AND {self.erased}
            """
        )
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE resolved AS
            WITH matched AS (
                SELECT v.*, x.customer_id AS by_source, i.customer_id AS by_identifier,
                    i.customer_id IN (SELECT customer_id FROM xwalk) AS identifier_taken,
                    v._row IN (SELECT _row FROM erased_rows) AS erased,
                    COALESCE(rs.survivor_id, x.customer_id) AS source_person,
                    COALESCE(ri.survivor_id, i.customer_id) AS identifier_person
                FROM {valid} v
                LEFT JOIN xwalk x ON x.source_id = v.customer_id
                LEFT JOIN ids i ON i.scheme = v.id_scheme AND i.value = v.id_value
                LEFT JOIN redirects rs ON rs.merged_id = x.customer_id
                LEFT JOIN redirects ri ON ri.merged_id = i.customer_id
            ), checked AS (
                -- another id of the same person (merged) holds another value of the scheme
                SELECT m.*, (
                    SELECT min(o.value || ''' of customer ' || o.customer_id)
                    FROM ids o LEFT JOIN redirects ro ON ro.merged_id = o.customer_id
                    WHERE m.by_source IS NOT NULL AND m.by_identifier IS NULL
                      AND o.scheme = m.id_scheme AND o.value <> m.id_value
                      AND o.customer_id <> m.by_source
                      AND COALESCE(ro.survivor_id, o.customer_id) = m.source_person
                ) AS person_clash
                FROM matched m
            )
            SELECT * EXCLUDE (erased, source_person, identifier_person, person_clash),
                CASE
                    WHEN erased THEN {quote(suppression.REASON)}
                    WHEN by_source IS NOT NULL AND by_identifier IS NOT NULL
                         AND source_person <> identifier_person
                    THEN 'identifier ''' || id_scheme || ' ' || id_value
                         || ''' belongs to another customer (harmonia id ' || by_identifier || ')'
                    WHEN person_clash IS NOT NULL
                    THEN 'identifier ''' || id_scheme || ' ' || id_value || ''' conflicts with '''
                         || id_scheme || ' ' || person_clash || ', merged with customer '
                         || by_source || ': one person has one ' || id_scheme || ' identifier; '
                         || 'correct the source, or unmerge them if they are two people'
                    WHEN by_source IS NULL AND identifier_taken
                    THEN 'identifier ''' || id_scheme || ' ' || id_value
                         || ''' already belongs to another customer_id of this system'
                END AS conflict,
                by_source IS NULL AND by_identifier IS NULL AS is_new
            FROM checked
            """
        )
        rejected = self.duck.sql(
            f"""
            SELECT _row, conflict FROM resolved WHERE conflict IS NOT NULL
            UNION ALL
            SELECT _row, {quote(suppression.REASON)} FROM erased_rows
            WHERE _row NOT IN (SELECT _row FROM resolved)
            ORDER BY _row
            """
        ).fetchall()
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE accepted AS
            WITH numbered AS (
                SELECT _row, row_number() OVER (ORDER BY _row) AS n
                FROM resolved WHERE conflict IS NULL AND is_new
            )
            SELECT r.*, COALESCE(r.by_source, r.by_identifier, {self.next_id - 1} + n.n)
                AS harmonia_id
            FROM resolved r LEFT JOIN numbered n ON n._row = r._row
            WHERE r.conflict IS NULL
            """
        )
        self._append_new()
        # A known customer is updated by a change of record or identifier, or
        # by being linked to this system (matched by its national identifier).
        linked = self._arrow(
            "SELECT harmonia_id FROM accepted WHERE by_source IS NULL AND NOT is_new"
        ).column(0)
        changed = pa.concat_arrays([self._update_known(), self._identifiers(), _ids(linked)])
        self._attribute_history()
        self._objections()
        self._record_hashes()
        self._forget_hashes(changed)
        self.chunks_merged += 1
        added, known = self.duck.sql(
            "SELECT COUNT(*) FILTER (is_new), COUNT(*) FILTER (NOT is_new) FROM accepted"
        ).fetchall()[0]
        self.next_id += added
        updated = len(pc.unique(changed))  # one row per customer: duplicates are refused
        self.new += added
        self.updated += updated
        self.unchanged += known - updated
        return [(row, reason) for row, reason in rejected]

    def _remember_previous_chunk(self) -> None:
        """The crosswalk entries and identifiers the previous chunk (``accepted``) added,
        for this chunk's matching. Only when a chunk follows: a load of one chunk
        (up to 1M rows) would copy 2M rows that nothing reads."""
        self.duck.execute(
            "INSERT INTO xwalk SELECT customer_id, harmonia_id FROM accepted WHERE by_source IS NULL"
        )
        self.duck.execute(
            "INSERT INTO ids SELECT id_scheme, id_value, harmonia_id FROM accepted a "
            "WHERE id_value IS NOT NULL AND NOT EXISTS ("
            "SELECT 1 FROM ids i WHERE i.scheme = a.id_scheme AND i.value = a.id_value)"
        )

    def _append_new(self) -> None:
        batch = self.batch_id
        self.bulk.append(
            "customer",
            self._arrow(
                "SELECT harmonia_id AS id, country, type, first_name, last_name, specialty, "
                "postal_code, city, territory, address, phone, email, "
                f"{batch} AS first_batch_id, {batch} AS batch_id "
                "FROM accepted WHERE is_new ORDER BY harmonia_id"
            ),
        )
        self.bulk.append(
            "crosswalk",
            self._arrow(
                f"SELECT {literal(self.system)} AS system, a.customer_id AS source_id, "
                f"a.harmonia_id AS customer_id, {batch} AS batch_id, a._row_hash AS row_hash "
                "FROM accepted a WHERE a.by_source IS NULL ORDER BY a.customer_id"
            ),
        )

    def _record_hashes(self) -> None:
        """The hash of each known record's row, where it is not the one stored (the row
        changed, or the record had none)."""
        rows = self._arrow(
            "SELECT a.customer_id AS source_id, a._row_hash AS row_hash FROM accepted a "
            "LEFT JOIN stored_hashes s ON s.source_id = a.customer_id "
            "WHERE a.by_source IS NOT NULL AND s.row_hash IS DISTINCT FROM a._row_hash"
        )
        if not rows.num_rows:
            return
        stage = self.bulk.stage(rows, "row_hashes", key="source_id")
        self.bulk.execute(
            f"UPDATE crosswalk SET row_hash = (SELECT s.row_hash FROM {stage} s "
            "WHERE s.source_id = crosswalk.source_id) "
            f"WHERE system = {literal(self.system)} AND source_id IN (SELECT source_id FROM {stage})"
        )

    def _forget_hashes(self, changed: pa.Array) -> None:
        """Other systems' records of the customers this batch changed are compared in
        full next time: a row of theirs, the same as before, now changes the customer
        back (the last row loaded gives its values)."""
        if not len(changed):
            return
        stage = self.bulk.stage(pa.table({"id": pc.unique(changed)}), "changed")
        self.bulk.execute(
            f"UPDATE crosswalk SET row_hash = NULL WHERE customer_id IN (SELECT id FROM {stage}) "
            f"AND system <> {literal(self.system)} AND row_hash IS NOT NULL"
        )

    def _update_known(self) -> pa.Array:
        """Customers the store already has: update what changed, keep what a row leaves empty.

        The state a change replaces goes to ``customer_version`` first, under
        the batch that gave it (what ``--as-of`` reads it back from); the
        current state is the row itself, so a new customer has no version.
        Returns the ids of the customers that changed.
        """
        known = self._arrow(
            "SELECT harmonia_id AS id, country, type, first_name, last_name, specialty, postal_code, "
            "city, territory, address, phone, email FROM accepted WHERE NOT is_new "
            "ORDER BY harmonia_id"
        )
        if not known.num_rows:
            return _NO_IDS
        stage = self.bulk.stage(known, "customers")
        replaced = f"{stage}_replaced"
        columns = ("id", "batch_id", "country", "type", *GOLDEN_ATTRIBUTES)
        stored = ", ".join(columns)
        kept = " OR ".join(  # a blank cell keeps the value: it changes nothing
            f"(s.{column} IS NOT NULL AND s.{column} IS DISTINCT FROM c.{column})"
            for column in GOLDEN_ATTRIBUTES  # what a source says of a customer
        )
        # One comparison of every known row; the update then touches the changed ones only.
        self.bulk.execute(
            f"CREATE TEMPORARY TABLE {replaced} AS "
            f"SELECT {', '.join(f'c.{column}' for column in columns)} "
            f"FROM {stage} s JOIN customer c ON c.id = s.id "
            f"WHERE c.country <> s.country OR c.type <> s.type OR {kept}"
        )
        self.bulk.execute(
            f"INSERT INTO customer_version ({stored}) SELECT {stored} FROM {replaced}"
        )
        keep = "COALESCE(excluded.{0}, customer.{0})"
        self.bulk.execute(
            f"""
            INSERT INTO customer (id, country, type, first_name, last_name, specialty, postal_code,
                                  city, territory, address, phone, email, first_batch_id, batch_id)
            SELECT id, country, type, first_name, last_name, specialty, postal_code, city,
                   territory, address, phone, email, {self.batch_id}, {self.batch_id}
            FROM {stage} WHERE id IN (SELECT id FROM {replaced})
            ON CONFLICT (id) DO UPDATE SET
                country = excluded.country, type = excluded.type,
                first_name = {keep.format("first_name")}, last_name = {keep.format("last_name")},
                specialty = {keep.format("specialty")}, postal_code = {keep.format("postal_code")},
                city = {keep.format("city")}, territory = {keep.format("territory")},
                address = {keep.format("address")}, phone = {keep.format("phone")},
                email = {keep.format("email")}, batch_id = excluded.batch_id
            """
        )
        changed = self.bulk.read(f"SELECT id FROM {replaced}")
        self.bulk.execute(f"DROP TABLE {replaced}")
        return _ids(changed.column("id"))

    def _attribute_history(self) -> None:
        """Each source record's values this batch gave or changed, under its batch.

        A record is compared with its own last values (not with the customer
        row, which other systems update too): a row repeating them adds
        nothing, a blank cell changes nothing (see
        :class:`~harmonia.store.models.CustomerAttributeHistory`).
        """
        self._last_values()
        changes = " OR ".join(
            f"(a.{a} IS NOT NULL AND a.{a} IS DISTINCT FROM k.{a})" for a in GOLDEN_ATTRIBUTES
        )
        given = ", ".join(
            f"CASE WHEN a.{a} IS DISTINCT FROM k.{a} THEN a.{a} END AS {a}"
            for a in GOLDEN_ATTRIBUTES
        )
        rows = self._arrow(
            f"SELECT {literal(self.system)} AS system, a.customer_id AS source_id, "
            f"{self.batch_id} AS batch_id, {given} "
            "FROM accepted a LEFT JOIN last_values k ON k.source_id = a.customer_id "
            f"WHERE {changes} ORDER BY a.customer_id"
        )
        self.bulk.append("customer_attribute_history", rows)

    def _last_values(self) -> None:
        """``last_values``: the chunk's known source records (of this system) with their
        last value of each attribute. Read for those records only: a refresh reads
        the history of the rows that changed, a first load none. Earlier chunks of the
        batch wrote other records' history (a record loads once per batch)."""
        known = self._arrow(
            "SELECT customer_id AS source_id FROM accepted WHERE by_source IS NOT NULL"
        )
        recorded = pa.table({})
        if known.num_rows:
            stage = self.bulk.stage(known, "records", key="source_id")
            recorded = history.of_system(self.bulk, self.system, f"SELECT source_id FROM {stage}")
        typed = ", ".join(f"{a} VARCHAR" for a in GOLDEN_ATTRIBUTES)
        self._into_duck("history", recorded, f"source_id VARCHAR, batch_id BIGINT, {typed}")
        self.duck.execute(
            "CREATE OR REPLACE TEMP TABLE last_values AS "
            + history.latest_sql("history", "source_id")
        )
        self.duck.execute("DROP TABLE history")

    def _identifiers(self) -> pa.Array:
        """New identifiers: appended; a known customer's changed identifier: replaced.

        Returns the ids of the known customers whose identifier changed.
        """
        batch = self.batch_id
        # In value order, so that SQLite appends to each scheme's part of the key
        # (scheme, value) in turn (1M identifiers in file order: 3.2 s CPU to
        # insert, 1.2 s sorted). Not by (scheme, value): DuckDB sorts two text keys
        # four times slower than one (1M: 1.32 s -> 0.34 s) for the same insert.
        fresh = self._arrow(
            "SELECT id_scheme AS scheme, id_value AS value, harmonia_id AS customer_id, "
            f"{batch} AS batch_id FROM accepted a WHERE is_new AND id_value IS NOT NULL "
            "ORDER BY id_value"
        )
        self.bulk.append("identifier", fresh)
        changed = self._arrow(
            "SELECT harmonia_id AS customer_id, id_scheme AS scheme, id_value AS value "
            "FROM accepted a WHERE NOT is_new AND id_value IS NOT NULL AND NOT EXISTS ("
            "SELECT 1 FROM ids i WHERE i.scheme = a.id_scheme AND i.value = a.id_value)"
        )
        if changed.num_rows:
            stage = self.bulk.stage(changed, "identifiers")
            self.bulk.execute(
                f"""
                DELETE FROM identifier WHERE EXISTS (
                    SELECT 1 FROM {stage} s
                    WHERE s.customer_id = identifier.customer_id AND s.scheme = identifier.scheme)
                """
            )
            self.bulk.execute(
                f"INSERT INTO identifier (scheme, value, customer_id, batch_id) "
                f"SELECT scheme, value, customer_id, {batch} FROM {stage}"
            )
        return _ids(changed.column("customer_id"))

    def _objections(self) -> None:
        """Customers the source says object to profiling: recorded, their results gone.

        A source saying "no" lifts nothing: only `harmonia privacy withdraw` does.
        """
        yes = ", ".join(literal(word) for word in OBJECTION_YES)
        objecting = self._arrow(
            f"SELECT DISTINCT harmonia_id AS id FROM accepted WHERE objection IN ({yes})"
        )
        if objecting.num_rows:
            stage = self.bulk.stage(objecting, "objections")
            for statement in record_objections(f"SELECT id FROM {stage}", self.system):
                self.bulk.execute(statement)

    def finish(self) -> None:
        self.bulk.sync_sequence("customer")
        self.bulk.analyze(
            "customer",
            "crosswalk",
            "identifier",
            "customer_attribute_history",
            "customer_version",
        )


KIND = Kind(
    "customers",
    check=customers_sql,
    merger=CustomerMerger,
    prepare=register_python_checks,
    keys=(
        DuplicateKey(
            ("customer_id",),
            "'duplicate customer_id ''' || customer_id || ''', first given at row ' || first_row",
        ),
        DuplicateKey(
            ("id_scheme", "id_value"),
            "'identifier ''' || id_scheme || ' ' || id_value || ''' is also given at row ' "
            "|| first_row",
        ),
    ),
)
