"""The harmonized store: tables, database setup and migrations, bulk columnar I/O."""

from harmonia.store.database import DATABASE_ENV, Database, resolve_url

__all__ = ["DATABASE_ENV", "Database", "resolve_url"]
