"""assignment inputs: one Parquet file per cycle on SQLite, NULL in the table

Revision ID: 0740
Revises: 0730
Create Date: 2026-12-07

An assignment's ``inputs`` (the JSON of the feature values and raw inputs its
rules read) is most of a cycle's bytes: ~460 MB of SQLite per cycle at 1M
customers. On SQLite each cycle's inputs move into one file beside the
database (``<database>.facts/assignment_input/cycle=<id>/part-00001.parquet``,
see ``harmonia.store.assignments``) and the column holds NULL, so it becomes
nullable. PostgreSQL keeps them in its table (the column only becomes
nullable there). The space SQLite frees is reused by the next cycles (a
``VACUUM`` gives it back to the disk).
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0740"
down_revision: str | None = "0730"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROWS_PER_FETCH = 200_000


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("assignment") as batch:
        batch.alter_column("inputs", existing_type=sa.Text(), nullable=True)
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL keeps them in its table
    import shutil

    from harmonia.compute import duckdb_connection
    from harmonia.store.assignments import INPUTS_TABLE, cycle_folder
    from harmonia.store.facts import facts_folder, write_batch_file

    root = facts_folder(Path(bind.engine.url.database or ""))
    # A failed upgrade left files of its own: they are written again from the table.
    shutil.rmtree(root / INPUTS_TABLE.name, ignore_errors=True)
    cycles = bind.execute(
        sa.text("SELECT DISTINCT cycle_id FROM assignment WHERE inputs IS NOT NULL")
    ).scalars()
    duck = duckdb_connection()
    try:
        for cycle_id in sorted(cycles):
            _fetch_into(
                bind,
                duck,
                "SELECT customer_id, inputs FROM assignment "
                f"WHERE cycle_id = {int(cycle_id)} AND inputs IS NOT NULL",
            )
            write_batch_file(
                duck, cycle_folder(root, cycle_id), INPUTS_TABLE, "SELECT * FROM migrated"
            )
            duck.execute("DROP TABLE migrated")
    finally:
        duck.close()
    bind.exec_driver_sql("UPDATE assignment SET inputs = NULL WHERE inputs IS NOT NULL")


def _fetch_into(bind: sa.Connection, duck: Any, sql: str) -> None:
    """The rows of ``sql`` (SQLite) as DuckDB's table ``migrated``, a chunk at a time."""
    import pyarrow as pa

    result = bind.exec_driver_sql(sql)
    schema = pa.schema([("customer_id", pa.int64()), ("inputs", pa.string())])
    duck.execute("CREATE TABLE migrated (customer_id BIGINT, inputs VARCHAR)")
    while chunk := result.fetchmany(ROWS_PER_FETCH):
        rows = pa.table([pa.array(values) for values in zip(*chunk, strict=True)], schema=schema)
        duck.register("chunk", rows)
        duck.execute("INSERT INTO migrated SELECT * FROM chunk")
        duck.unregister("chunk")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _files_to_rows(bind)
    with op.batch_alter_table("assignment") as batch:
        batch.alter_column("inputs", existing_type=sa.Text(), nullable=False)


def _files_to_rows(bind: sa.Connection) -> None:
    """The inputs back into the table, from each cycle's file. The files stay (the
    revision that reads them no longer opens this store); an upgrade writes them
    again from the table. They stay for data safety (a downgrade rolled back must
    not lose them), but an erasure or objection made at 0730 does not know them:
    once the downgrade has committed, delete ``<database>.facts/assignment_input``."""
    from harmonia.compute import duckdb_connection
    from harmonia.sql import literal
    from harmonia.store.assignments import cycle_folder, inputs_text
    from harmonia.store.facts import facts_folder

    root = facts_folder(Path(bind.engine.url.database or ""))
    cycles = bind.execute(
        sa.text("SELECT DISTINCT cycle_id FROM assignment WHERE inputs IS NULL")
    ).scalars()
    duck = duckdb_connection()
    try:
        for cycle_id in sorted(cycles):
            files = sorted(cycle_folder(root, cycle_id).glob("part-*.parquet"))
            if not files:
                raise RuntimeError(
                    f"cannot downgrade: the assignment inputs of cycle {cycle_id} are not in "
                    f"{cycle_folder(root, cycle_id)}; restore that folder from a backup"
                )
            listed = ", ".join(literal(str(path)) for path in files)
            rows = duck.sql(
                f"SELECT {inputs_text()}, {int(cycle_id)}, customer_id FROM read_parquet([{listed}])"
            ).fetchall()
            bind.exec_driver_sql(
                "UPDATE assignment SET inputs = ? WHERE cycle_id = ? AND customer_id = ?", rows
            )
    finally:
        duck.close()
