"""The Veeva CRM source: an account extract as customers, identifiers and crosswalk.

Reads what a Veeva admin exports with Data Loader (CSV, comma-separated,
UTF-8, API names as headers in any case), from one folder:

* ``Account.csv`` (required): ``Id``, ``FirstName``, ``LastName``, ``Name``,
  ``IsPersonAccount``, ``RecordType.DeveloperName``, ``Specialty_1_vod__c``,
  ``Primary_Parent_vod__c``, ``Territory_vod__c`` (``;T1;T2;``) and the
  national identifier fields (``NPI_vod__c`` ... see the ``identifiers``
  option);
* ``Address_vod__c.csv`` (optional): ``Account_vod__c``, ``City_vod__c``,
  ``Zip_vod__c``, ``Country_vod__c``, ``Primary_vod__c``;
* ``Child_Account_vod__c.csv`` (optional): ``Parent_Account_vod__c``,
  ``Child_Account_vod__c``: the parent/child affiliations.

Each affiliation (a child account and its parent: a physician and their
hospital), from ``Child_Account_vod__c.csv`` and from each account's
``Primary_Parent_vod__c``, becomes an ``affiliations`` record, stored between
the two customers' harmonia ids.

Each account becomes a canonical customer whose id is its Salesforce ``Id``
in the system ``veeva`` (the crosswalk then maps it to the harmonia id), with
its primary address (else its primary parent's: a physician without an
address of their own practises at their hospital), its first territory and
its national identifier, which the core validates and uses for matching.

Nothing is dropped: an account whose primary parent is not in the extract,
and an affiliation whose parent or child is not, are quarantined with the
reason and their line; a second account with the same ``Id`` is quarantined
by the loader as a duplicate. All of it is SQL over the whole extract
(DuckDB), never a loop over accounts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import duckdb

from harmonia import DataSource, InputError, Option, SourceRequest, duckdb_connection, sql_literal
from harmonia.files import FileBatch, RejectedLine
from harmonia_veeva import objects as vo

#: The account, address and affiliation fields read (lower case: headers are matched so).
ACCOUNT_FIELDS = (
    "id", "name", "firstname", "lastname", "ispersonaccount", "recordtype.developername",
    "specialty_1_vod__c", "primary_parent_vod__c", "territory_vod__c",
)  # fmt: skip
ADDRESS_FIELDS = ("account_vod__c", "city_vod__c", "zip_vod__c", "country_vod__c",
                  "primary_vod__c")  # fmt: skip
CHILD_FIELDS = ("parent_account_vod__c", "child_account_vod__c")

OPTIONS = (
    Option("path", "the folder of the extract (Account.csv, Address_vod__c.csv, "
           "Child_Account_vod__c.csv), or its Account.csv", required=True),
    Option("identifiers", "national identifier fields as FIELD=SCHEME pairs separated by "
           "commas, first found wins", default="NPI_vod__c=NPI"),
    Option("country", "country of accounts without an address country (default: --country)"),
)  # fmt: skip


def read_veeva(request: SourceRequest) -> Iterator[FileBatch]:
    accounts, addresses, children = _files(request.option("path"))
    identifiers = _identifier_fields(request.option("identifiers") or OPTIONS[1].default)
    country = (request.option("country") or request.country or "").upper() or None
    connection = duckdb_connection()
    try:
        wanted = ACCOUNT_FIELDS + tuple(field.lower() for field, _ in identifiers)
        columns = _load(connection, "account", accounts, wanted)
        _load(connection, "address", addresses, ADDRESS_FIELDS)
        child_columns = _load(connection, "child", children, CHILD_FIELDS)
        connection.execute(_customers_sql(identifiers, country))
        customers = connection.sql(
            "SELECT * EXCLUDE (reason) FROM customers WHERE reason IS NULL ORDER BY _row"
        ).to_arrow_table()
        rejected = _rejected(connection, "customers", "account", columns)
        yield FileBatch("customers", customers, str(accounts), rejected_lines=rejected,
                        system="veeva", delimiter=",")  # fmt: skip
        # A primary parent is an affiliation too, even without Child_Account_vod__c
        # (an account refused above, its parent missing, has none to store).
        primary = connection.sql(
            "SELECT a.id AS customer_id, trim(a.primary_parent_vod__c) AS parent_id, a._row "
            "FROM account a JOIN customers c USING (_row) WHERE c.reason IS NULL "
            "AND nullif(trim(a.primary_parent_vod__c), '') IS NOT NULL ORDER BY a._row"
        ).to_arrow_table()
        if primary.num_rows:
            yield FileBatch("affiliations", primary, str(accounts), system="veeva",
                            delimiter=",")  # fmt: skip
        if children is not None:
            # After the customers: the loader resolves both ends through the crosswalk.
            affiliations = connection.sql(
                "SELECT child_account_vod__c AS customer_id, parent_account_vod__c AS parent_id, "
                "_row FROM child WHERE _row NOT IN (SELECT _row FROM orphans) ORDER BY _row"
            ).to_arrow_table()
            orphans = _rejected(connection, "orphans", "child", child_columns)
            yield FileBatch("affiliations", affiliations, str(children), rejected_lines=orphans,
                            system="veeva", delimiter=",")  # fmt: skip
    finally:
        connection.close()


def _files(path: str | None) -> tuple[Path, Path | None, Path | None]:
    if not path:
        raise InputError("no extract given", fix="pass --option path=FOLDER (with Account.csv)")
    given = Path(path)
    folder = given if given.is_dir() else given.parent
    accounts = given if given.is_file() else folder / f"{vo.ACCOUNT}.csv"
    if not accounts.is_file():
        raise InputError(
            f"no {vo.ACCOUNT}.csv in {folder}",
            fix="export the Account object with Data Loader into that folder as Account.csv",
        )
    optional = [folder / f"{name}.csv" for name in (vo.ADDRESS, vo.CHILD_ACCOUNT)]
    addresses, children = (p if p.is_file() else None for p in optional)
    return accounts, addresses, children


def _identifier_fields(text: str) -> list[tuple[str, str]]:
    pairs = []
    for pair in filter(None, (p.strip() for p in text.split(","))):
        field, sep, scheme = pair.partition("=")
        if not (sep and field.strip() and scheme.strip()):
            raise InputError(
                f"identifiers: {pair!r} is not FIELD=SCHEME", fix="e.g. NPI_vod__c=NPI"
            )
        if not field.strip().replace("_", "").isalnum():
            # The field names a column of the extract in the SQL that reads it.
            raise InputError(
                f"identifiers: {field.strip()!r} is not a Salesforce API name",
                fix="use letters, digits and underscores, e.g. NPI_vod__c=NPI",
            )
        pairs.append((field.strip(), scheme.strip()))
    return pairs


def _load(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    path: Path | None,
    wanted: tuple[str, ...] = (),
) -> list[str]:
    """A Data Loader CSV as a text table with lower-case column names and ``_row``.

    ``_row`` is the line number (the header is line 1). A missing optional
    file is an empty table with the ``wanted`` columns.
    """
    if path is None:
        columns = ", ".join(f"NULL::VARCHAR AS {name}" for name in wanted)
        connection.execute(f"CREATE TABLE {table} AS SELECT {columns}, 0::BIGINT AS _row LIMIT 0")
        return set(wanted)
    try:
        relation = connection.read_csv(
            str(path), header=True, all_varchar=True, delimiter=",", quotechar='"'
        )
    except duckdb.Error as error:
        raise InputError(f"{path.name} cannot be read as CSV: {error}", where=str(path)) from None
    names = [name.lower() for name in relation.columns]
    select = ", ".join(
        f'"{original}" AS "{name}"' for original, name in zip(relation.columns, names, strict=True)
    )
    connection.sql(
        f"CREATE TABLE {table} AS SELECT {select}, "
        f"CAST(row_number() OVER () + 1 AS BIGINT) AS _row FROM relation"
    )
    for name in (name for name in wanted if name not in names):
        connection.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" VARCHAR')
    if table == "account" and "id" not in names:
        raise InputError(f"{path.name} has no Id column", where=str(path),
                         fix="export the account's Salesforce Id (the Id field)")  # fmt: skip
    return names


def _customers_sql(identifiers: list[tuple[str, str]], country: str | None) -> str:
    hco_types = ", ".join(sql_literal(kind) for kind in vo.HCO_RECORD_TYPES)
    kinds = " ".join(
        f"WHEN {sql_literal(kind)} THEN {sql_literal(code)}"
        for kind, code in vo.HCO_RECORD_TYPES.items()
    )
    scheme = (
        "CASE "
        + " ".join(
            f"WHEN nullif(trim(a.\"{f.lower()}\"), '') IS NOT NULL THEN {sql_literal(s)}"
            for f, s in identifiers
        )
        + " END"
        if identifiers
        else "NULL"
    )
    value = (
        "COALESCE("
        + ", ".join(f"nullif(trim(a.\"{f.lower()}\"), '')" for f, _ in identifiers)
        + ")"
        if identifiers
        else "NULL"
    )
    default_country = sql_literal(country)
    # `known` has no NULL: one NULL in a NOT IN list would make every test unknown.
    return f"""
        CREATE TABLE known AS SELECT DISTINCT id FROM account WHERE id IS NOT NULL;
        CREATE TABLE customers AS
        WITH a AS (
            SELECT *,
                nullif(trim(a."recordtype.developername"), '') AS record_type,
                lower(COALESCE(a.ispersonaccount, '')) IN ('true', '1', 'yes') AS person,
                nullif(trim(a.primary_parent_vod__c), '') AS parent
            FROM account a
        ),
        ranked_address AS (
            SELECT account_vod__c AS account, zip_vod__c AS postal_code, city_vod__c AS city,
                upper(trim(country_vod__c)) AS country,
                row_number() OVER (PARTITION BY account_vod__c ORDER BY
                    lower(COALESCE(primary_vod__c, '')) IN ('true', '1', 'yes') DESC, _row)
                    AS rank
            FROM address
        ),
        main_address AS (SELECT * FROM ranked_address WHERE rank = 1)
        SELECT
            a.id AS customer_id,
            COALESCE(own.country, inherited.country, {default_country}) AS country,
            CASE WHEN a.record_type IN ({hco_types}) OR (a.record_type IS NULL AND NOT a.person
                    AND a."firstname" IS NULL) THEN 'HCO' ELSE 'HCP' END AS type,
            a."firstname" AS first_name,
            COALESCE(a."lastname", a."name") AS last_name,
            CASE a.record_type {kinds} ELSE
                nullif(regexp_replace(lower(trim(a."specialty_1_vod__c")), '[^a-z0-9]+', '_',
                    'g'), '') END AS specialty,
            COALESCE(own.postal_code, inherited.postal_code) AS postal_code,
            COALESCE(own.city, inherited.city) AS city,
            nullif(trim(split_part(trim(COALESCE(a.territory_vod__c, ''), '; '), ';', 1)), '')
                AS territory,
            {scheme} AS id_scheme,
            {value} AS id_value,
            a._row,
            CASE WHEN a.parent IS NOT NULL AND a.parent NOT IN (SELECT id FROM known) THEN
                'primary parent ' || a.parent || ' (Primary_Parent_vod__c) is not in the account '
                || 'extract: export it with its children, or clear the field'
            END AS reason
        FROM a
        LEFT JOIN main_address own ON own.account = a.id
        LEFT JOIN main_address inherited ON inherited.account = a.parent;

        CREATE TABLE orphans AS
        SELECT _row, CASE
            WHEN parent_account_vod__c IS NULL OR parent_account_vod__c NOT IN
                (SELECT id FROM known) THEN
                'parent account ' || COALESCE(parent_account_vod__c, '(empty)') ||
                ' (Parent_Account_vod__c) is not in the account extract'
            ELSE 'child account ' || COALESCE(child_account_vod__c, '(empty)') ||
                ' (Child_Account_vod__c) is not in the account extract'
            END AS reason
        FROM child
        WHERE parent_account_vod__c IS NULL OR child_account_vod__c IS NULL
            OR parent_account_vod__c NOT IN (SELECT id FROM known)
            OR child_account_vod__c NOT IN (SELECT id FROM known);
    """


def _rejected(
    connection: duckdb.DuckDBPyConnection, reasons: str, source: str, columns: list[str]
) -> tuple[RejectedLine, ...]:
    """Rows with a reason, as rejected lines: their line number, text (the file's
    columns, in its order) and reason."""
    selected = "".join(f', s."{column}"' for column in columns)
    rows = connection.sql(
        f"SELECT r._row, r.reason{selected} "
        f"FROM {reasons} r JOIN {source} s USING (_row) "
        f"WHERE r.reason IS NOT NULL ORDER BY r._row"
    ).fetchall()
    lines = []
    for row in rows:
        text = io.StringIO()
        csv.writer(text, lineterminator="").writerow(["" if v is None else v for v in row[2:]])
        lines.append(RejectedLine(line=row[0], text=text.getvalue(), reason=row[1]))
    return tuple(lines)


SOURCE = DataSource(
    name="veeva-accounts",
    description="A Veeva CRM account extract (Account, Address_vod__c, Child_Account_vod__c "
    "as Data Loader CSV): customers with addresses, territories and national identifiers, "
    "and their parent/child affiliations.",
    kinds={"customers", "affiliations"},
    family="local",
    read=read_veeva,
    options=OPTIONS,
)
