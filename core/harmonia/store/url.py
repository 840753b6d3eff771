"""Where the store is: the database URL from the option, the environment or the default.

Apart from :mod:`harmonia.store.database` so that naming the store (``Harmonia.open``,
``harmonia --help``) does not import SQLAlchemy.
"""

from __future__ import annotations

import os
from pathlib import Path

DATABASE_ENV = "HARMONIA_DATABASE_URL"
DEFAULT_DATABASE = "sqlite:///harmonia.db"


def resolve_url(value: str | None = None) -> str:
    """The database URL from ``--database``, the environment, or the default.

    A bare path (``shared/harmonia.db``) means a SQLite file;
    ``postgresql://`` URLs use the psycopg driver.
    """
    value = value or os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE
    if "://" not in value:
        value = f"sqlite:///{Path(value)}"
    if value.startswith(("postgresql://", "postgres://")):
        value = "postgresql+psycopg://" + value.split("://", 1)[1]
    return value
