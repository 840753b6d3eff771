"""The pytest plugin for pack authors (and harmonia's own tests).

Installed with harmonia (entry point ``pytest11``), it provides the fixtures:

``harmonia_plugins``
    A fresh :class:`~harmonia.plugin.manager.PluginManager` with the
    built-ins only: tests never depend on whatever else happens to be
    installed. ``harmonia_plugins.catalog()`` is what the packs provide,
    checked (build it after registering the test's packs).
``register_pack``
    Register a module (or a :func:`harmonia.module_pack`) for one
    test: ``register_pack(harmonia_fr)``.
``harmonia_packs``
    The packs ``harmonia_catalog`` registers; override it in a pack's
    ``conftest.py`` (``return [harmonia_fr]``); the default is every
    installed pack.
``harmonia_catalog``
    The :class:`~harmonia.plugin.catalog.Catalog` of the built-ins and
    ``harmonia_packs`` (under their installed names and versions), strict:
    any pack problem fails the test.
``harmonia_app``
    A :class:`harmonia.Harmonia` over ``harmonia_catalog`` and a fresh
    SQLite store (``harmonia_database``), current for the test.
``harmonia_cli``
    Run the CLI through click's runner against ``harmonia_plugins`` and a
    fresh SQLite database: ``harmonia_cli("plugins", "list", "--json")``.
``harmonia_database``
    The URL of a fresh, migrated SQLite database in a temporary directory
    (a copy of ``sqlite_template``, migrated once per session).
``postgres_url``
    The URL of a fresh PostgreSQL database, dropped after the test. The
    server defaults to ``postgresql://postgres@127.0.0.1:5432/test``
    (``HARMONIA_TEST_POSTGRES`` overrides). When it cannot be reached the test
    is skipped, except when ``CI`` is set: then it fails.

and marks every test by what it needs, for a fast lane of unit tests
(``pytest -m "not slow and not postgres and not store and not cli"``):

``store``
    the test uses a database (any fixture built on ``sqlite_template`` or
    ``postgres_server``);
``cli``
    the test runs the command line (``harmonia_cli``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from harmonia.plugin.manager import ENTRY_POINT_GROUP, PackInfo, PluginManager
from harmonia.testing import DEFAULT_POSTGRES, POSTGRES_ENV

if TYPE_CHECKING:
    from harmonia.app import Harmonia
    from harmonia.plugin.catalog import Catalog

#: Markers applied by the fixtures a test uses (see the module documentation).
MARKERS = {
    "store": ("sqlite_template", "postgres_server"),
    "cli": ("harmonia_cli",),
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "store: uses a database (set by harmonia.testing)")
    config.addinivalue_line("markers", "cli: runs the command line (set by harmonia.testing)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in MARKERS.items():
            if used.intersection(fixtures):
                item.add_marker(marker)


@pytest.fixture
def harmonia_plugins(monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    """A plugin manager with the built-ins only, not strict."""
    monkeypatch.delenv("HARMONIA_STRICT_PLUGINS", raising=False)
    return PluginManager.discover(strict=False, entry_points=False)


@pytest.fixture
def register_pack(harmonia_plugins: PluginManager) -> Callable[..., PackInfo]:
    """Register a pack module for this test only; returns its :class:`PackInfo`.

    A pack the manager refuses fails the test with the manager's reason,
    unless the test expects it (``refused=True``: then ``info.error`` says why).
    """

    def register(
        plugin: Any, *, name: str | None = None, version: str = "0", refused: bool = False
    ) -> PackInfo:
        info = harmonia_plugins.register(
            plugin,
            name=name,
            distribution=f"test-{name or getattr(plugin, '__name__', 'pack')}",
            version=version,
        )
        if (info.error is not None) != refused:
            pytest.fail(
                f"pack {info.name!r} was {'registered' if refused else 'refused'}: "
                f"{info.error or 'no error'}"
            )
        return info

    return register


@pytest.fixture
def harmonia_packs() -> Iterable[Any] | None:
    """The packs :func:`harmonia_catalog` registers: override it in a pack's conftest.

    A list of pack modules (``[harmonia_fr]``), each registered under its
    installed entry point's name, distribution and version (``test-<module>``
    when it is not installed); None (the default) for every installed pack.
    """
    return None


@pytest.fixture
def harmonia_catalog(
    harmonia_plugins: PluginManager, harmonia_packs: Iterable[Any] | None
) -> Catalog:
    """The catalog of the built-ins, ``harmonia_packs`` and any pack the test registered
    before asking for it: strict, so any problem of any pack fails the test with it."""
    if harmonia_packs is None:
        harmonia_plugins.load_entry_points()
    else:
        for module in harmonia_packs:
            name, distribution, version = _installed_as(module)
            harmonia_plugins.register(module, name=name, distribution=distribution, version=version)
    catalog = harmonia_plugins.catalog()
    if catalog.warnings:
        pytest.fail("the packs have problems:\n" + "\n".join(catalog.warnings))
    return catalog


@pytest.fixture
def harmonia_app(harmonia_catalog: Catalog, harmonia_database: str) -> Iterator[Harmonia]:
    """The application over ``harmonia_catalog`` and a fresh SQLite store, current
    (``harmonia.current_app()``) for the test: ``harmonia_app.loads.run(...)``."""
    from harmonia.app import Harmonia

    app = Harmonia(harmonia_database, harmonia_catalog, actor="test")
    with app.current():
        yield app


def _installed_as(module: Any) -> tuple[str, str, str]:
    """(name, distribution, version) of the installed entry point that loads ``module``."""
    import importlib.metadata

    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.module == module.__name__ and entry_point.dist is not None:
            return entry_point.name, entry_point.dist.name, entry_point.dist.version
    return module.__name__, f"test-{module.__name__}", "0"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A migrated SQLite database file, made once per session to be copied.

    Why: migrating a new database takes a second or two; a test suite needs hundreds.
    """
    from harmonia.store import Database

    path = tmp_path_factory.mktemp("template") / "harmonia.db"
    Database(f"sqlite:///{path}").upgrade()
    return path


@pytest.fixture
def harmonia_database(tmp_path: Any, sqlite_template: Any) -> str:
    """A fresh SQLite database URL, schema migrated to the latest revision (a copy)."""
    import shutil

    path = tmp_path / "harmonia.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def harmonia_cli(
    harmonia_plugins: PluginManager, harmonia_database: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    """Invoke the CLI in-process; returns click's ``Result``.

    The CLI sees exactly ``harmonia_plugins`` (what the test registered) and
    ``harmonia_database``. Pass ``input=`` or ``env=`` as to ``CliRunner.invoke``.
    Progress is off (``HARMONIA_PROGRESS=off``): click's ``result.output`` mixes
    stderr in, where progress would be log lines; ``env=`` turns it back on.
    """
    from click.testing import CliRunner

    from harmonia import cli

    monkeypatch.setenv("HARMONIA_DATABASE_URL", harmonia_database)
    monkeypatch.setenv("HARMONIA_PROGRESS", "off")
    monkeypatch.setattr(cli, "_manager_for_tests", harmonia_plugins)
    runner = CliRunner()

    def invoke(*args: str, **kwargs: Any) -> Any:
        return runner.invoke(cli.main, list(args), catch_exceptions=False, **kwargs)

    return invoke


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server's admin URL, or skip (fail under CI) when unreachable."""
    url = os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES)
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            pass
    except Exception as error:  # no driver, no server: both are the same problem here
        message = f"PostgreSQL is not reachable at {url}: {error}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set, so this fails instead of skipping)")
        pytest.skip(message)
    return url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, as a SQLAlchemy URL."""
    import psycopg

    name = f"harmonia_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = postgres_server.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
