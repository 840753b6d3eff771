"""The ``harmonia`` command line.

Subcommands are imported only when used (so ``harmonia --help`` stays fast);
packs declare theirs as command records (``harmonia_commands``), attached
lazily per run (:mod:`harmonia.cli.lazy`). Errors a user can cause are
printed as one clear message, never a traceback.
"""

from __future__ import annotations

import atexit
import gc
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click

from harmonia.cli.lazy import LazyGroup
from harmonia.errors import HarmoniaError, Interrupted, PathError

if TYPE_CHECKING:
    from harmonia.app import Harmonia

#: Built-in commands: name -> "module:attribute", imported on first use.
COMMANDS = {
    "demo": "harmonia.cli.demo:demo",
    "load": "harmonia.cli.load:load",
    "audit": "harmonia.cli.audit:audit",
    "customer": "harmonia.cli.customer:customer",
    "quarantine": "harmonia.cli.quarantine:quarantine",
    "cycle": "harmonia.cli.cycle:cycle",
    "explain": "harmonia.cli.explain:explain",
    "questionnaire": "harmonia.cli.questionnaire:questionnaire",
    "rules": "harmonia.cli.rules:rules",
    "plugins": "harmonia.cli.plugins:plugins",
    "db": "harmonia.cli.db:db",
    "strategy": "harmonia.cli.strategy:strategy",
    "scenario": "harmonia.cli.scenario:scenario",
    "report": "harmonia.cli.report:report",
    "pack": "harmonia.cli.pack:pack",
    "markets": "harmonia.cli.markets:markets",
    "lake": "harmonia.cli.lake:lake",
    "master": "harmonia.cli.master:master",
    "privacy": "harmonia.cli.privacy:privacy",
    "refinement": "harmonia.cli.refinement:refinement",
    "serve": "harmonia.cli.serve:serve",
}

#: Set by :mod:`harmonia.testing` so the CLI sees exactly a test's packs.
_manager_for_tests: Any = None


class App:
    """What one run of the CLI shares: the application, and the warnings already shown."""

    def __init__(self, database: str | None, strict: bool):
        from harmonia.app import Harmonia

        self.harmonia = Harmonia.open(database, strict=strict or None, manager=_manager_for_tests)
        self._shown: set[str] = set()

    @cached_property
    def _pack_commands(self) -> Any:
        from harmonia.cli.lazy import PackCommands

        # Listing or running a command needs the packs' commands, not every definition.
        catalog = self.harmonia.commands_catalog()
        commands = PackCommands(catalog, _is_builtin, _builtin_groups)
        self.warn([*catalog.warnings, *commands.warnings])
        return commands

    def pack_commands(self) -> Any:
        try:
            return self._pack_commands
        except HarmoniaError as error:
            # Strict mode: a broken pack or a clash of command names stops the run, clearly.
            raise click.ClickException(error.render()) from None

    def warn(self, warnings: Any) -> None:
        """Print warnings not yet shown, on stderr, so stdout stays clean for --json."""
        for warning in warnings:
            if warning not in self._shown:
                self._shown.add(warning)
                click.secho(f"warning: {warning}", fg="yellow", err=True)

    def mark_shown(self, warnings: Any) -> None:
        """Warnings a command showed itself (``plugins list``): no notice repeats them."""
        self._shown.update(warnings)

    def report_recovery(self) -> None:
        """What opening the store cleaned up after runs that died, on stderr."""
        recovered = self.harmonia.recovered
        for message in recovered.messages() if recovered else ():
            click.secho(f"cleaned up: {message}", fg="yellow", err=True)

    def warn_catalog(self) -> None:
        """One line about the catalog's problems (a rejected rule set, a failing hook),
        once it is built: ``harmonia plugins list`` shows each in full."""
        built = self.harmonia.built_catalog
        new = [w for w in built.warnings if w not in self._shown] if built is not None else []
        if not new:
            return
        self.mark_shown(new)
        first = new[0].splitlines()[0]
        first = first if len(first) <= 120 else first[:117] + "..."
        count = f"{len(new)} problem{'s' if len(new) != 1 else ''}"
        click.secho(
            f"warning: installed packs have {count} ({first}); `harmonia plugins list` shows them",
            fg="yellow",
            err=True,
        )


def _click_error(error: HarmoniaError) -> click.ClickException:
    """The message click prints for ``error``, with its exit code (130: interrupted)."""
    exception = click.ClickException(error.render())
    exception.exit_code = getattr(error, "exit_code", 1)
    return exception


def _builtin_groups() -> list[str]:
    """The core's groups, which packs may add commands to."""
    return [name for name in COMMANDS if isinstance(main.builtin(name), click.Group)]


def _is_builtin(key: tuple[str, str]) -> bool:
    """Whether the core owns a command: packs may not replace it."""
    group, name = key
    if not group:
        return name in COMMANDS
    if group not in COMMANDS:
        return False
    command = main.builtin(group)
    return isinstance(command, click.Group) and name in command.commands


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Python's cycle collector run after 200,000 new objects instead of 700,
    and kept off the interpreter's teardown at exit.

    Why: a command starts by importing its libraries (SQLAlchemy, pyarrow,
    DuckDB, sqlglot), harmonia and the installed packs: about a quarter of a
    million objects that live until the process ends. The default collector
    traverses them again and again and frees next to nothing: ~0.2 s of CPU of
    a cycle run at 1M (one collection instead of 440), the rows themselves
    being Arrow buffers it never sees. mypy tunes its collector the same way.
    At exit, tearing the interpreter down then frees every module's objects
    through the collector: ~0.5 s more (see :func:`_quick_teardown`).
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(200_000, 30, 30)
    atexit.unregister(_quick_teardown)  # once, however often the script is called
    atexit.register(_quick_teardown)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _quick_teardown() -> None:
    """At exit: collect what is garbage now, then keep every live object out of
    the collector, so the interpreter's teardown does not traverse and free them
    one by one (the process ends; its memory goes back whole).

    Whatever the command dropped is finalized as usual, since it is collected
    first; objects still alive at exit were never promised finalizers by Python.
    The other exit handlers, registered before, still run after this one.
    """
    gc.collect()
    gc.freeze()


class HarmoniaGroup(LazyGroup):
    """The root: lazily imported built-ins, pack commands, and friendly errors."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # The console script (click's test runner calls main(), so tests keep
        # the interpreter's defaults).
        with _fewer_collections():
            return super().__call__(*args, **kwargs)

    def _path(self, ctx: click.Context) -> str:
        return ""

    def _pack_commands(self, ctx: click.Context) -> Any:
        return _app_of(ctx).pack_commands()

    def invoke(self, ctx: click.Context) -> Any:
        app = _app_of(ctx)
        try:
            with app.harmonia.current():
                return super().invoke(ctx)
        except HarmoniaError as error:
            raise _click_error(error) from None
        except KeyboardInterrupt:
            # Ctrl-C: the shell's convention (130), not click's "Aborted!" (1).
            raise _click_error(Interrupted("interrupted")) from None
        except OSError as error:
            # Paths come from the user: an output folder that is a file, a
            # read-only place, a full disk. Not a bug, so no traceback.
            raise click.ClickException(PathError.from_os_error(error).render()) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: already a message for the user
        except Exception as error:
            # A store the user may read but not write: the driver's refusal is
            # theirs to fix, not a bug of harmonia.
            try:
                refused = app.harmonia.user_error(error)
            except HarmoniaError:  # the store cannot even be opened: the error stands
                refused = None
            if refused is None:
                raise
            raise _click_error(refused) from None
        finally:
            app.warn_catalog()
            app.report_recovery()


@click.group(
    cls=HarmoniaGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--database",
    "-d",
    envvar="HARMONIA_DATABASE_URL",
    metavar="URL",
    help="The harmonized database: a SQLite file or a postgresql:// URL "
    "[env HARMONIA_DATABASE_URL; default ./harmonia.db].",
)
@click.option(
    "--strict",
    is_flag=True,
    envvar="HARMONIA_STRICT_PLUGINS",
    help="Make a broken pack fatal instead of a warning [env HARMONIA_STRICT_PLUGINS].",
)
@click.version_option(package_name="harmonia", message="harmonia %(version)s")
@click.pass_context
def main(ctx: click.Context, database: str | None, strict: bool) -> None:
    """harmonia: harmonized customer segmentation and targeting.

    One cycle = one country x one therapy area x one period: load customer
    data, score profiling questionnaires, apply the therapy area's rules,
    pull unchanged customers through, plan engagement and publish target
    lists. Start with `harmonia demo`.
    """
    _app_of(ctx)


def _app_of(ctx: click.Context) -> App:
    """The run's App; commands are resolved before the group's callback runs."""
    root = ctx.find_root()
    if not isinstance(root.obj, App):
        try:
            root.obj = App(root.params.get("database"), bool(root.params.get("strict")))
        except HarmoniaError as error:
            # A broken harmonia.toml, a refused requirement: before any command runs.
            raise click.ClickException(error.render()) from None
    return root.obj


def echo_json(data: Any) -> None:
    """Machine-readable output for --json: one JSON document on stdout."""
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def app_of_run() -> App:
    """The running command's :class:`App` (its application and the warnings shown)."""
    return click.get_current_context().find_object(App)


def app() -> Harmonia:
    """The current command's application (:class:`harmonia.app.Harmonia`)."""
    return app_of_run().harmonia


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
