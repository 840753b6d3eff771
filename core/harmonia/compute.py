"""The embedded vectorized engine: one way to open DuckDB for harmonia's work."""

from __future__ import annotations

from typing import Any

#: DuckDB spills to disk beyond this, so a 10M-customer load or cycle stays
#: within a few GB however large the universe.
MEMORY_LIMIT = "4GB"


def duckdb_connection() -> Any:
    """A fresh in-memory DuckDB connection with harmonia's limits."""
    import duckdb

    return duckdb.connect(config={"memory_limit": MEMORY_LIMIT})
