"""Command groups that attach commands lazily: the core's own, and the packs'.

Packs declare commands as :class:`~harmonia.plugin.types.Command` records
(``harmonia_commands``). A group lists them from the records (their one-line
help), imports one only when it runs or its own help is shown, and never
adds it to the shared click group: what one run (one test) attaches is gone
in the next. A pack may not shadow a built-in command, and a command that
fails to import becomes a stub that says why.

The deprecated ``harmonia_register_commands`` still works: each run hands the
packs a stand-in root whose groups collect what they add (with a
:class:`~harmonia.errors.HarmoniaDeprecationWarning` from the manager).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import click

from harmonia.errors import ConflictError, PluginError
from harmonia.plugin.switches import ALLOW_ENV

if TYPE_CHECKING:
    from harmonia.plugin.catalog import Catalog
    from harmonia.plugin.manager import PackInfo
    from harmonia.plugin.types import Command

#: (group name, "" at the top; command name)
Key = tuple[str, str]


def import_object(path: str) -> Any:
    """``"module:attribute"`` -> the object."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


class PackCommands:
    """The packs' commands of one run, by where they sit, with the warnings they caused.

    ``builtin`` says which keys the core owns; a pack command on one of them
    is refused with a warning. ``groups`` gives the core's groups packs may add to
    (asked only for the deprecated hook, which needs every group imported).
    """

    def __init__(
        self,
        catalog: Catalog,
        builtin: Callable[[Key], bool],
        groups: Callable[[], Iterable[str]],
    ) -> None:
        self.groups = groups
        self.strict = catalog.strict
        self.warnings: list[str] = []
        self._declared: dict[Key, Command] = {}
        self._loaded: dict[Key, click.Command] = {}
        for key, record in catalog.commands.items():
            if builtin(key):
                self._shadowing(record.provenance, key)
            else:
                self._declared[key] = record
        for pack, register in catalog.registrars:
            self._register_legacy(pack, register, builtin)

    def names(self, group: str) -> list[str]:
        return sorted({name for g, name in (*self._declared, *self._loaded) if g == group})

    def short_help(self, key: Key) -> str | None:
        """The one line to list a command by, without importing it."""
        record = self._declared.get(key)
        return record.help if record is not None and key not in self._loaded else None

    def get(self, key: Key) -> click.Command | None:
        if key not in self._loaded and key in self._declared:
            self._loaded[key] = self._import(self._declared[key])
        return self._loaded.get(key)

    def _import(self, record: Command) -> click.Command:
        try:
            command = import_object(record.path)
            if not isinstance(command, click.Command):
                raise TypeError(f"{record.path} is a {type(command).__name__}, not a click command")
        except Exception as error:
            return self._broken(record.provenance, record.name, error)
        return command

    def _broken(self, pack: Any, name: str, error: BaseException) -> click.Command:
        what = f"pack {pack.pack!r} ({pack.distribution} {pack.version})"
        if self.strict:
            raise PluginError(
                f"the commands of {what} are unavailable: {type(error).__name__}: {error}",
                fix=f"update or reinstall {pack.distribution}, or uninstall it",
            )

        def unavailable() -> None:
            raise click.ClickException(
                f"the commands of {what} are unavailable: {error}\n"
                f"  fix: update or reinstall {pack.distribution}, or uninstall it"
            )

        return click.Command(
            name,
            callback=unavailable,
            help=f"(unavailable) pack {pack.pack} failed to load its commands: {error}",
        )

    def _shadowing(self, provenance: Any, key: Key) -> None:
        shown = " ".join(filter(None, key))
        self.warnings.append(
            f"pack {provenance.pack!r} ({provenance.distribution}) tried to replace the built-in "
            f"command {shown!r}; kept the built-in"
        )

    def _clash(self, pack: PackInfo, key: Key) -> None:
        """A deprecated registrar adds a command another pack has: the other keeps it."""
        owner = self._declared.get(key)
        other = f"pack {owner.provenance.pack!r}" if owner is not None else "another pack"
        message = (
            f"command {' '.join(filter(None, key))!r} of pack {pack.name!r} "
            f"({pack.distribution}) is provided by {other} too; {pack.name}'s is disabled"
        )
        fix = f"uninstall one of the packs, or keep one out with {ALLOW_ENV}"
        if self.strict:
            raise ConflictError(message, fix=fix)
        self.warnings.append(f"{message}\n  fix: {fix}")

    # -- the deprecated hook ---------------------------------------------------------------

    def _register_legacy(
        self, pack: PackInfo, register: Callable[..., Any], builtin: Callable[[Key], bool]
    ) -> None:
        root = _StandIn("harmonia")
        groups = {name: _StandIn(name) for name in self.groups()}
        root.commands.update(groups)
        try:
            register(cli=root)
        except Exception as error:
            if self.strict:
                raise PluginError(
                    f"pack {pack.name!r} ({pack.distribution}) could not add its commands: {error}"
                ) from error
            self.warnings.append(
                f"pack {pack.name!r} ({pack.distribution}) could not add its commands: {error}"
            )
            self._loaded[("", pack.name)] = self._broken(pack.provenance, pack.name, error)
            return
        added: list[tuple[Key, click.Command]] = [
            (("", name), command)
            for name, command in root.commands.items()
            if groups.get(name) is not command
        ]
        for group_name, group in groups.items():
            added += [((group_name, name), command) for name, command in group.commands.items()]
        for key, command in added:
            if builtin(key):
                self._shadowing(pack.provenance, key)
            elif key in self._declared or key in self._loaded:
                self._clash(pack, key)
            else:
                self._loaded[key] = command


class _StandIn(click.Group):
    """A group a deprecated registrar adds to: collects, belongs to one run."""


class LazyGroup(click.Group):
    """A group whose own commands import on first use and whose pack commands come per run.

    ``lazy`` maps names to ``"module:attribute"`` of the core's own commands.
    The run's :class:`PackCommands` come from the root context's object.
    """

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def _path(self, ctx: click.Context) -> str:
        """The group's name as packs name it (the root's is "")."""
        return self.name or ""

    def builtin(self, name: str) -> click.Command | None:
        """The core's own command ``name`` (never a pack's)."""
        if name in self.lazy and name not in self.commands:
            # The core's own commands are imported once and kept: they never change.
            self.commands[name] = import_object(self.lazy[name])
        return self.commands.get(name)

    def _pack_commands(self, ctx: click.Context) -> PackCommands | None:
        getter = getattr(ctx.find_root().obj, "pack_commands", None)
        return getter() if callable(getter) else None

    def list_commands(self, ctx: click.Context) -> list[str]:
        packs = self._pack_commands(ctx)
        extra = packs.names(self._path(ctx)) if packs is not None else []
        return sorted({*self.lazy, *self.commands, *extra})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        # The packs' commands are gathered first even for a built-in: that is
        # when a broken pack's warning shows, whatever the command.
        packs = self._pack_commands(ctx)
        own = self.builtin(name)
        if own is not None:
            return own
        return packs.get((self._path(ctx), name)) if packs is not None else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands by their one line of help; a pack's command is not imported for it."""
        packs = self._pack_commands(ctx)
        listed: list[tuple[str, click.Command | str]] = []
        for name in self.list_commands(ctx):
            declared = packs.short_help((self._path(ctx), name)) if packs is not None else None
            command = declared if declared is not None else self.get_command(ctx, name)
            if command is not None and not getattr(command, "hidden", False):
                listed.append((name, command))
        if not listed:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in listed)
        rows = [
            (
                name,
                click.Command(name, help=command).get_short_help_str(limit)
                if isinstance(command, str)
                else command.get_short_help_str(limit),
            )
            for name, command in listed
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
