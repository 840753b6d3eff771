"""The application object: harmonia's operations, click-free.

:class:`Harmonia` holds what every operation needs (the database, the
catalog of installed packs, the workspace settings, who is acting) and
offers the operations by product area, one attribute per area::

    app = Harmonia.open()                       # as the CLI would: env, harmonia.toml, packs
    app.loads.run(app.loads.plan([Path("data")]), country="FR")
    result = app.cycles.run(country="FR", therapy_area="oncology", period="2027-H1")
    app.cycles.explain(result.cycle.id, "C0000001").to_json()

Every operation returns results (attrs objects, Arrow tables, plain data)
that the CLI renders and a notebook or a web page can use as they are; none
prints. A new product area is one module under ``harmonia/app/`` with a
class taking the :class:`Harmonia`, and one cached attribute here.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harmonia.errors import ConfigError, NotFoundError
from harmonia.plugin.catalog import Catalog
from harmonia.plugin.types import SourceRequest
from harmonia.workspace import Workspace, check_required

if TYPE_CHECKING:
    from harmonia.app.audit import Audit
    from harmonia.app.customers import Customers
    from harmonia.app.cycles import Cycles
    from harmonia.app.demo import DemoResult
    from harmonia.app.lake import Lake
    from harmonia.app.loads import Loads
    from harmonia.app.markets import Markets
    from harmonia.app.master import Master
    from harmonia.app.packs import Packs
    from harmonia.app.privacy import Privacy
    from harmonia.app.questionnaires import Questionnaires
    from harmonia.app.refinement import Refinement
    from harmonia.app.schema import Schema
    from harmonia.app.strategy import Strategy
    from harmonia.plugin.manager import PluginManager
    from harmonia.store.database import Database
    from harmonia.store.recovery import Recovered

#: The application of the running command (see :func:`current_app`).
_CURRENT: contextvars.ContextVar[Harmonia | None] = contextvars.ContextVar(
    "harmonia_app", default=None
)


class Harmonia:
    """harmonia's operations over one database, one catalog of packs and one workspace.

    ``database`` is a SQLite file (a path, as text or a :class:`~pathlib.Path`),
    a URL (``sqlite:///market.db``, ``postgresql://...``), or None for the
    workspace's, else ``HARMONIA_DATABASE_URL``, else ``./harmonia.db``.
    ``catalog`` is a :class:`Catalog`, or a function that builds it on first
    use; without one (and without a ``manager``) the installed packs are
    discovered on first use, so operations that need no pack (a schema
    upgrade) never import any. ``workspace`` is the ``harmonia.toml`` settings
    (:meth:`open` finds them). ``actor`` names who acts in the audit trail
    (default: ``HARMONIA_ACTOR`` or the login)::

        Harmonia("market.db")                       # the installed packs
        Harmonia("postgresql://analyst@db/harmonia", catalog)
        Harmonia.open()                             # as the CLI: options, env, harmonia.toml
    """

    def __init__(
        self,
        database: str | os.PathLike[str] | None = None,
        catalog: Catalog | Callable[[], Catalog] | None = None,
        workspace: Workspace | None = None,
        *,
        actor: str | None = None,
        manager: PluginManager | None = None,
    ) -> None:
        self.workspace = workspace or Workspace()
        given = os.fspath(database) if database is not None else None
        self.database_url = given or self.workspace.database
        self._catalog = catalog
        if catalog is None and manager is None:
            manager = _Discovery(self.workspace, strict=None)  # type: ignore[assignment]
        self._manager = manager
        self.actor = actor or default_actor()
        #: What opening the store cleaned up after runs that died (see
        #: :mod:`harmonia.store.recovery`); set when the database is first used.
        self.recovered: Recovered | None = None

    @classmethod
    def open(
        cls,
        database: str | os.PathLike[str] | None = None,
        *,
        strict: bool | None = None,
        manager: PluginManager | None = None,
        folder: Path | None = None,
    ) -> Harmonia:
        """The application as a user's environment sets it up.

        The workspace is the ``harmonia.toml`` of ``folder`` (default: the
        current folder) or a parent; ``database`` (else ``HARMONIA_DATABASE_URL``)
        wins over it, as on the command line; the packs are
        the installed ones (``manager`` replaces them, e.g. in tests), checked
        against the workspace's ``required_packs`` before any is used.
        """
        from harmonia import workspace as workspaces
        from harmonia.store.url import DATABASE_ENV

        found = workspaces.find(folder)
        # As on the command line: the option, then the environment, then harmonia.toml.
        database = database or os.environ.get(DATABASE_ENV) or None
        return cls(database, workspace=found, manager=manager or _Discovery(found, strict))

    # -- what every operation shares -----------------------------------------------------

    @property
    def manager(self) -> PluginManager:
        """The plugin manager the catalog is built from (discovered on first use)."""
        if self._manager is None:
            raise RuntimeError("this application was given a catalog, not a plugin manager")
        if isinstance(self._manager, _Discovery):
            self._manager = self._manager.discover()
        check_required(self.workspace)
        return self._manager

    @cached_property
    def catalog(self) -> Catalog:
        """Everything the installed packs provide, built once, checked."""
        if isinstance(self._catalog, Catalog):
            return self._catalog
        if callable(self._catalog):
            return self._catalog()
        return self.manager.catalog()

    @property
    def built_catalog(self) -> Catalog | None:
        """The catalog if it is built already (its warnings are then known), else None."""
        return self.__dict__.get("catalog")

    def commands_catalog(self) -> Catalog:
        """A catalog with the packs' commands, cheap when the full one is not built yet
        (listing commands must not load every definition)."""
        if self.built_catalog is not None or self._manager is None:
            return self.catalog
        return self.manager.catalog(only=["commands"])

    def packs_report_catalog(self) -> Catalog:
        """A catalog that lists conflicts instead of raising them (``plugins list``)."""
        if self._manager is None:
            return self.catalog
        return self.manager.catalog(conflicts="report")

    @cached_property
    def database(self) -> Database:
        """The store, its schema created (or checked current) on first use."""
        from harmonia.store.database import Database
        from harmonia.store.recovery import recover, spill_beside

        check_required(self.workspace)
        database = Database(self.database_url)
        database.ensure_schema()
        self.recovered = recover(database, self.folder)
        spill_beside(database, self.folder)
        return database

    @property
    def folder(self) -> Path:
        """The workspace's folder (of its ``harmonia.toml``), else the current one."""
        return Path(self.workspace.path).parent if self.workspace.path else Path.cwd()

    @property
    def existing_database(self) -> Database:
        """The store, for operations that only read it.

        A SQLite file that does not exist is then a mistyped path, not a new
        empty store to report "no cycles yet" from.
        """
        from harmonia.store.database import Database

        path = Database(self.database_url).sqlite_path
        if path is not None and not path.exists():
            raise NotFoundError(
                f"no database at {path}",
                fix="check --database (or HARMONIA_DATABASE_URL, harmonia.toml); "
                "`harmonia load` and `harmonia demo` create one",
            )
        return self.database

    @property
    def chose_database(self) -> bool:
        """Whether the user named a database (option, environment or workspace)."""
        from harmonia.store.url import DATABASE_ENV

        return bool(self.database_url) or DATABASE_ENV in os.environ

    def user_error(self, error: BaseException) -> ConfigError | None:
        """``error`` as the user's to fix when the store refused what they asked
        (a database they may read but not write, a full disk, DuckDB's memory limit), else None: a bug of harmonia."""
        from harmonia.compute import out_of_memory_error
        from harmonia.store.database import disk_full_error, read_only_error

        # A full disk first: SQLite may then also say it cannot open a file.
        return (
            disk_full_error(error, self.database)
            or read_only_error(error, self.database)
            or out_of_memory_error(error)
        )

    def with_database(self, database: str) -> Harmonia:
        """The same application over another database."""
        other = Harmonia(
            database,
            self.built_catalog or self._catalog,
            self.workspace,
            actor=self.actor,
            manager=self._manager,
        )
        return other

    def source_request(
        self, options: Mapping[str, str], country: str | None = None
    ) -> SourceRequest:
        """The request a load through the installed packs would hand a source.

        For pack commands that drive a source outside ``harmonia load`` (the
        synthetic universe writer, a vendor export): it carries the country's
        profile (when a pack provides it), the installed questionnaires and
        identifier schemes.
        """
        catalog = self.catalog
        code = country.upper() if country else None
        # A market without an installed pack still gets its records, just no conventions.
        return SourceRequest(
            options=dict(options),
            country=code,
            profile=catalog.country_profiles.get(code) if code else None,
            questionnaires=tuple(catalog.questionnaires.values()),
            identifier_schemes=tuple(catalog.identifier_schemes.values()),
        )

    # -- the product areas ---------------------------------------------------------------

    @cached_property
    def loads(self) -> Loads:
        """Loading data into the store, and the rows it quarantined."""
        from harmonia.app.loads import Loads

        return Loads(self)

    @cached_property
    def audit(self) -> Audit:
        """The audit trail: who did what, when, to which subject."""
        from harmonia.app.audit import Audit

        return Audit(self)

    @cached_property
    def customers(self) -> Customers:
        """The harmonized customers as packs read them: a territory's, the territories."""
        from harmonia.app.customers import Customers

        return Customers(self)

    @cached_property
    def cycles(self) -> Cycles:
        """Running, listing, showing, comparing and explaining cycles."""
        from harmonia.app.cycles import Cycles

        return Cycles(self)

    @cached_property
    def markets(self) -> Markets:
        """One therapy area in every market: run, compare (``harmonia markets``)."""
        from harmonia.app.markets import Markets

        return Markets(self)

    @cached_property
    def lake(self) -> Lake:
        """The store's customers and facts as Parquet, where the Spark engine reads them."""
        from harmonia.app.lake import Lake

        return Lake(self)

    @cached_property
    def packs(self) -> Packs:
        """The installed packs, their rule sets, and checks of rule set files."""
        from harmonia.app.packs import Packs

        return Packs(self)

    @cached_property
    def questionnaires(self) -> Questionnaires:
        """Installed questionnaires, validation of files, FHIR interchange."""
        from harmonia.app.questionnaires import Questionnaires

        return Questionnaires(self)

    @cached_property
    def schema(self) -> Schema:
        """The store's schema: its revision, and upgrading it."""
        from harmonia.app.schema import Schema

        return Schema(self)

    @cached_property
    def strategy(self) -> Strategy:
        """Opportunity indices, call plans within capacity, scenarios, actuals, reports."""
        from harmonia.app.strategy import Strategy

        return Strategy(self)

    @cached_property
    def master(self) -> Master:
        """Master data: matching, the review queue, merges, golden records, data quality."""
        from harmonia.app.master import Master

        return Master(self)

    @cached_property
    def privacy(self) -> Privacy:
        """Objections to profiling, erasure, pseudonymised exports."""
        from harmonia.app.privacy import Privacy

        return Privacy(self)

    @cached_property
    def refinement(self) -> Refinement:
        """The cycle lifecycle (feedback, review, approval, publishing) and field refinement."""
        from harmonia.app.refinement import Refinement

        return Refinement(self)

    def demo(self, workdir: Path, **options: Any) -> DemoResult:
        """Cycles of several markets and areas on synthetic data (:func:`~harmonia.app.demo.run_demo`)."""
        from harmonia.app.demo import run_demo

        return run_demo(self, workdir, **options)

    # -- the running application -----------------------------------------------------------

    @contextmanager
    def current(self) -> Iterator[Harmonia]:
        """Make this the application :func:`current_app` returns, within the block (and
        in this thread or task only); blocks nest, the inner one wins until it ends."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)


def current_app() -> Harmonia:
    """The application made current with ``with app.current():`` (the CLI does so for the
    command it runs), else a new one opened from the environment.

    Packs use it in their own commands and helpers: ``current_app().catalog``,
    ``current_app().database``, ``current_app().source_request(...)``.

    "Current" is explicit and scoped: the innermost ``with app.current():`` of
    this thread or asyncio task (a context variable), undone when the block
    ends. Nothing else ever becomes current: the application opened when none
    is current is not kept, so one test's (or one command's) application never
    leaks into the next. A thread started inside the block does not inherit it
    (run it with ``contextvars.copy_context().run``, or pass the application).
    """
    app = _CURRENT.get()
    return app if app is not None else Harmonia.open()


class _Discovery:
    """Discovers the installed packs on first use, after the workspace's requirements pass."""

    def __init__(self, workspace: Workspace, strict: bool | None) -> None:
        self.workspace = workspace
        self.strict = strict

    def discover(self) -> PluginManager:
        from harmonia.plugin.manager import PluginManager

        check_required(self.workspace)  # before any installed pack is imported
        return PluginManager.discover(strict=self.strict)


def default_actor() -> str:
    """Who is running harmonia, for the audit trail: ``HARMONIA_ACTOR``, else the login."""
    import getpass

    if os.environ.get("HARMONIA_ACTOR"):
        return os.environ["HARMONIA_ACTOR"]
    try:
        return getpass.getuser()
    except Exception:  # no user database in some containers
        return "unknown"
