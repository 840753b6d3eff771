"""How DuckDB plans a cycle's query: the estimates that decide its hash tables."""

from __future__ import annotations

import re

import duckdb
from helpers import tiny_catalog

from harmonia.engine.query import CycleQuery
from harmonia.engine.spec import resolve


def _estimated_rows(connection: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The rows DuckDB expects the query to return (its plan's top estimate)."""
    plan = connection.sql(f"EXPLAIN {sql}").fetchall()[0][1]
    return int(re.search(r"~([\d,]+) rows", plan).group(1).replace(",", ""))


def test_duckdb_estimates_a_population_at_its_markets_customers() -> None:
    """A population of 10k is planned as 10k, not as a fifth of it per exclusion
    (merged ids, objections): at a fifth, DuckDB built its hash tables over the
    population's wide rows instead of over the features joined to it."""
    query = CycleQuery(resolve(tiny_catalog(), "NL", "cardiology", "2027-H1"), cycle_id=1)
    connection = duckdb.connect()
    try:
        connection.execute(
            "CREATE TABLE customer AS SELECT i AS id, 'NL' AS country, 'HCP' AS type, "
            "'' AS first_name, '' AS last_name, 'cardiology' AS specialty, "
            "'' AS postal_code, '' AS city, 'T1' AS territory FROM range(10000) r(i)"
        )
        connection.execute(
            "CREATE TABLE golden_value (customer_id BIGINT, attribute VARCHAR, value VARCHAR)"
        )
        connection.execute("CREATE TABLE customer_redirect (merged_id BIGINT, survivor_id BIGINT)")
        connection.execute("CREATE TABLE objection (customer_id BIGINT)")
        assert connection.sql(f"SELECT COUNT(*) FROM ({query.population()})").fetchall() == [
            (10000,)
        ]
        assert _estimated_rows(connection, query.population()) == 10000
    finally:
        connection.close()
