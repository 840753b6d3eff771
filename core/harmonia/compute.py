"""The embedded vectorized engine: one way to open DuckDB for harmonia's work."""

from __future__ import annotations

import threading
from typing import Any

#: DuckDB spills to disk beyond this, so a 10M-customer load or cycle stays
#: within a few GB however large the universe.
MEMORY_LIMIT = "4GB"


def duckdb_connection() -> Any:
    """A fresh in-memory DuckDB connection with harmonia's limits."""
    import duckdb

    return duckdb.connect(config={"memory_limit": MEMORY_LIMIT})


_scratch = threading.local()


def scratch_connection() -> Any:
    """This thread's DuckDB connection for statements that leave nothing behind
    (a ``COPY`` of a registered Arrow table to a file).

    Why: opening a connection costs tens of milliseconds, and a cycle or the demo
    writes dozens of small files. Callers unregister what they register; anything
    that creates tables opens its own connection with :func:`duckdb_connection`.
    """
    connection = getattr(_scratch, "connection", None)
    if connection is None:
        connection = _scratch.connection = duckdb_connection()
    return connection
