"""Errors a user can cause, and the one shape they all take.

Every error raised for bad input, a bad pack or a bad setting is a
:class:`HarmoniaError`: it says *what* went wrong, *where* (a file, a pack, a
path inside a definition) and *how to fix it*. The CLI prints these without a
traceback; anything else is a bug in harmonia and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs


@attrs.frozen
class Problem:
    """One thing wrong in a definition or an input, located by a path.

    ``path`` reads like ``segment.rules[2].when`` (a place inside a
    definition) or ``customers.csv row 14`` (a place in an input).
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class HarmoniaError(Exception):
    """Base class for every error a user can cause.

    ``what`` is one sentence; ``where`` names the file, pack or object;
    ``fix`` tells the user what to do about it.
    """

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None):
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        parts = [f"{self.where}: {self.what}" if self.where else self.what]
        if self.fix:
            parts.append(f"  fix: {self.fix}")
        return "\n".join(parts)


class DefinitionError(HarmoniaError):
    """A pack's declaration (TOML, FHIR JSON, or a record) is invalid.

    Carries *every* problem found, not just the first, so a pack author fixes
    them all in one round.
    """

    def __init__(
        self,
        problems: Iterable[Problem],
        *,
        where: str,
        pack: str | None = None,
        fix: str | None = None,
    ):
        self.problems = list(problems)
        self.pack = pack
        count = len(self.problems)
        what = f"{count} problem{'s' if count != 1 else ''}:\n" + "\n".join(
            f"  - {problem}" for problem in self.problems
        )
        located = f"pack {pack!r}, {where}" if pack else where
        super().__init__(what, where=located, fix=fix)

    def in_pack(self, pack: str) -> DefinitionError:
        """The same error, naming the pack that declared the definition."""
        if self.pack:
            return self
        where = self.where or ""
        return DefinitionError(self.problems, where=where, pack=pack, fix=self.fix)


class PluginError(HarmoniaError):
    """A pack failed to load, registered an unknown hook, or broke a contract."""


class ConflictError(PluginError):
    """Two packs provide a definition or record under the same name."""


class ConfigError(HarmoniaError):
    """A workspace setting, a CLI option or a country profile is not allowed."""


class InputError(HarmoniaError):
    """An input file or data source cannot be read at all.

    Row-level problems never raise: rows are quarantined with their reasons.
    """


class NotFoundError(HarmoniaError):
    """Something the user named (a cycle, a customer, a country) does not exist."""


class EngineError(HarmoniaError):
    """An external engine (Spark) refused the work: unreachable, a missing table
    or column, a type it cannot read. Says which, never with the engine's stack trace."""


class Interrupted(HarmoniaError):
    """The user stopped the work (Ctrl-C): says what was kept. The CLI exits 130,
    as a shell does for a process ended by SIGINT."""

    exit_code = 130


class HarmoniaDeprecationWarning(DeprecationWarning):
    """Raised for deprecated hook arguments and definition fields.

    Hook specifications evolve additively; removals go through this warning
    and a changelog entry first (see docs/hooks.md).
    """


class PathError(HarmoniaError):
    """A file or folder the user named cannot be read or written."""

    @classmethod
    def from_os_error(cls, error: OSError) -> PathError:
        """The user's view of an ``OSError`` on a path they gave (a file where a
        folder is expected, no permission, a full disk)."""
        reason = (error.strerror or str(error)).lower()
        return cls(
            f"cannot use this path: {reason}",
            where=None if error.filename is None else str(error.filename),
            fix="give a path whose folders exist (or can be created), that is not an "
            "existing file where a folder is needed, and that you may write to",
        )


def causes(error: BaseException) -> Iterator[BaseException]:
    """``error``, then what caused it, and so on: where a driver's own error hides."""
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__
