"""facts: metrics as Parquet per load batch on SQLite, input snapshots, owners of runs

Revision ID: 0300
Revises: strategy1
Create Date: 2026-12-07

On SQLite the metric rows move out of the database into Parquet files beside
it (``<database>.facts/metric/batch=<id>/``, see ``harmonia.store.facts``),
under one new load batch that records the move; each row keeps the batch it
was loaded by. PostgreSQL keeps its metric table. Every store gains who runs
a load or a cycle (``owner``: host and process, so a dead one is recognized),
each load's file hash, and ``cycle_input``: the load batches a cycle read.
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0300"
down_revision: str | None = "strategy1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

METRIC_COLUMNS = (
    "therapy_area",
    "metric",
    "customer_id",
    "period",
    "first_month",
    "last_month",
    "value",
    "batch_id",
)
ROWS_PER_FILE = 1_000_000


def upgrade() -> None:
    with op.batch_alter_table("load_batch") as batch:
        batch.add_column(sa.Column("owner", sa.String(), nullable=True))
        batch.add_column(sa.Column("content_hash", sa.String(), nullable=True))
    with op.batch_alter_table("cycle") as batch:
        batch.add_column(sa.Column("owner", sa.String(), nullable=True))
    op.create_table(
        "cycle_input",
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("cycle_id", "batch_id"),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _metrics_to_parquet(bind)


def _metrics_to_parquet(bind: sa.Connection) -> None:
    """Write the stored metrics as one batch of Parquet files, then empty the table."""
    import datetime as dt

    import pyarrow as pa

    from harmonia.compute import duckdb_connection
    from harmonia.store.facts import FACT_TABLES, batch_folder, facts_folder, write_batch_file

    total = bind.exec_driver_sql("SELECT COUNT(*) FROM metric").scalar() or 0
    if not total:
        return
    now = dt.datetime.now(dt.UTC)
    batch_id = bind.execute(
        sa.text(
            "INSERT INTO load_batch (source, system, kind, location, status, rows_read, "
            "rows_loaded, rows_quarantined, actor, started_at, finished_at) VALUES "
            "('migration', 'harmonia', 'metrics', 'metric table (schema revision 0300)', "
            "'loaded', :n, :n, 0, 'harmonia db upgrade', :now, :now) RETURNING id"
        ),
        {"n": total, "now": now},
    ).scalar()
    path = Path(bind.engine.url.database or "")
    # A failed upgrade left files of its own: they are written again from the table.
    folder = facts_folder(path) / "metric"
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    fact = FACT_TABLES["metric"]
    schema = pa.schema(
        [
            (
                name,
                pa.string()
                if kind == "VARCHAR"
                else pa.int64()
                if kind == "BIGINT"
                else pa.float64(),
            )
            for name, kind in fact.columns
        ]
    )
    rows = bind.exec_driver_sql(
        f"SELECT {', '.join(METRIC_COLUMNS)} FROM metric "
        "ORDER BY therapy_area, metric, customer_id, period"
    )
    duck = duckdb_connection()
    try:
        target = batch_folder(facts_folder(path), "metric", batch_id)
        while chunk := rows.fetchmany(ROWS_PER_FILE):
            columns = list(zip(*chunk, strict=True))
            table = pa.table(
                [
                    pa.array(values, type=field.type)
                    for values, field in zip(columns, schema, strict=True)
                ],
                schema=schema,
            )
            duck.register("migrated", table)
            write_batch_file(duck, target, "metric", "SELECT * FROM migrated")
            duck.unregister("migrated")
    finally:
        duck.close()
    bind.exec_driver_sql("DELETE FROM metric")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        from harmonia.store.facts import facts_folder

        if facts_folder(Path(bind.engine.url.database or "")).exists():
            raise RuntimeError(
                "this store keeps its metrics in Parquet files: a downgrade below 0300 would "
                "lose them; restore the backup taken before the upgrade instead"
            )
    op.drop_table("cycle_input")
    with op.batch_alter_table("cycle") as batch:
        batch.drop_column("owner")
    with op.batch_alter_table("load_batch") as batch:
        batch.drop_column("content_hash")
        batch.drop_column("owner")
