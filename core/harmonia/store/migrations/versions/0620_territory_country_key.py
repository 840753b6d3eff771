"""territory: keyed on (code, country)

Revision ID: 0620
Revises: 0610
Create Date: 2026-12-07

A territory code is its country's own: France's ``T1`` and Belgium's ``T1``
are two units. The table is small (the field force's units): it is copied
into one keyed on both.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0620"
down_revision: str | None = "0610"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "code, country, name, level, parent, batch_id"


def _territory(name: str, *key: str) -> None:
    op.create_table(
        name,
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("parent", sa.String(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*key),
    )


def _key_named_territory() -> None:
    """On PostgreSQL a renamed table keeps its primary key's name: the copy's
    ``territory_rekeyed_pkey`` would clash with the next copy (the downgrade's)
    and surprise a later migration expecting ``territory_pkey``. It is renamed,
    also in a store this migration upgraded before it did so."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite's primary keys have no name
    name = sa.inspect(bind).get_pk_constraint("territory")["name"]
    if name and name != "territory_pkey":
        op.execute(f'ALTER TABLE territory RENAME CONSTRAINT "{name}" TO territory_pkey')


def _rekey(*key: str) -> None:
    _key_named_territory()
    _territory("territory_rekeyed", *key)
    op.execute(f"INSERT INTO territory_rekeyed ({COLUMNS}) SELECT {COLUMNS} FROM territory")
    op.drop_table("territory")
    op.rename_table("territory_rekeyed", "territory")
    _key_named_territory()


def upgrade() -> None:
    _rekey("code", "country")


def downgrade() -> None:
    _rekey("code")
