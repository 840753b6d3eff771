"""The ``harmonia`` command line.

Subcommands are imported only when used (so ``harmonia --help`` stays fast);
packs add theirs through ``harmonia_register_commands``. Errors a user can
cause are printed as one clear message, never a traceback.
"""

from __future__ import annotations

import importlib
import json
import sys
from functools import cached_property
from typing import Any

import click

from harmonia.errors import HarmoniaError, NotFoundError, PathError

#: Built-in commands: name -> "module:attribute", imported on first use.
COMMANDS = {
    "demo": "harmonia.cli.demo:demo",
    "load": "harmonia.cli.load:load",
    "quarantine": "harmonia.cli.quarantine:quarantine",
    "cycle": "harmonia.cli.cycle:cycle",
    "explain": "harmonia.cli.explain:explain",
    "questionnaire": "harmonia.cli.questionnaire:questionnaire",
    "rules": "harmonia.cli.rules:rules",
    "plugins": "harmonia.cli.plugins:plugins",
    "db": "harmonia.cli.db:db",
}

#: Set by :mod:`harmonia.testing` so the CLI sees exactly a test's packs.
_plugins_for_tests: Any = None


class App:
    """What every command shares: settings, the installed packs, the database."""

    def __init__(self, database: str | None, strict: bool):
        self._database_option = database
        self.strict = strict
        self._warned = 0
        self.packs_registered = False

    @cached_property
    def workspace(self) -> Any:
        """The folder's ``harmonia.toml`` settings (empty when there is none)."""
        from harmonia import workspace

        return workspace.find()

    @cached_property
    def database_url(self) -> str | None:
        return self._database_option or self.workspace.database

    @cached_property
    def plugins(self) -> Any:
        from harmonia.plugins import Plugins
        from harmonia.workspace import check_required

        check_required(self.workspace)
        plugins = _plugins_for_tests or Plugins.discover(strict=self.strict or None)
        self.__dict__["plugins"] = plugins
        self.warn_plugins()
        return plugins

    def warn_plugins(self) -> None:
        """Print pack warnings not yet shown, on stderr, so stdout stays clean for --json.

        Called when the packs load and again when a command ends, since some
        warnings (a rejected rule set) appear only when a registry is first used.
        """
        if "plugins" not in self.__dict__:
            return
        warnings = self.plugins.warnings
        for warning in warnings[self._warned :]:
            click.secho(f"warning: {warning}", fg="yellow", err=True)
        self._warned = len(warnings)

    @cached_property
    def database(self) -> Any:
        from harmonia.store import Database
        from harmonia.workspace import check_required

        check_required(self.workspace)
        database = Database(self.database_url)
        database.ensure_schema()
        return database

    @property
    def existing_database(self) -> Any:
        """The database, for commands that only read it.

        A SQLite file that does not exist is then a mistyped path, not a new
        empty store to report "no cycles yet" from.
        """
        from harmonia.store import Database

        path = Database(self.database_url).sqlite_path
        if path is not None and not path.exists():
            raise NotFoundError(
                f"no database at {path}",
                fix="check --database (or HARMONIA_DATABASE_URL, harmonia.toml); "
                "`harmonia load` and `harmonia demo` create one",
            )
        return self.database


class HarmoniaGroup(click.Group):
    """Lazily imported built-ins, pack commands, and friendly errors."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self._pristine: dict[str, dict[str, click.Command]] | None = None

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._register_packs(ctx)
        return sorted({*self.lazy, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        self._load(name)
        # Packs may add commands, or subcommands to a built-in group; loading
        # them here also shows a broken pack's warning whatever the command.
        self._register_packs(ctx)
        return super().get_command(ctx, name)

    def _load(self, name: str) -> None:
        if name in self.lazy and name not in self.commands:
            module, _, attribute = self.lazy[name].partition(":")
            self.commands[name] = getattr(importlib.import_module(module), attribute)

    def _register_packs(self, ctx: click.Context) -> None:
        """Add the packs' commands once per run, to the built-ins as they shipped.

        Commands live on module-level click objects; restoring them first keeps
        one run's packs (one test's, in a test session) out of the next.
        """
        app = _app_of(ctx)
        if app.packs_registered:
            return
        app.packs_registered = True
        if self._pristine is None:
            for name in self.lazy:  # pack commands may not shadow built-ins, loaded or not
                self._load(name)
            self._pristine = {"": dict(self.commands)} | {
                name: dict(command.commands)
                for name, command in self.commands.items()
                if isinstance(command, click.Group)
            }
        self.commands = dict(self._pristine[""])
        for name, commands in self._pristine.items():
            if name:
                self.commands[name].commands = dict(commands)  # type: ignore[attr-defined]
        app.plugins.register_commands(self)
        app.warn_plugins()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HarmoniaError as error:
            raise click.ClickException(error.render()) from None
        except OSError as error:
            # Paths come from the user: an output folder that is a file, a
            # read-only place, a full disk. Not a bug, so no traceback.
            raise click.ClickException(PathError.from_os_error(error).render()) from None
        finally:
            if isinstance(ctx.obj, App):
                ctx.obj.warn_plugins()


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
        root.obj = App(root.params.get("database"), bool(root.params.get("strict")))
    return root.obj


def echo_json(data: Any) -> None:
    """Machine-readable output for --json: one JSON document on stdout."""
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def app() -> App:
    """The current command's :class:`App`."""
    return click.get_current_context().find_object(App)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
