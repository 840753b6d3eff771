"""Testing packs: helpers that import without pytest, and a pytest plugin.

A public module for pack authors. The pytest plugin (:mod:`harmonia.testing.plugin`,
loaded by pytest through the ``pytest11`` entry point, never by this module)
provides the fixtures ``harmonia_packs``, ``harmonia_catalog``,
``harmonia_app``, ``harmonia_plugins``, ``register_pack``, ``harmonia_cli``,
``harmonia_database``, ``postgres_server`` and ``postgres_url``; this module
itself needs no pytest:

    import harmonia_fr
    from harmonia.testing import module_pack

    @pytest.fixture
    def harmonia_packs():          # in the pack's conftest.py
        return [harmonia_fr]

    def test_the_profile_loads(harmonia_catalog):
        assert "FR" in harmonia_catalog.country_profiles

    def test_my_source(register_pack, harmonia_plugins):
        register_pack(module_pack("demo", harmonia_data_sources=lambda: [my_source]))
        assert "my-source" in harmonia_plugins.catalog().data_sources
"""

from __future__ import annotations

from typing import Any, TypeVar

from harmonia.plugin.manager import PluginManager, module_pack

T = TypeVar("T")

#: Where the PostgreSQL test server is (the default below when unset).
POSTGRES_ENV = "HARMONIA_TEST_POSTGRES"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"

__all__ = [
    "DEFAULT_POSTGRES",
    "POSTGRES_ENV",
    "definition",
    "module_pack",
    "pack_problems",
    "query_store",
]


def definition(cls: type[T], data: dict[str, Any], *, where: str = "test data") -> T:
    """A definition from plain data, as a TOML file would give it, checked the same way
    (every problem in one :class:`~harmonia.DefinitionError`):
    ``definition(Questionnaire, {"id": "onco-profile", ...})``."""
    from harmonia.definitions import structure

    return structure(data, cls, where=where)


def pack_problems(pack: Any, *, name: str | None = None) -> list[str]:
    """Everything wrong with a pack, as the catalog and a cycle would see it; ``[]`` if nothing.

    The pack is registered alone (next to the built-ins) in a fresh plugin
    manager, so the answer does not depend on what else is installed. The
    problems are the pack's refusal (a misspelled hook), every definition the
    catalog rejects (with its file and position), rule sets whose rules cannot
    be reached or read unknown dimensions, and, per therapy area, a strategy
    variant that leaves one of the rule set's segments without a strategy or
    names a segment that does not exist. A pack's own test is then one line::

        def test_pack_is_consistent():
            assert pack_problems(harmonia_mypack) == []
    """
    from harmonia.packkit import registered_problems

    manager = PluginManager.discover(strict=False, entry_points=False)
    info = manager.register(pack, name=name, distribution=f"test-{name or 'pack'}")
    return registered_problems(manager, info)


def query_store(url: str, sql: str) -> list[dict[str, Any]]:
    """The rows of a SQL query on the store at ``url``, as dicts, facts included.

    The embedded store keeps facts (``metric``, ``response``, ``answer``, and
    the assignments' ``inputs``) in Parquet files beside the SQLite file: a
    query naming one runs in DuckDB, over the current facts and a copy of the
    other tables it names. Other queries run in the database.
    """
    import re

    from harmonia.compute import duckdb_connection
    from harmonia.store import Database
    from harmonia.store import assignments as stored
    from harmonia.store.bulk import BulkConnection
    from harmonia.store.facts import FACT_TABLES, facts_of

    database = Database(url)
    facts = facts_of(database)
    named = set(re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", sql, re.I))
    apart = set(FACT_TABLES) | {"assignment"}
    with BulkConnection(database) as bulk:
        if not facts.external or not named & apart:
            return bulk.read(sql).to_pylist()
        duck = duckdb_connection()
        try:
            for table in named - set(FACT_TABLES):
                rows = (
                    stored.every_assignment(bulk)
                    if table == "assignment"
                    else bulk.read(f"SELECT * FROM {table}")
                )
                duck.register(table, rows)
            facts.select_into(bulk, duck, "result", sql)
            return duck.sql("SELECT * FROM main.result").to_arrow_table().to_pylist()
        finally:
            duck.close()
