"""The harmonized store: tables, database setup and migrations, bulk columnar I/O."""

from typing import Any

from harmonia.store.url import DATABASE_ENV, resolve_url

__all__ = ["DATABASE_ENV", "Database", "resolve_url"]


def __getattr__(name: str) -> Any:
    # SQLAlchemy loads with the first Database: naming the store must stay cheap.
    if name == "Database":
        from harmonia.store.database import Database

        return Database
    raise AttributeError(f"module 'harmonia.store' has no attribute {name!r}")
