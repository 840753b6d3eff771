"""The store's schema: its revision and upgrading it (``harmonia db``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia


@attrs.frozen
class SchemaState:
    """Where the store's schema stands."""

    database: str
    revision: str | None
    needed: str


class Schema:
    """``app.schema``: alembic migrations, never ``create_all`` on an old store."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    def current(self) -> SchemaState:
        """The database, its schema revision and the revision this harmonia needs."""
        from harmonia.store import Database

        database = Database(self.app.database_url)
        return SchemaState(
            database.display_url, database.checked_revision(), database.head_revision()
        )

    def upgrade(self) -> tuple[SchemaState, SchemaState]:
        """Migrate the schema to this harmonia's revision; the state before and after."""
        from harmonia.store import Database
        from harmonia.store.recovery import spill_beside

        before = self.current()
        database = Database(self.app.database_url)
        spill_beside(database, self.app.folder)  # moving facts into files may spill
        database.upgrade()
        return before, self.current()
