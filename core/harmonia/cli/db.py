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
    from harmonia.store import Database

    database = Database(app().database_url)
    before = database.checked_revision()
    database.upgrade()
    after = database.checked_revision()
    if before == after:
        stdout.print(f"{database.display_url} is up to date (revision {after}).")
    else:
        stdout.print(f"{database.display_url}: {before or 'empty'} -> {after}")


@db.command()
def current() -> None:
    """Show the database, its schema revision and the revision this harmonia needs."""
    from harmonia.store import Database

    database = Database(app().database_url)
    revision = database.checked_revision()
    stdout.print(f"database: {database.display_url}")
    stdout.print(f"revision: {revision or 'none (no harmonia schema yet)'}")
    stdout.print(f"needed:   {database.head_revision()}")
