"""Shared fixtures for the rules layer: a sample rule set and SQL engines to run conditions in."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import duckdb
import pytest

from harmonia.definitions import (
    AttributeFeature,
    Dimension,
    Matrix,
    MatrixAxis,
    MetricFeature,
    Missing,
    ProfileFeature,
    QuantileFeature,
    Rule,
    RuleSet,
)

#: Levels the plugin manager would pass for the profile feature ``adoption``.
ADOPTION = ("aware", "trial", "regular", "advocate")

#: SQL column types for the feature types, per engine.
SQL_TYPES = {
    "duckdb": {"text": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN"},
    "sqlite": {"text": "TEXT", "integer": "INTEGER", "number": "REAL", "boolean": "INTEGER"},
    "postgres": {
        "text": "TEXT",
        "integer": "BIGINT",
        "number": "DOUBLE PRECISION",
        "boolean": "BOOLEAN",
    },
}


def _make_rule_set(
    *rules: Rule, segments: Sequence[str] = ("high", "mid", "low"), **extra: Any
) -> RuleSet:
    """A small oncology rule set whose ``segment`` dimension has ``rules``."""
    fields: dict[str, Any] = {
        "name": "onc-test",
        "therapy_area": "oncology",
        "version": "1",
        "features": (
            QuantileFeature("decile", metric="trx", bins=10),
            ProfileFeature(
                "adoption", questionnaire="adopt", dimension="stage", missing=Missing(unknown=True)
            ),
            AttributeFeature("specialty", column="specialty", levels=("onc", "hem")),
            MetricFeature("potential", metric="trx"),
        ),
        "segment": Dimension(segments=tuple(segments), fallback=segments[-1], rules=rules),
    }
    fields.update(extra)
    return RuleSet(**fields)


@pytest.fixture
def make_rule_set() -> Callable[..., RuleSet]:
    """``make_rule_set(*rules, segments=..., **fields)``: a small oncology rule set."""
    return _make_rule_set


@pytest.fixture
def sample_rule_set() -> RuleSet:
    """A healthy rule set: rules, a needs dimension, and a tier matrix."""
    return _make_rule_set(
        Rule("champion", "decile >= 8 AND adoption IN ('regular', 'advocate')", "high"),
        Rule("grow", "decile >= 8 OR potential > 1000", "mid"),
        Rule("haem", "specialty = 'hem' AND decile BETWEEN 4 AND 7", "mid"),
        needs=Dimension(
            segments=("outcome", "efficiency", "unknown"),
            fallback="unknown",
            rules=(
                Rule("outcome", "adoption = 'advocate'", "outcome"),
                Rule("efficiency", "potential / decile >= 50", "efficiency"),
            ),
        ),
        tier=Dimension(
            segments=("a", "b", "c"),
            fallback="c",
            matrix=Matrix(
                rows=MatrixAxis("decile", ranges=((8, 10), (1, 7))),
                columns=MatrixAxis(
                    "adoption", levels=(("regular", "advocate"), ("aware", "trial"))
                ),
                cells=(("a", "b"), ("b", "")),
            ),
        ),
    )


class Engine:
    """One SQL engine with a temporary ``features`` table, reused across examples."""

    def __init__(
        self, name: str, execute: Callable[..., Any], fetch: Callable[[str], list], mark: str
    ):
        self.name = name
        self._execute = execute
        self._fetch = fetch
        self._mark = mark
        self._columns: dict[str, str] | None = None

    def load(self, types: Mapping[str, str], rows: Sequence[Mapping[str, Any]]) -> None:
        """Fill ``features`` with ``rows``; ``types`` maps columns to feature types."""
        if self._columns != dict(types):
            self._execute("DROP TABLE IF EXISTS features")
            columns = ", ".join(
                f"{name} {SQL_TYPES[self.name][kind]}" for name, kind in types.items()
            )
            self._execute(f"CREATE TEMPORARY TABLE features (id INTEGER, {columns})")
            self._columns = dict(types)
        self._execute("DELETE FROM features")
        if not rows:
            return
        # One statement for all the rows: a statement per row was most of the time
        # the property tests took.
        marks = ", ".join([self._mark] * (len(types) + 1))
        values = ", ".join([f"({marks})"] * len(rows))
        self._execute(
            f"INSERT INTO features (id, {', '.join(types)}) VALUES {values}",
            [
                value
                for index, row in enumerate(rows)
                for value in (index, *(row[n] for n in types))
            ],
        )

    def column(self, sql: str) -> list[Any]:
        """The value of ``sql`` for every row, in row order."""
        return [row[1] for row in self._fetch(f"SELECT id, {sql} FROM features ORDER BY id")]


def _duckdb() -> Iterator[Engine]:
    connection = duckdb.connect(":memory:")
    yield Engine(
        "duckdb",
        lambda sql, params=None: connection.execute(sql, params),
        lambda sql: connection.sql(sql).fetchall(),
        "?",
    )
    connection.close()


def _sqlite() -> Iterator[Engine]:
    connection = sqlite3.connect(":memory:")
    yield Engine(
        "sqlite",
        lambda sql, params=(): connection.execute(sql, params),
        lambda sql: connection.execute(sql).fetchall(),
        "?",
    )
    connection.close()


def _postgres(url: str) -> Iterator[Engine]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        yield Engine(
            "postgres",
            lambda sql, params=None: connection.execute(sql, params),
            lambda sql: connection.execute(sql).fetchall(),
            "%s",
        )


@pytest.fixture(
    scope="session",
    params=["duckdb", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """DuckDB and SQLite in memory, and the PostgreSQL test server (a temporary table)."""
    if request.param == "postgres":
        factory = _postgres(request.getfixturevalue("postgres_server"))
    else:
        factory = {"duckdb": _duckdb, "sqlite": _sqlite}[request.param]()
    yield from factory
