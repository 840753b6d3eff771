"""facts: questionnaire responses and answers as Parquet per load batch on SQLite

Revision ID: 0700
Revises: 0690
Create Date: 2026-12-07

On SQLite the response and answer rows move out of the database into Parquet
files beside it (``<database>.facts/{response,answer}/batch=<id>/``, see
``harmonia.store.facts``), each response with its answers under the load
batch that last wrote it (its ``batch_id``): the layout a load would have
written, so a cycle's input snapshot still names the batches holding what it
read. Each responses batch records its files per table. Only the newest
version of a response is kept, so the upgrade records itself as an empty
responses batch (source ``upgrade``): a snapshot taken before it reads the moved
responses as they are now, not without the ones a later batch changed.
PostgreSQL keeps its ``response`` and ``answer`` tables: nothing changes there.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0700"
down_revision: str | None = "0690"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Each table's rows as the facts hold them, with the batch whose folder takes them.
ROWS = {
    "response": "SELECT id, customer_id, questionnaire, version, respondent, answered_at, "
    "batch_id, batch_id AS folder FROM response",
    "answer": "SELECT a.response_id, a.question, a.value, r.batch_id AS folder FROM answer a "
    "JOIN response r ON r.id = a.response_id",
}
ROWS_PER_FETCH = 500_000


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL keeps its facts as tables
    import shutil

    from harmonia.compute import duckdb_connection
    from harmonia.store.facts import UPGRADE_SOURCE, batch_folder, facts_folder, write_batch_file

    root = facts_folder(Path(bind.engine.url.database or ""))
    loaded = dict(
        bind.execute(
            sa.text(
                "SELECT id, source FROM load_batch WHERE status = 'loaded' AND kind = 'responses'"
            )
        ).all()
    )
    batches = list(loaded)
    # Answers were loaded since the last upgrade (if any): snapshots taken before
    # now read them as they are now.
    if batches and loaded[max(batches)] != UPGRADE_SOURCE:
        batches.append(_record_upgrade(bind, UPGRADE_SOURCE))
    duck = duckdb_connection()
    try:
        for table, sql in ROWS.items():
            # A failed upgrade left files of its own: they are written again from the table.
            shutil.rmtree(root / table, ignore_errors=True)
            _fetch_into(bind, duck, table, sql)
            written = dict(
                duck.sql(
                    f"SELECT folder, COUNT(*) FROM migrated_{table} GROUP BY folder"
                ).fetchall()
            )
            for batch_id in sorted(set(batches) | set(written)):
                if batch_id in written:
                    write_batch_file(
                        duck,
                        batch_folder(root, table, batch_id),
                        table,
                        f"SELECT * EXCLUDE (folder) FROM migrated_{table} WHERE folder = {batch_id}",
                    )
                files = len(list(batch_folder(root, table, batch_id).glob("part-*.parquet")))
                bind.execute(
                    sa.text(
                        "INSERT INTO fact_files (batch_id, fact_table, files) "
                        "VALUES (:batch, :table, :files)"
                    ),
                    {"batch": batch_id, "table": table, "files": files},
                )
    finally:
        duck.close()
    bind.exec_driver_sql("DELETE FROM answer")
    bind.exec_driver_sql("DELETE FROM response")


def _record_upgrade(bind: sa.Connection, source: str) -> int:
    """A load batch for this upgrade, loaded and empty: the batches below it are the
    ones whose responses it moved (see ``harmonia.store.facts.UPGRADE_SOURCE``)."""
    return bind.execute(
        sa.text(
            "INSERT INTO load_batch (source, system, kind, location, status, rows_read, "
            "rows_loaded, rows_quarantined, actor, started_at, finished_at) VALUES "
            "(:source, 'harmonia', 'responses', 'schema revision 0700', 'loaded', 0, 0, 0, "
            "'harmonia upgrade', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
        ),
        {"source": source},
    ).scalar_one()


def _fetch_into(bind: sa.Connection, duck: Any, table: str, sql: str) -> None:
    """The rows of ``sql`` (SQLite) as DuckDB's table ``migrated_<table>``, a chunk at a time."""
    import pyarrow as pa

    result = bind.exec_driver_sql(sql)
    names = list(result.keys())
    target = f"migrated_{table}"
    created = False
    while chunk := result.fetchmany(ROWS_PER_FETCH):
        rows = pa.table([pa.array(values) for values in zip(*chunk, strict=True)], names=names)
        duck.register("chunk", rows)
        verb = f"INSERT INTO {target}" if created else f"CREATE TABLE {target} AS"
        duck.execute(f"{verb} SELECT * FROM chunk")
        duck.unregister("chunk")
        created = True
    if not created:
        columns = ", ".join(f"CAST(NULL AS VARCHAR) AS {name}" for name in names)
        duck.execute(f"CREATE TABLE {target} AS SELECT {columns} WHERE FALSE")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _facts_to_rows(bind)
    op.execute("DELETE FROM fact_files WHERE fact_table IN ('response', 'answer')")
    # The upgrade's load batch stays (cycles may name it); upgrading again records a
    # newer one, which is right: that upgrade, too, keeps only the newest responses.


#: The current rows of each table, read from its committed files: the newest
#: row per response, the newest batch's answers of each response.
CURRENT = {
    "response": (
        "id, customer_id, questionnaire, version, respondent, answered_at, batch_id",
        "row_number() OVER (PARTITION BY id ORDER BY batch DESC) = 1",
    ),
    "answer": (
        "response_id, question, value",
        "batch = max(batch) OVER (PARTITION BY response_id)",
    ),
}


def _facts_to_rows(bind: sa.Connection) -> None:
    """The responses and answers back into SQLite's tables. The files stay (the
    revision that reads them no longer opens this store); an upgrade writes them
    again from the tables."""
    from harmonia.compute import duckdb_connection
    from harmonia.sql import literal
    from harmonia.store.facts import facts_folder

    root = facts_folder(Path(bind.engine.url.database or ""))
    loaded = set(
        bind.execute(
            sa.text("SELECT id FROM load_batch WHERE status = 'loaded' AND kind = 'responses'")
        ).scalars()
    )
    duck = duckdb_connection()
    try:
        for table, (columns, newest) in CURRENT.items():
            files = [
                path
                for path in sorted((root / table).glob("batch=*/part-*.parquet"))
                if int(path.parent.name.removeprefix("batch=")) in loaded
            ]
            if not files:
                continue
            listed = ", ".join(literal(str(path)) for path in files)
            rows = duck.sql(
                f"SELECT {columns} FROM read_parquet([{listed}], hive_partitioning = true, "
                f"hive_types = {{'batch': BIGINT}}) QUALIFY {newest}"
            ).fetchall()
            marks = ", ".join("?" for _ in columns.split(", "))
            bind.exec_driver_sql(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
    finally:
        duck.close()
