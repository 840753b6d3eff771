"""Shared fixtures of the core tests: the hand-made market, databases, fake installed packs.

The pytest plugin :mod:`harmonia.testing` (auto-loaded through its entry point)
provides ``harmonia_plugins``, ``register_pack``, ``harmonia_database``,
``harmonia_cli``, ``postgres_server`` and ``postgres_url``; this file builds on
them. Tests never depend on the packs that happen to be installed: they
register what they need.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

# fixtures/ (the fixture pack ``tiny_market``, ``helpers``) is on pytest's
# ``pythonpath`` (pyproject.toml): --import-mode=importlib keeps test folders off it.
import tiny_market
from helpers import write

from harmonia.plugin.catalog import Catalog
from harmonia.plugin.manager import PluginManager
from harmonia.store import Database
from harmonia.store.facts import copy_store


@pytest.fixture(autouse=True)
def _key_files_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """A PostgreSQL store's suppression key file goes under ``XDG_CONFIG_HOME``: a
    temporary one per test, never the user's (SQLite keeps it beside the store)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.delenv("HARMONIA_KEY_FILE", raising=False)


@pytest.fixture
def tiny(register_pack: Callable[..., Any], harmonia_plugins: PluginManager) -> Catalog:
    """The catalog of the built-ins and the ``tiny_market`` pack (country NL, area cardiology).

    A test that registers more packs builds its own: ``harmonia_plugins.catalog()``.
    """
    register_pack(tiny_market, name="tiny", version="1.0")
    return harmonia_plugins.catalog()


@pytest.fixture
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables printed 250 columns wide, so that assertions see whole cells.

    Why both: rich fixes the console width when harmonia.cli.render is first
    imported if COLUMNS is set then, and reads COLUMNS on each print otherwise.
    """
    from harmonia.cli import render

    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr(render.stdout, "width", 250)


# --- databases ----------------------------------------------------------------------

#: Each test of a store runs on SQLite, then PostgreSQL; both are ``store`` tests
#: (out of the fast lane), PostgreSQL's also ``postgres``.
STORES = [
    pytest.param("sqlite", marks=pytest.mark.store),
    pytest.param("postgresql", marks=[pytest.mark.store, pytest.mark.postgres]),
]
#
# Migrating a new database takes a second or two; the tests need hundreds. A
# migrated template is made once per session and each test gets a copy (for
# SQLite, harmonia.testing's ``sqlite_template`` and ``harmonia_database``).


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[str]:
    """A migrated PostgreSQL database that new test databases are created from."""
    name = f"harmonia_template_{uuid.uuid4().hex[:12]}"
    _postgres_admin(postgres_server, f'CREATE DATABASE "{name}"')
    database = Database(_postgres_url(postgres_server, name))
    database.upgrade()
    database.engine.dispose()  # a template must have no open connections
    yield name
    _postgres_admin(postgres_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _postgres_copy(server: str, template: str) -> Iterator[str]:
    name = f"harmonia_test_{uuid.uuid4().hex[:12]}"
    _postgres_admin(server, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _postgres_url(server, name)
    finally:
        _postgres_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_admin(server: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(statement)


def _postgres_url(server: str, name: str) -> str:
    return f"{server.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)


def _load_h1(url: str) -> None:
    from helpers import load, tiny_catalog

    results = load(url, tiny_catalog(), tiny_market.DATA / "h1", country="NL")
    assert all(result.rows_quarantined == 0 for result in results)


@pytest.fixture(scope="session")
def sqlite_h1(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """A SQLite store holding the tiny market's 2027-H1 data, to copy."""
    path = tmp_path_factory.mktemp("h1") / "harmonia.db"
    shutil.copyfile(sqlite_template, path)
    _load_h1(f"sqlite:///{path}")
    return path


@pytest.fixture
def h1(harmonia_database: str, sqlite_h1: Path) -> str:
    """This test's SQLite store, holding the tiny market's 2027-H1 data (a copy)."""
    from harmonia.store.facts import copy_store

    copy_store(sqlite_h1, Path(harmonia_database.removeprefix("sqlite:///")))
    return harmonia_database


@pytest.fixture(scope="session")
def postgres_h1(postgres_server: str, postgres_template: str) -> Iterator[str]:
    """A PostgreSQL store holding the tiny market's 2027-H1 data, to create copies from."""
    with _postgres_copy(postgres_server, postgres_template) as url:
        _load_h1(url)
        name = url.rsplit("/", 1)[1]
        _postgres_admin(  # a template must have no open connections
            postgres_server,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
        )
        yield name


@pytest.fixture(params=STORES)
def universe(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store holding the tiny market's 2027-H1 data: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "harmonia.db"
        copy_store(request.getfixturevalue("sqlite_h1"), path)
        yield f"sqlite:///{path}"
        return
    server, template = (request.getfixturevalue(n) for n in ("postgres_server", "postgres_h1"))
    with _postgres_copy(server, template) as url:
        yield url


@pytest.fixture(params=STORES)
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated database: SQLite, then the PostgreSQL test server."""
    if request.param == "sqlite":
        yield request.getfixturevalue("harmonia_database")
        return
    server, template = (
        request.getfixturevalue(n) for n in ("postgres_server", "postgres_template")
    )
    with _postgres_copy(server, template) as url:
        yield url


@pytest.fixture(scope="module", params=STORES)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like ``database_url``, shared by the tests of one module (they must only read it)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("store") / "harmonia.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server, template = (
        request.getfixturevalue(n) for n in ("postgres_server", "postgres_template")
    )
    with _postgres_copy(server, template) as url:
        yield url


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """Make a module look like an installed pack: a dist-info folder on ``sys.path``.

    ``installed("harmonia-good", "good", "good_pack", source)`` writes
    ``good_pack.py`` and ``harmonia_good-1.0.dist-info`` declaring the entry
    point ``good = good_pack`` in the group ``harmonia``, exactly what pip
    leaves behind, so :mod:`importlib.metadata` finds it.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    created: list[str] = []

    def install(
        distribution: str, entry_point: str, module: str, source: str, version: str = "1.0"
    ) -> Path:
        write(site / f"{module}.py", source)
        info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
        write(
            info / "METADATA", f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
        )
        write(info / "entry_points.txt", f"[harmonia]\n{entry_point} = {module}\n")
        importlib.invalidate_caches()
        created.append(module)
        return site

    yield install
    for module in created:
        sys.modules.pop(module, None)
