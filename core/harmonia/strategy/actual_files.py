"""Reading actual activity and sales files for a comparison with a plan.

CSV (``,`` or ``;``, decimal commas) or Parquet, header names normalized as
for canonical files. Customers are named by the source system's ids and
mapped to harmonia ids through the crosswalk; an id the crosswalk does not
know stays in the table (``source_id``) so its row is rejected by name.

Until actuals are a record kind of their own (loaded, stored and
quarantined like any other source), this reader feeds
:func:`harmonia.strategy.actuals.compare` directly, and the rows it cannot
compare come back with their reasons.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from harmonia.errors import InputError
from harmonia.sql import literal

if TYPE_CHECKING:
    from harmonia.store.database import Database

REQUIRED = {"activity": ("customer_id", "channel", "date"), "sales": ("period", "value")}


def read_actuals(database: Database, path: Path, kind: str, system: str) -> pa.Table:
    """An activity or sales file as the table :func:`~harmonia.strategy.actuals.compare` takes."""
    from harmonia.compute import duckdb_connection
    from harmonia.files import normalize_header

    location = str(path)
    if not path.is_file():
        raise InputError("no such file", where=location, fix="check the path")
    connection = duckdb_connection()
    try:
        if path.suffix.lower() == ".parquet":
            relation = connection.read_parquet(location)
        else:
            relation = connection.read_csv(location, header=True, all_varchar=True)
        names = {normalize_header(c): c for c in relation.columns}
        missing = [c for c in REQUIRED[kind] if c not in names]
        if kind == "sales" and "customer_id" not in names and "territory" not in names:
            missing.append("customer_id or territory")
        if missing:
            raise InputError(
                f"an actual {kind} file needs the columns {', '.join(missing)}; the header has "
                f"{', '.join(names)}",
                where=location,
                fix="rename the columns: activity has customer_id, channel, date and "
                "contacts (default 1); sales has customer_id or territory, period and value; "
                "either may have therapy_area (needed for a customer planned in several)",
            )

        def text(name: str) -> str:
            if name not in names:
                return "CAST(NULL AS VARCHAR)"
            return f"NULLIF(TRIM(CAST(r.\"{names[name]}\" AS VARCHAR)), '')"

        def number(name: str, default: str = "NULL") -> str:
            if name not in names:
                return default
            return f"TRY_CAST(replace(CAST(r.\"{names[name]}\" AS VARCHAR), ',', '.') AS DOUBLE)"

        connection.register("relation_in", relation)
        crosswalk = _crosswalk(database, system)
        connection.register("crosswalk_in", crosswalk)
        ids = f"LEFT JOIN crosswalk_in x ON x.source_id = {text('customer_id')}"
        if kind == "activity":
            select = (
                f"SELECT x.customer_id, {text('customer_id')} AS source_id, "
                f"{text('therapy_area')} AS therapy_area, "
                f"{text('channel')} AS channel, {text('date')} AS date, "
                f"CAST({number('contacts', '1')} AS BIGINT) AS contacts"
            )
        else:
            select = (
                f"SELECT x.customer_id, {text('customer_id')} AS source_id, "
                f"{text('therapy_area')} AS therapy_area, "
                f"{text('territory')} AS territory, {text('period')} AS period, "
                f"{number('value')} AS value"
            )
        return connection.sql(f"{select} FROM relation_in r {ids}").to_arrow_table()
    finally:
        connection.close()


def _crosswalk(database: Database, system: str) -> pa.Table:
    from harmonia.store.bulk import BulkConnection

    with BulkConnection(database, write=False) as bulk:
        return bulk.read(
            f"SELECT source_id, customer_id FROM crosswalk WHERE system = {literal(system)}"
        )
