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

from harmonia.errors import HarmoniaError

#: Built-in commands: name -> "module:attribute", imported on first use.
COMMANDS = {
    "demo": "harmonia.cli.demo:demo",
    "load": "harmonia.cli.load:load",
    "quarantine": "harmonia.cli.quarantine:quarantine",
    "cycle": "harmonia.cli.cycle:cycle",
    "explain": "harmonia.cli.explain:explain",
    "rules": "harmonia.cli.rules:rules",
    "plugins": "harmonia.cli.plugins:plugins",
    "db": "harmonia.cli.db:db",
}

#: Set by :mod:`harmonia.testing` so the CLI sees exactly a test's packs.
_plugins_for_tests: Any = None


class App:
    """What every command shares: settings, the installed packs, the database."""

    def __init__(self, database: str | None, strict: bool):
        self.database_url = database
        self.strict = strict
        self._warned = False

    @cached_property
    def plugins(self) -> Any:
        from harmonia.plugins import Plugins

        plugins = _plugins_for_tests or Plugins.discover(strict=self.strict or None)
        return plugins

    def warn_plugins(self) -> None:
        """Print pack warnings once, on stderr, so stdout stays clean for --json."""
        if self._warned:
            return
        self._warned = True
        for warning in self.plugins.warnings:
            click.secho(f"warning: {warning}", fg="yellow", err=True)

    @cached_property
    def database(self) -> Any:
        from harmonia.store import Database

        database = Database(self.database_url)
        database.ensure_schema()
        return database


class HarmoniaGroup(click.Group):
    """Lazily imported built-ins, pack commands, and friendly errors."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self._packs_registered = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._register_packs(ctx)
        return sorted({*self.lazy, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            module, _, attribute = self.lazy[name].partition(":")
            self.commands[name] = getattr(importlib.import_module(module), attribute)
        command = super().get_command(ctx, name)
        if command is None:
            self._register_packs(ctx)
            command = super().get_command(ctx, name)
        return command

    def _register_packs(self, ctx: click.Context) -> None:
        if self._packs_registered:
            return
        self._packs_registered = True
        app = ctx.find_object(App)
        if app is None:
            return
        for name in self.lazy:  # pack commands may not shadow built-ins, loaded or not
            self.get_command(ctx, name)
        app.plugins.register_commands(self)
        app.warn_plugins()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HarmoniaError as error:
            raise click.ClickException(error.render()) from None


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
    ctx.obj = App(database, strict)


def echo_json(data: Any) -> None:
    """Machine-readable output for --json: one JSON document on stdout."""
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def app() -> App:
    """The current command's :class:`App`."""
    return click.get_current_context().find_object(App)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
