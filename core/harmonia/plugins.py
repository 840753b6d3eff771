"""The plugin manager: discovery, validation, aggregation, provenance.

A typed facade over :mod:`pluggy` with one method per hook. It

* registers the built-ins through exactly the path external packs take,
* loads each ``harmonia`` entry point on its own, so a broken pack becomes a
  warning naming its distribution and how to remove it (fatal in strict mode:
  ``--strict`` or ``HARMONIA_STRICT_PLUGINS=1``),
* treats every ``harmonia_*`` function of a pack as a hook and calls
  ``check_pending()`` after each registration, so a misspelled hook is an
  error instead of a silent no-op,
* calls each pack's implementation separately, tags every record with its
  provenance and refuses two records of the same name, naming both packs,
* honours ``HARMONIA_LOAD_PLUGINS`` (a comma-separated allow-list of pack or
  distribution names; empty means built-ins only).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import os
import types
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from functools import cached_property
from importlib.resources import files
from typing import Any, Generic, TypeVar

import attrs
import pluggy

from harmonia import hookspecs
from harmonia.definitions import (
    CountryProfile,
    EngagementStrategy,
    OptionCatalogue,
    ProfileFeature,
    Questionnaire,
    RefinementPolicy,
    RuleSet,
)
from harmonia.errors import (
    ConflictError,
    DefinitionError,
    HarmoniaError,
    NotFoundError,
    PluginError,
    Problem,
)
from harmonia.records import DataSource, IdentifierScheme, OutputSink, Provenance

ENTRY_POINT_GROUP = "harmonia"
STRICT_ENV = "HARMONIA_STRICT_PLUGINS"
ALLOW_ENV = "HARMONIA_LOAD_PLUGINS"

#: Modules of the core registered as plugins, exactly like installed packs.
BUILTIN_MODULES = (
    "harmonia.builtin.sources",
    "harmonia.builtin.sinks",
    "harmonia.builtin.policies",
    "harmonia.fhir.source",
)

T = TypeVar("T")


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


class Registry(Mapping[Hashable, T], Generic[T]):
    """Records of one kind by name, with errors that say what *is* available."""

    def __init__(self, what: str, records: dict[Hashable, T], rejected: dict[Hashable, str]):
        self.what = what
        self._records = records
        self.rejected = rejected

    def __getitem__(self, key: Hashable) -> T:
        return self._records[key]

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def get_or_fail(self, key: Hashable, *, fix: str | None = None) -> T:
        """The record named ``key``, or an error listing what is available."""
        if key in self._records:
            return self._records[key]
        if key in self.rejected:
            raise NotFoundError(
                f"{self.what} {_show(key)} was rejected when its pack loaded:\n{self.rejected[key]}",
                fix="fix the pack (see `harmonia plugins list`), or use another one",
            )
        names = [_show(name) for name in self._records]
        close = difflib.get_close_matches(_show(key), names, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        available = ", ".join(sorted(names)) or "none"
        raise NotFoundError(
            f"no {self.what} {_show(key)}{hint}; available: {available}",
            fix=fix or "install the pack that provides it (see `harmonia plugins list`)",
        )


def _show(key: Hashable) -> str:
    return "/".join(map(str, key)) if isinstance(key, tuple) else str(key)


class _PluginManager(pluggy.PluginManager):
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


class Plugins:
    """Installed packs and what they provide; one instance per CLI run or test."""

    def __init__(self, *, strict: bool | None = None, allow: Iterable[str] | None = None):
        self.strict = (
            strict if strict is not None else os.environ.get(STRICT_ENV, "") not in ("", "0")
        )
        if allow is None and ALLOW_ENV in os.environ:
            allow = [name.strip() for name in os.environ[ALLOW_ENV].split(",") if name.strip()]
        self.allow = None if allow is None else set(allow)
        self.packs: list[PackInfo] = []
        self.warnings: list[str] = []
        self.pm = _PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._loaded = False

    # -- discovery -------------------------------------------------------------

    @classmethod
    def discover(cls, *, strict: bool | None = None, entry_points: bool = True) -> Plugins:
        """Built-ins plus (unless ``entry_points`` is false) every installed pack."""
        plugins = cls(strict=strict)
        plugins.load_builtins()
        if entry_points:
            plugins.load_entry_points()
        return plugins

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
    ) -> PackInfo | None:
        """Register a module or object as a pack; returns its info, or None if it failed.

        Tests and embedding applications use this directly; installed packs
        arrive through entry points.
        """
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        module = getattr(plugin, "__name__", type(plugin).__name__)
        info = PackInfo(name, distribution, version, module, builtin)
        if any(pack.name == name and pack.error is None for pack in self.packs):
            self._fail(info, f"a pack named {name!r} is already registered")
            return None
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as error:
            self._fail(info, f"invalid hook implementation: {error}")
            return None
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as error:
            self.pm.unregister(name=name)
            self._fail(info, f"{error}; hooks are named harmonia_<plural noun>, see docs/hooks.md")
            return None
        hooks = tuple(sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or ()))
        info = attrs.evolve(info, hooks=hooks)
        self.packs.append(info)
        self._clear_cache()
        return info

    def _fail(self, info: PackInfo, reason: str) -> None:
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
        self.packs.append(attrs.evolve(info, error=reason))
        self.warnings.append(message)

    def _clear_cache(self) -> None:
        for name in _CACHED:
            self.__dict__.pop(name, None)

    def pack(self, plugin_name: str) -> PackInfo:
        return next(pack for pack in self.packs if pack.name == plugin_name and pack.error is None)

    # -- calling hooks -----------------------------------------------------------

    def call(self, hook: str, **kwargs: Any) -> Iterator[tuple[PackInfo, Any]]:
        """Call each pack's implementation of ``hook`` on its own.

        Yields ``(pack, result)``. A pack whose implementation raises is
        reported (warning, or error in strict mode) and skipped; the others go on.
        """
        caller = getattr(self.pm.hook, hook)
        for impl in reversed(caller.get_hookimpls()):
            pack = self.pack(impl.plugin_name)
            arguments = {name: kwargs[name] for name in impl.argnames}
            try:
                result = impl.function(**arguments)
            except DefinitionError as error:
                self._reject(pack, hook, error.in_pack(pack.distribution))
                continue
            except HarmoniaError as error:
                self._reject(pack, hook, error)
                continue
            except Exception as error:
                self._reject(pack, hook, PluginError(f"{type(error).__name__}: {error}"))
                continue
            yield pack, result

    def _reject(self, pack: PackInfo, hook: str, error: HarmoniaError) -> None:
        message = f"pack {pack.name!r} ({pack.distribution} {pack.version}), hook {hook}: {error}"
        if self.strict:
            raise PluginError(
                message, fix=f"fix the pack, or unset {STRICT_ENV} to continue without it"
            )
        self.warnings.append(message)

    def _collect(
        self,
        hook: str,
        record_type: type[T] | tuple[type, ...],
        key: Callable[[T], Hashable],
        what: str,
        check: Callable[[T], list[Problem]] | None = None,
    ) -> Registry[T]:
        records: dict[Hashable, T] = {}
        providers: dict[Hashable, PackInfo] = {}
        conflicts: list[str] = []
        rejected: dict[Hashable, str] = {}
        for pack, result in self.call(hook):
            for record in result or ():
                if not isinstance(record, record_type):
                    self._reject(
                        pack,
                        hook,
                        PluginError(f"returned {type(record).__name__}, expected {what} records"),
                    )
                    continue
                record = attrs.evolve(record, provenance=pack.provenance)
                name = key(record)
                problems = list(_own_problems(record)) + (check(record) if check else [])
                if problems:
                    error = DefinitionError(
                        problems, where=f"{what} {_show(name)}", pack=pack.distribution
                    )
                    rejected[name] = str(error)
                    self._reject(pack, hook, error)
                    continue
                if name in records:
                    first = providers[name]
                    conflicts.append(
                        f"{what} {_show(name)} is provided by both {first.name} "
                        f"({first.distribution} {first.version}) and {pack.name} "
                        f"({pack.distribution} {pack.version})"
                    )
                    continue
                records[name] = record
                providers[name] = pack
        if conflicts:
            raise ConflictError(
                "; ".join(conflicts),
                fix="uninstall one of the packs, or keep one out with " + ALLOW_ENV,
            )
        return Registry(what, records, rejected)

    # -- one method per hook -------------------------------------------------------

    @cached_property
    def data_sources(self) -> Registry[DataSource]:
        return self._collect("harmonia_data_sources", DataSource, lambda r: r.name, "data source")

    @cached_property
    def output_sinks(self) -> Registry[OutputSink]:
        return self._collect("harmonia_output_sinks", OutputSink, lambda r: r.name, "output sink")

    @cached_property
    def identifier_schemes(self) -> Registry[IdentifierScheme]:
        return self._collect(
            "harmonia_identifier_schemes", IdentifierScheme, lambda r: r.name, "identifier scheme"
        )

    @cached_property
    def questionnaires(self) -> Registry[Questionnaire]:
        return self._collect(
            "harmonia_questionnaires", Questionnaire, lambda r: r.key, "questionnaire"
        )

    @cached_property
    def refinement_policies(self) -> Registry[RefinementPolicy]:
        return self._collect(
            "harmonia_refinement_policies", RefinementPolicy, lambda r: r.name, "refinement policy"
        )

    @cached_property
    def engagement_strategies(self) -> Registry[EngagementStrategy]:
        return self._collect(
            "harmonia_engagement_strategies",
            EngagementStrategy,
            lambda r: r.key,
            "engagement strategy",
        )

    @cached_property
    def catalogue(self) -> OptionCatalogue:
        """The global option catalogue, owned by the core."""
        from harmonia.definitions.loading import load_file

        (catalogue,) = load_file(
            OptionCatalogue, files("harmonia.builtin") / "data" / "catalogue.toml"
        )
        return catalogue

    @cached_property
    def country_profiles(self) -> Registry[CountryProfile]:
        return self._collect(
            "harmonia_country_profiles",
            CountryProfile,
            lambda r: r.code,
            "country profile",
            check=self.check_country_profile,
        )

    def check_country_profile(self, profile: CountryProfile) -> list[Problem]:
        """The catalogue's verdict, and that what the profile names is installed."""
        problems = self.catalogue.check(profile)
        policy = profile.refinement_policy
        if policy and policy not in self.refinement_policies:
            available = ", ".join(sorted(self.refinement_policies)) or "none"
            problems.append(
                Problem(
                    "refinement_policy",
                    f"no installed pack provides policy {policy!r} ({available})",
                )
            )
        for index, scheme in enumerate(profile.identifier_schemes):
            if scheme not in self.identifier_schemes:
                problems.append(
                    Problem(
                        f"identifier_schemes[{index}]",
                        f"no installed pack provides identifier scheme {scheme!r}",
                    )
                )
        return problems

    @cached_property
    def rule_sets(self) -> Registry[RuleSet]:
        return self._collect(
            "harmonia_segmentation_rules",
            RuleSet,
            lambda r: r.name,
            "rule set",
            check=self.check_rule_set,
        )

    def check_rule_set(self, rule_set: RuleSet) -> list[Problem]:
        from harmonia.rules import check_rule_set

        problems, levels = [], {}
        for index, feature in enumerate(rule_set.features):
            if not isinstance(feature, ProfileFeature):
                continue
            dimension = self.profile_dimension(feature.questionnaire, feature.dimension)
            if dimension is None:
                problems.append(
                    Problem(
                        f"features[{index}]",
                        f"no questionnaire {feature.questionnaire!r} with a dimension "
                        f"{feature.dimension!r} is installed",
                    )
                )
            elif feature.value == "level":
                levels[feature.name] = dimension.levels
        return problems + check_rule_set(rule_set, levels=levels)

    def profile_dimension(self, questionnaire: str, dimension: str) -> Any:
        """The dimension of the newest installed version of a questionnaire, if any."""
        versions = [q for (qid, _), q in self.questionnaires.items() if qid == questionnaire]
        for candidate in sorted(versions, key=lambda q: _version_key(q.version), reverse=True):
            found = candidate.dimension(dimension)
            if found is not None:
                return found
        return None

    def register_commands(self, cli: Any) -> None:
        """Let packs add CLI commands; refuse shadowing, stub out failures.

        Packs may add subcommands to a built-in group (``questionnaire
        workbook``), but never replace a built-in command or subcommand.
        """
        builtin = dict(cli.commands)
        builtin_sub = {
            (group, name): command
            for group, parent in builtin.items()
            for name, command in getattr(parent, "commands", {}).items()
        }
        for impl in reversed(self.pm.hook.harmonia_register_commands.get_hookimpls()):
            pack = self.pack(impl.plugin_name)
            try:
                impl.function(cli=cli)
            except Exception as error:
                message = (
                    f"pack {pack.name!r} ({pack.distribution}) could not add its commands: {error}"
                )
                if self.strict:
                    raise PluginError(message) from error
                self.warnings.append(message)
                cli.add_command(_broken_command(pack, error), name=pack.name)
            for name, command in builtin.items():
                if cli.commands.get(name) is not command:
                    self.warnings.append(
                        f"pack {pack.name!r} ({pack.distribution}) tried to replace the built-in "
                        f"command {name!r}; kept the built-in"
                    )
                    cli.commands[name] = command
            for (group, name), command in builtin_sub.items():
                if cli.commands[group].commands.get(name) is not command:
                    self.warnings.append(
                        f"pack {pack.name!r} ({pack.distribution}) tried to replace the built-in "
                        f"command '{group} {name}'; kept the built-in"
                    )
                    cli.commands[group].commands[name] = command

    def describe(self, pack: PackInfo) -> dict[str, list[str]]:
        """What a pack provides, by kind (for ``harmonia plugins list``)."""
        provided: dict[str, list[str]] = {}
        for label, registry in self._registries().items():
            names = [
                _show(name)
                for name, record in registry.items()
                if record.provenance is not None and record.provenance.pack == pack.name
            ]
            if label == "strategies":  # one line per area and variant, not per segment
                variants: dict[str, int] = {}
                for name in names:
                    area_variant = name.rsplit("/", 1)[0]
                    variants[area_variant] = variants.get(area_variant, 0) + 1
                names = [f"{key} ({count} segments)" for key, count in variants.items()]
            if names:
                provided[label] = sorted(names)
        return provided

    def _registries(self) -> dict[str, Mapping[Hashable, Any]]:
        registries: dict[str, Mapping[Hashable, Any]] = {}
        for label, attribute in (
            ("countries", "country_profiles"),
            ("therapy_areas", "rule_sets"),
            ("questionnaires", "questionnaires"),
            ("sources", "data_sources"),
            ("sinks", "output_sinks"),
            ("policies", "refinement_policies"),
            ("strategies", "engagement_strategies"),
            ("identifiers", "identifier_schemes"),
        ):
            try:
                registry = getattr(self, attribute)
            except ConflictError:
                continue
            if label == "therapy_areas":
                registry = {r.therapy_area: r for r in registry.values()}
            registries[label] = registry
        return registries

    def therapy_areas(self) -> dict[str, list[RuleSet]]:
        """Installed rule sets grouped by therapy area."""
        grouped: dict[str, list[RuleSet]] = {}
        for rule_set in self.rule_sets.values():
            grouped.setdefault(rule_set.therapy_area, []).append(rule_set)
        return grouped


_CACHED = {
    "data_sources",
    "output_sinks",
    "identifier_schemes",
    "questionnaires",
    "refinement_policies",
    "engagement_strategies",
    "country_profiles",
    "rule_sets",
}


def _own_problems(record: Any) -> Iterable[Problem]:
    """A definition's own checks: a record built in Python is held to the TOML standard."""
    check = getattr(record, "problems", None)
    return check() if callable(check) else ()


def _version_key(version: str) -> tuple[Any, ...]:
    return tuple(
        int(part) if part.isdigit() else part for part in version.replace("-", ".").split(".")
    )


def _broken_command(pack: PackInfo, error: BaseException) -> Any:
    import click

    @click.command(
        name=pack.name,
        help=f"(unavailable) pack {pack.name} failed to register its commands: {error}",
    )
    def broken() -> None:
        raise click.ClickException(
            f"the commands of pack {pack.name!r} ({pack.distribution} {pack.version}) are unavailable: "
            f"{error}\n  fix: update or reinstall {pack.distribution}, or uninstall it"
        )

    return broken


def module_pack(name: str, **hooks: Callable[..., Any]) -> types.SimpleNamespace:
    """A throwaway pack made of hook functions, for tests and scripts.

    ``module_pack("demo", harmonia_data_sources=lambda: [...])``.
    """
    return types.SimpleNamespace(__name__=name, **hooks)
