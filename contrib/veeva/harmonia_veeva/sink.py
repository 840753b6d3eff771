"""The Veeva CRM sink: a cycle's target list as the load files a Veeva admin loads.

One folder per cycle, one CSV per Veeva object (``<Object API name>.csv``,
comma-separated UTF-8 with API names as headers, as Data Loader and the Bulk
API read them), plus ``load-order.txt`` and, when some targets cannot be
written, ``unmatched.csv`` with the reason for each:

* ``Account_Territory_Loader_vod__c``: each target account gets its
  territory added (``Territory_To_Add_vod__c = ;T1;``, incremental ATL mode);
* ``TSF_vod__c``: per account and territory, ``My_Target_vod__c`` and the
  cycle's segment, needs and tier in custom fields (``Harmonia_Segment__c``
  ...; the prefix is an option);
* the multichannel cycle plan: ``MC_Cycle_vod__c`` (the cycle's dates),
  ``MC_Cycle_Channel_vod__c`` (one per channel with contacts),
  ``MC_Cycle_Plan_vod__c`` (one per territory), ``MC_Cycle_Plan_Target_vod__c``
  (one per target, its overall channel goal) and ``MC_Cycle_Plan_Channel_vod__c``
  (one per target and channel, ``Channel_Activity_Goal_vod__c``).

Every record carries an external id derived from what it is (country,
therapy area, period, territory, account, channel), never from the run, so
loading the files of a re-run cycle upserts the same records. Parents are
referenced through their external ids (``Cycle_vod__r.External_Id_vod__c``).

Veeva accounts are referenced by their Salesforce Id (or, with
``account_key=External_ID_vod__c``, their external id): the target list's
``source_id`` where ``source_system`` is the Veeva system (``system`` option,
default ``veeva``: the name under which the account extract was loaded).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path

import duckdb
import pyarrow as pa

from harmonia import (
    FILE_NAME_OPTION,
    ConfigError,
    CycleInfo,
    Erasure,
    Option,
    OutputSink,
    Period,
    SinkRequest,
    duckdb_connection,
    sql_literal,
)
from harmonia.files import remove_rows, write_table_csv
from harmonia_veeva import objects as vo

OPTIONS = (
    Option("system", "the source system whose ids are Veeva account ids", default="veeva"),
    Option(
        "account_key",
        "how accounts are referenced: their Salesforce Id, or their External_ID_vod__c",
        default="Id",
        choices=("Id", "External_ID_vod__c"),
    ),
    Option(
        "external_id_field",
        "the external id field of the MCCP and TSF objects (the upsert key)",
        default="External_Id_vod__c",
    ),
    Option("field_prefix", "prefix of the custom segment fields on TSF_vod__c", default="Harmonia_"),
    Option("status", "status of the cycle and its plans", default="Planned_vod",
           choices=vo.CYCLE_STATUSES),
    FILE_NAME_OPTION,
)  # fmt: skip


def write_veeva(request: SinkRequest) -> Iterator[str]:
    """Write the load files of one cycle's target list; yields their paths, in load
    order, each once written (so that a publish failing at a later file has the
    earlier ones recorded, for an erasure to find)."""
    options = SINK.resolved_options(request.options)
    _check_names(options)
    folder = Path(request.directory) / f"{request.options.get('name') or request.cycle.slug}-veeva"
    folder.mkdir(parents=True, exist_ok=True)
    channels = [c for c in vo.CHANNEL_OBJECTS if c in request.table.column_names]
    period = Period.parse(request.cycle.period)
    connection = duckdb_connection()
    try:
        connection.register("target_list", request.table)
        connection.execute(_targets_sql(request, options))
        tables = _objects(connection, request, options, channels, period)
        unmatched = connection.sql(
            "SELECT harmonia_id, source_system, source_id, territory, segment, reason "
            "FROM targets WHERE reason IS NOT NULL ORDER BY harmonia_id"
        ).to_arrow_table()
    finally:
        connection.close()
    for name in vo.LOAD_ORDER:
        yield str(write_table_csv(tables[name], folder / f"{name}.csv"))
    order = folder / "load-order.txt"
    order.write_text("".join(f"{name}.csv\n" for name in vo.LOAD_ORDER), encoding="utf-8")
    if unmatched.num_rows:
        yield str(write_table_csv(unmatched, folder / "unmatched.csv"))


def _check_names(options: dict[str, str]) -> None:
    for name in ("external_id_field", "field_prefix"):
        value = options[name]
        if not value.replace("_", "").isalnum():
            raise ConfigError(
                f"sink veeva: {name}={value!r} is not a Salesforce API name",
                fix="use letters, digits and underscores, e.g. External_Id_vod__c",
            )


def cycle_key(cycle: CycleInfo) -> str:
    """The external id of the Veeva cycle: the same for every run of one period."""
    return f"HMN-{cycle.country}-{cycle.therapy_area}-{cycle.period}"


def _targets_sql(request: SinkRequest, options: dict[str, str]) -> str:
    """One row per target with its account reference, or the reason it has none."""
    key = cycle_key(request.cycle)
    system = sql_literal(options["system"])
    return f"""
        CREATE TABLE targets AS
        SELECT *,
            CASE
                WHEN source_system IS DISTINCT FROM {system} THEN
                    'no Veeva account id: the customer is known as ' ||
                    COALESCE(source_system || ' ' || source_id, 'harmonia ' || harmonia_id) ||
                    '; load the Veeva account extract (harmonia load --source veeva-accounts) '
                    || 'or name its system with --sink veeva:system=NAME'
                WHEN territory IS NULL OR trim(territory) = '' THEN
                    'no territory: align the customer to a territory before publishing'
            END AS reason,
            source_id AS account,
            {sql_literal(key)} AS cycle_key,
            {sql_literal(key)} || '-' || territory AS plan_key,
            {sql_literal(key)} || '-' || territory || '-' || source_id AS target_key
        FROM target_list
    """


def _objects(
    connection: duckdb.DuckDBPyConnection,
    request: SinkRequest,
    options: dict[str, str],
    channels: list[str],
    period: Period,
) -> dict[str, pa.Table]:
    ext = options["external_id_field"]
    prefix = options["field_prefix"]
    status = sql_literal(options["status"])
    account = (
        '"Account_vod__c"'
        if options["account_key"] == "Id"
        else '"Account_vod__r.External_ID_vod__c"'
    )
    target_account = (
        '"Target_vod__c"'
        if options["account_key"] == "Id"
        else '"Target_vod__r.External_ID_vod__c"'
    )
    cycle = request.cycle
    key = sql_literal(cycle_key(cycle))
    last_day = period.end - dt.timedelta(days=1)  # Veeva's end date is the last day, inclusive
    good = "FROM targets WHERE reason IS NULL"
    name = f"{cycle.country} {cycle.therapy_area} {cycle.period}"
    goals = [
        f"SELECT target_key, {sql_literal(channel)} AS channel, CAST({channel} AS BIGINT) AS goal {good}"
        for channel in channels
    ]
    connection.sql(
        "CREATE TABLE goals AS "
        + (
            " UNION ALL ".join(goals)
            if goals
            else "SELECT NULL AS target_key, NULL AS channel, 0 AS goal"
        )
        + " "
    )
    connection.execute("DELETE FROM goals WHERE goal IS NULL OR goal <= 0")
    labels = " ".join(
        f"WHEN {sql_literal(channel)} THEN {sql_literal(vo.CHANNEL_OBJECTS[channel][0])}"
        for channel in channels
    )
    titles = " ".join(
        f"WHEN {sql_literal(channel)} THEN {sql_literal(vo.CHANNEL_OBJECTS[channel][1])}"
        for channel in channels
    )
    queries = {
        vo.ACCOUNT_TERRITORY_LOADER: f"""
            SELECT account AS "External_ID_vod__c", account AS {account},
                ';' || string_agg(DISTINCT territory, ';' ORDER BY territory) || ';'
                    AS "Territory_To_Add_vod__c"
            {good} GROUP BY account ORDER BY account""",
        vo.TERRITORY_FIELDS: f"""
            SELECT DISTINCT account || '__' || territory AS "{ext}", account AS {account},
                territory AS "Territory_vod__c", true AS "My_Target_vod__c",
                segment AS "{prefix}Segment__c", needs AS "{prefix}Needs__c",
                tier AS "{prefix}Tier__c", {sql_literal(name)} AS "{prefix}Cycle__c"
            {good} ORDER BY 1""",
        vo.CYCLE: f"""
            SELECT {key} AS "{ext}",
                {sql_literal(name)} AS "Name",
                DATE '{period.start.isoformat()}' AS "Start_Date_vod__c",
                DATE '{last_day.isoformat()}' AS "End_Date_vod__c",
                {status} AS "Status_vod__c"
        """,
        vo.CYCLE_CHANNEL: f"""
            SELECT DISTINCT {key} || '-' || channel AS "{ext}",
                {key} AS "Cycle_vod__r.{ext}",
                CASE channel {labels or "WHEN '' THEN ''"} END AS "Channel_Object_vod__c",
                CASE channel {titles or "WHEN '' THEN ''"} END AS "Channel_Label_vod__c",
                1.0 AS "Channel_Weight_vod__c"
            FROM goals ORDER BY 1""",
        vo.CYCLE_PLAN: f"""
            SELECT DISTINCT plan_key AS "{ext}", {sql_literal(name)} || ' ' || territory AS "Name",
                cycle_key AS "Cycle_vod__r.{ext}", territory AS "Territory_vod__c",
                {status} AS "Status_vod__c"
            {good} ORDER BY 1""",
        vo.CYCLE_PLAN_TARGET: f"""
            SELECT target_key AS "{ext}", plan_key AS "Cycle_Plan_vod__r.{ext}",
                account AS {target_account},
                CAST(COALESCE((SELECT sum(goal) FROM goals g
                    WHERE g.target_key = targets.target_key), 0) AS BIGINT)
                    AS "Channel_Interactions_Goal_vod__c"
            {good} ORDER BY 1""",
        vo.CYCLE_PLAN_CHANNEL: f"""
            SELECT target_key || '-' || channel AS "{ext}",
                target_key AS "Cycle_Plan_Target_vod__r.{ext}",
                {key} || '-' || channel AS "Cycle_Channel_vod__r.{ext}",
                goal AS "Channel_Activity_Goal_vod__c"
            FROM goals ORDER BY 1""",
    }
    return {name: connection.sql(sql).to_arrow_table() for name, sql in queries.items()}


#: Columns that hold a Veeva account alone (by Salesforce Id or external id), in any file.
ACCOUNT_COLUMNS = (
    "Account_vod__c",
    "Target_vod__c",
    "Account_vod__r.External_ID_vod__c",
    "Target_vod__r.External_ID_vod__c",
)

#: The reference to a plan target, whose external id ends with ``-<account>``.
PLAN_TARGET_REFERENCE = "Cycle_Plan_Target_vod__r."


def erase_veeva(
    location: str, erasure: Erasure, options: Mapping[str, str] | None = None
) -> int | None:
    """Remove an erased person from one load file: the rows naming their account.

    Only the columns that hold an account are compared, exactly: the account
    columns (``Account_vod__c``, ``Target_vod__c``, by external id too, and the
    account's ``External_ID_vod__c`` in the territory loader), the plan target
    a channel goal references (``...-<territory>-<account>``, by its end), and
    in ``unmatched.csv`` the harmonia id or the system and source id. A short
    id of another system (``01``) never matches a date or another account's key.
    Accounts are the person's ids in the sink's ``system`` (the options the
    file was written with): another system's id equal to some Veeva account
    is not that account. Without options (files written before harmonia
    recorded them), every id of the person is taken for an account.
    """
    path = Path(location)
    if path.suffix != ".csv" or not path.is_file():
        return None
    system = None if options is None else options.get("system", "veeva")
    accounts = sorted(
        {source_id for owner, source_id in erasure.source_ids if system in (None, owner)}
    )
    ids = ", ".join(map(str, erasure.customer_ids))
    account_columns = {name.lower() for name in ACCOUNT_COLUMNS}
    if path.stem == vo.ACCOUNT_TERRITORY_LOADER:  # the account's own external id
        account_columns.add("external_id_vod__c")

    def match(columns: list[str]) -> str:
        tests = [f"TRY_CAST(harmonia_id AS BIGINT) IN ({ids})"] if "harmonia_id" in columns else []
        if {"source_system", "source_id"} <= set(columns) and erasure.source_ids:
            pairs = ", ".join(
                f"({sql_literal(system)}, {sql_literal(source)})"
                for system, source in erasure.source_ids
            )
            tests.append(f"(source_system, source_id) IN ({pairs})")
        if accounts:
            named = ", ".join(sql_literal(account) for account in accounts)
            ends = [sql_literal(f"-{account}") for account in accounts]
            for column in columns:
                if column.lower() in account_columns:
                    tests.append(f'"{column}" IN ({named})')
                elif column.startswith(PLAN_TARGET_REFERENCE):
                    tests += [f'ends_with("{column}", {end})' for end in ends]
        return " OR ".join(tests) or "false"

    return remove_rows(path, match)


SINK = OutputSink(
    name="veeva",
    description="Veeva CRM load files: territory alignment (ATL), targets and segments per "
    "territory (TSF), the multichannel cycle plan with its targets and channel goals.",
    accepts={"target_list"},
    write=write_veeva,
    options=OPTIONS,
    erase=erase_veeva,
)
