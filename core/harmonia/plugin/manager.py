"""The plugin manager: discovery, registration and calling hooks.

A thin layer over :mod:`pluggy`. It

* registers the built-ins through exactly the path external packs take,
* loads each ``harmonia`` entry point on its own, so a broken pack becomes a
  warning naming its distribution and how to remove it (fatal in strict mode:
  ``--strict`` or ``HARMONIA_STRICT_PLUGINS=1``),
* treats every ``harmonia_*`` function of a pack as a hook and calls
  ``check_pending()`` after each registration, so a misspelled hook is an
  error instead of a silent no-op,
* calls each pack's implementation on its own, so every result is known by
  the pack that returned it and a failing pack costs only its own results,
* honours ``HARMONIA_LOAD_PLUGINS`` (a comma-separated allow-list of pack or
  distribution names; empty means built-ins only).

What the packs provide is gathered, checked and frozen once in a
:class:`~harmonia.plugin.catalog.Catalog` (:meth:`PluginManager.catalog`);
the rest of harmonia works with the catalog, never with the manager.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs
import pluggy

from harmonia.errors import DefinitionError, HarmoniaError, PluginError
from harmonia.plugin import hookspecs
from harmonia.plugin.catalog import Catalog
from harmonia.plugin.switches import ALLOW_ENV, STRICT_ENV
from harmonia.provenance import Provenance

ENTRY_POINT_GROUP = "harmonia"

#: Modules of the core registered as plugins, exactly like installed packs.
BUILTIN_MODULES = (
    "harmonia.builtin.sources",
    "harmonia.builtin.sinks",
    "harmonia.builtin.policies",
    "harmonia.fhir.source",
)

#: Called with (pack, hook, error) when one pack's implementation fails.
Reject = Callable[["PackInfo", str, HarmoniaError], None]


def core_version() -> str:
    try:
        return importlib.metadata.version("harmonia")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


@attrs.frozen
class PackInfo:
    """A registered (or failed) pack, as ``harmonia plugins list`` shows it."""

    name: str
    distribution: str
    version: str
    module: str
    builtin: bool
    hooks: tuple[str, ...] = ()
    error: str | None = None

    @property
    def provenance(self) -> Provenance:
        return Provenance(self.name, self.distribution, self.version)


class _Pluggy(pluggy.PluginManager):
    """Every ``harmonia_*`` function of a pack is a hook, marked or not."""

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith("harmonia_"):
            function = getattr(plugin, name, None)
            if callable(function) and not isinstance(function, type):
                return {
                    "wrapper": False,
                    "hookwrapper": False,
                    "optionalhook": False,
                    "tryfirst": False,
                    "trylast": False,
                    "specname": None,
                }
        return opts


class PluginManager:
    """Installed packs, registered; one instance per run of harmonia or per test."""

    def __init__(self, *, strict: bool | None = None, allow: Iterable[str] | None = None):
        self.strict = (
            strict if strict is not None else os.environ.get(STRICT_ENV, "") not in ("", "0")
        )
        if allow is None and ALLOW_ENV in os.environ:
            allow = [name.strip() for name in os.environ[ALLOW_ENV].split(",") if name.strip()]
        self.allow = None if allow is None else set(allow)
        self.packs: list[PackInfo] = []
        #: Discovery and registration problems (a hook's failures go to the catalog's).
        self.warnings: list[str] = []
        self._pluggy = _Pluggy(hookspecs.PROJECT)
        self._pluggy.add_hookspecs(hookspecs)

    # -- discovery -------------------------------------------------------------

    @classmethod
    def discover(cls, *, strict: bool | None = None, entry_points: bool = True) -> PluginManager:
        """Built-ins plus (unless ``entry_points`` is false) every installed pack."""
        manager = cls(strict=strict)
        manager.load_builtins()
        if entry_points:
            manager.load_entry_points()
        return manager

    def load_builtins(self) -> None:
        version = core_version()
        for module_name in BUILTIN_MODULES:
            module = importlib.import_module(module_name)
            self.register(
                module, name=module_name, distribution="harmonia", version=version, builtin=True
            )

    def load_entry_points(self) -> None:
        installed: set[str] = set()
        for entry_point in sorted(
            importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name
        ):
            distribution = entry_point.dist.name if entry_point.dist else "unknown"
            version = entry_point.dist.version if entry_point.dist else "unknown"
            installed |= {entry_point.name, distribution}
            if self.allow is not None and not ({entry_point.name, distribution} & self.allow):
                continue
            try:
                module = entry_point.load()
            except Exception as error:  # a broken pack must not take the CLI down
                self._fail(
                    PackInfo(entry_point.name, distribution, version, entry_point.value, False),
                    f"failed to import: {type(error).__name__}: {error}",
                )
                continue
            self.register(module, name=entry_point.name, distribution=distribution, version=version)
        for name in sorted((self.allow or set()) - installed):
            self.warnings.append(
                f"{ALLOW_ENV} names {name!r}, but no installed pack is called so "
                f"(installed: {', '.join(sorted(installed)) or 'none'})"
            )

    def register(
        self,
        plugin: Any,
        *,
        name: str | None = None,
        distribution: str = "local",
        version: str = "0",
        builtin: bool = False,
    ) -> PackInfo:
        """Register a module or object as a pack; returns its info (``error`` says why
        it was refused, unless strict mode made that fatal).

        Tests and embedding applications use this directly; installed packs
        arrive through entry points.
        """
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        module = getattr(plugin, "__name__", type(plugin).__name__)
        info = PackInfo(name, distribution, version, module, builtin)
        if any(pack.name == name and pack.error is None for pack in self.packs):
            return self._fail(info, f"a pack named {name!r} is already registered")
        try:
            self._pluggy.register(plugin, name=name)
        except pluggy.PluginValidationError as error:
            return self._fail(info, f"invalid hook implementation: {error}")
        try:
            self._pluggy.check_pending()
        except pluggy.PluginValidationError as error:
            self._pluggy.unregister(name=name)
            return self._fail(
                info, f"{error}; hooks are named harmonia_<plural noun>, see docs/hooks.md"
            )
        callers = self._pluggy.get_hookcallers(plugin) or ()
        info = attrs.evolve(info, hooks=tuple(sorted(caller.name for caller in callers)))
        self.packs.append(info)
        return info

    def _fail(self, info: PackInfo, reason: str) -> PackInfo:
        message = f"pack {info.name!r} (distribution {info.distribution} {info.version}) {reason}"
        if not info.builtin and info.distribution not in ("local", "unknown"):
            message += (
                f"\n  to remove it: pip uninstall {info.distribution}; to skip it: set "
                f"{ALLOW_ENV} to the packs you want"
            )
        if self.strict:
            raise PluginError(
                message, fix=f"fix or remove the pack; unset {STRICT_ENV} to continue without it"
            )
        failed = attrs.evolve(info, error=reason)
        self.packs.append(failed)
        self.warnings.append(message)
        return failed

    def pack(self, name: str) -> PackInfo:
        """The registered pack called ``name``."""
        return next(pack for pack in self.packs if pack.name == name and pack.error is None)

    # -- calling hooks -----------------------------------------------------------

    def call(self, hook: str, reject: Reject, **kwargs: Any) -> Iterator[tuple[PackInfo, Any]]:
        """Call each pack's implementation of ``hook`` on its own, the latest registered first.

        Yields ``(pack, result)``. A pack whose implementation raises is
        handed to ``reject`` and skipped; the others go on.
        """
        caller = getattr(self._pluggy.hook, hook)
        for impl in reversed(caller.get_hookimpls()):
            pack = self.pack(impl.plugin_name)
            arguments = {name: kwargs[name] for name in impl.argnames}
            try:
                result = impl.function(**arguments)
            except DefinitionError as error:
                reject(pack, hook, error.in_pack(pack.distribution))
                continue
            except HarmoniaError as error:
                reject(pack, hook, error)
                continue
            except Exception as error:
                reject(pack, hook, PluginError(f"{type(error).__name__}: {error}"))
                continue
            yield pack, result

    def implementations(self, hook: str) -> list[tuple[PackInfo, Callable[..., Any]]]:
        """Each pack's implementation of ``hook``, uncalled, in calling order."""
        caller = getattr(self._pluggy.hook, hook)
        return [
            (self.pack(impl.plugin_name), impl.function)
            for impl in reversed(caller.get_hookimpls())
        ]

    def catalog(self, **options: Any) -> Catalog:
        """Everything the registered packs provide, checked and frozen (see
        :meth:`Catalog.build <harmonia.plugin.catalog.Catalog.build>`)."""
        return Catalog.build(self, **options)


def module_pack(name: str, **hooks: Callable[..., Any]) -> types.SimpleNamespace:
    """A throwaway pack made of hook functions, for tests and scripts.

    ``module_pack("demo", harmonia_data_sources=lambda: [...])``.
    """
    return types.SimpleNamespace(__name__=name, **hooks)
