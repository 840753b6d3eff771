"""``harmonia db``: the harmonized database's schema."""

from __future__ import annotations

import click

from harmonia.cli import app
from harmonia.cli.lazy import LazyGroup
from harmonia.cli.render import stdout


@click.group(cls=LazyGroup)
def db() -> None:
    """Create, inspect and upgrade the database schema (alembic migrations)."""


@db.command()
def upgrade() -> None:
    """Migrate the schema to this harmonia's revision (back the database up first)."""
    before, after = app().schema.upgrade()
    if before.revision == after.revision:
        stdout.print(f"{after.database} is up to date (revision {after.revision}).")
    else:
        stdout.print(f"{after.database}: {before.revision or 'empty'} -> {after.revision}")


@db.command()
def current() -> None:
    """Show the database, its schema revision and the revision this harmonia needs."""
    state = app().schema.current()
    stdout.print(f"database: {state.database}")
    stdout.print(f"revision: {state.revision or 'none (no harmonia schema yet)'}")
    stdout.print(f"needed:   {state.needed}")
