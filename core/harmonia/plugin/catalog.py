"""The Catalog: everything the installed packs provide, checked once and frozen.

:meth:`Catalog.build` calls every record-returning hook of
:data:`~harmonia.plugin.kinds.HOOK_KINDS` once, pack by pack, and

* tags every record with its pack's provenance,
* holds every record to its own checks (a record built in Python meets the
  standard of one loaded from TOML),
* runs every check across definitions: a country profile against the option
  catalogue and the installed policies and identifier schemes, a rule set
  against the installed questionnaires (and the rules language), a
  questionnaire version against the version it says it follows,
* refuses two records of one name, naming both packs: a conflicted registry
  is a :class:`~harmonia.errors.ConflictError` raised here, when the catalog
  is built, never later when a registry is first read.

A rejected record is left out with its reasons (a warning, or an error in
strict mode). Engine, ingest, the application and the CLI take a Catalog;
none of them calls a hook.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from importlib.resources import files
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from harmonia.definitions import (
    CountryProfile,
    EngagementStrategy,
    OptionCatalogue,
    ProfileFeature,
    RefinementPolicy,
    RuleSet,
)
from harmonia.definitions.strategy import ACTUAL_METRICS
from harmonia.errors import (
    ConflictError,
    DefinitionError,
    HarmoniaError,
    NotFoundError,
    PluginError,
    Problem,
)
from harmonia.plugin.kinds import HOOK_KINDS, LEGACY_HOOKS, HookKind, build_order, show_key
from harmonia.plugin.switches import ALLOW_ENV, STRICT_ENV
from harmonia.plugin.types import Command, DataSource, IdentifierScheme, OutputSink
from harmonia.questionnaires import ProfileDimension, Questionnaire

if TYPE_CHECKING:  # the manager builds catalogs; a catalog never imports it
    from harmonia.plugin.manager import PackInfo, PluginManager

T = TypeVar("T")


class Registry(Mapping[Hashable, T], Generic[T]):
    """Records of one kind by name, read-only, with errors that say what *is* available."""

    def __init__(
        self, what: str, records: Mapping[Hashable, T], rejected: Mapping[Hashable, str]
    ) -> None:
        self.what = what
        self._records = MappingProxyType(dict(records))
        self.rejected = MappingProxyType(dict(rejected))

    def __getitem__(self, key: Hashable) -> T:
        return self._records[key]

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {sorted(map(show_key, self._records))})"

    def get_or_fail(self, key: Hashable, *, fix: str | None = None) -> T:
        """The record named ``key``, or an error listing what is available."""
        if key in self._records:
            return self._records[key]
        if key in self.rejected:
            raise NotFoundError(
                f"{self.what} {show_key(key)} was rejected when its pack loaded:\n"
                f"{self.rejected[key]}",
                fix="fix the pack (see `harmonia plugins list`), or use another one",
            )
        names = [show_key(name) for name in self._records]
        close = difflib.get_close_matches(show_key(key), names, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        available = ", ".join(sorted(names)) or "none"
        raise NotFoundError(
            f"no {self.what} {show_key(key)}{hint}; available: {available}",
            fix=fix or "install the pack that provides it (see `harmonia plugins list`)",
        )


def load_option_catalogue() -> OptionCatalogue:
    """The global option catalogue, owned by the core."""
    from harmonia.definitions import load_file

    (catalogue,) = load_file(OptionCatalogue, files("harmonia.builtin") / "data" / "catalogue.toml")
    return catalogue


@attrs.frozen
class Catalog:
    """What the registered packs provide, by kind, each record with its provenance.

    One registry per row of :data:`~harmonia.plugin.kinds.HOOK_KINDS` (same
    attribute names), the packs, the option catalogue, and every warning of
    discovery and building. ``registrars`` are the packs' implementations of
    the deprecated ``harmonia_register_commands``, for the CLI to call.
    ``conflicts`` is empty unless the catalog was built to report them;
    ``option_catalogue`` is None only in a partial build without country profiles.
    """

    packs: tuple[PackInfo, ...]
    option_catalogue: OptionCatalogue | None
    country_profiles: Registry[CountryProfile]
    rule_sets: Registry[RuleSet]
    questionnaires: Registry[Questionnaire]
    data_sources: Registry[DataSource]
    output_sinks: Registry[OutputSink]
    refinement_policies: Registry[RefinementPolicy]
    engagement_strategies: Registry[EngagementStrategy]
    identifier_schemes: Registry[IdentifierScheme]
    commands: Registry[Command]
    registrars: tuple[tuple[PackInfo, Callable[..., Any]], ...] = ()
    warnings: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    strict: bool = False

    @classmethod
    def build(
        cls,
        manager: PluginManager,
        *,
        conflicts: str = "raise",
        only: Iterable[str] | None = None,
    ) -> Catalog:
        """Call every hook once and check what the packs return.

        ``conflicts="report"`` leaves conflicting names out and lists them in
        :attr:`conflicts` instead of raising (``harmonia plugins list`` shows
        them). ``only`` builds just the named registries, the others empty
        (the CLI's ``--help`` needs the commands, not every definition).
        """
        builder = _Builder(manager, only=None if only is None else set(only))
        registries = builder.build()
        found = tuple(builder.conflicts)
        if found and conflicts == "raise":
            raise ConflictError(
                "; ".join(found),
                fix="uninstall one of the packs, or keep one out with " + ALLOW_ENV,
            )
        return cls(
            packs=tuple(manager.packs),
            # The catalogue is read for country profiles; a commands-only build skips it.
            option_catalogue=builder.option_catalogue
            if only is None or "country_profiles" in only
            else None,
            registrars=tuple(manager.implementations(LEGACY_HOOKS[0])),
            warnings=(*manager.warnings, *builder.warnings),
            conflicts=found,
            strict=manager.strict,
            **registries,
        )

    # -- reading it ----------------------------------------------------------------------

    def pack(self, name: str) -> PackInfo:
        """The registered pack called ``name``."""
        return next(pack for pack in self.packs if pack.name == name and pack.error is None)

    def registry(self, kind: HookKind) -> Registry[Any]:
        return getattr(self, kind.attribute)

    def describe(self, pack: PackInfo) -> dict[str, list[str]]:
        """What a pack provides, by kind label (for ``harmonia plugins list``)."""
        provided: dict[str, list[str]] = {}
        for kind in HOOK_KINDS:
            records = [
                record
                for record in self.registry(kind).values()
                if record.provenance is not None and record.provenance.pack == pack.name
            ]
            if records:
                provided[kind.label] = kind.summary(records, kind)
        return provided

    @property
    def packs_by_distribution(self) -> dict[str, str]:
        """Distribution -> version of every pack that registered (what a cycle snapshots)."""
        return {pack.distribution: pack.version for pack in self.packs if pack.error is None}

    def therapy_areas(self) -> dict[str, list[RuleSet]]:
        """Installed rule sets grouped by therapy area."""
        grouped: dict[str, list[RuleSet]] = {}
        for rule_set in self.rule_sets.values():
            grouped.setdefault(rule_set.therapy_area, []).append(rule_set)
        return grouped

    def questionnaire_versions(self, questionnaire_id: str | None = None) -> list[Questionnaire]:
        """Installed questionnaire versions (of one id), by id then oldest version first."""
        from harmonia.questionnaires import version_key

        found = [
            q
            for q in self.questionnaires.values()
            if questionnaire_id is None or q.id == questionnaire_id
        ]
        return sorted(found, key=lambda q: (q.id, version_key(q.version)))

    def check_rule_set(self, rule_set: RuleSet) -> list[Problem]:
        """A rule set's problems against the installed questionnaires and the rules language."""
        return _rule_set_problems(rule_set, self.questionnaires)

    def check_country_profile(self, profile: CountryProfile) -> list[Problem]:
        """A profile's problems against the option catalogue and the installed packs."""
        return _country_problems(
            profile, self.option_catalogue, self.refinement_policies, self.identifier_schemes
        ) + _therapy_area_problems(profile, self.rule_sets, self.engagement_strategies)


# --- building -----------------------------------------------------------------------------


class _Builder:
    """One build of a catalog: the registries so far, warnings and conflicts."""

    def __init__(self, manager: PluginManager, only: set[str] | None) -> None:
        self.manager = manager
        self.only = only
        self.warnings: list[str] = []
        self.conflicts: list[str] = []
        self.built: dict[str, Registry[Any]] = {}
        self._option_catalogue: OptionCatalogue | None = None

    @property
    def option_catalogue(self) -> OptionCatalogue:
        if self._option_catalogue is None:
            self._option_catalogue = load_option_catalogue()
        return self._option_catalogue

    def build(self) -> dict[str, Registry[Any]]:
        for kind in build_order():
            if self.only is not None and kind.attribute not in self.only:
                self.built[kind.attribute] = Registry(kind.what, {}, {})
                continue
            registry = self._collect(kind, CHECKS.get(kind.attribute))
            if kind.attribute == "questionnaires":
                registry = self._linked_versions(kind, registry)
            self.built[kind.attribute] = registry
        if "rule_sets" in self.built:
            self.undeclared_metrics(self.built["rule_sets"].values())
        return self.built

    def undeclared_metrics(self, rule_sets: Iterable[RuleSet]) -> None:
        """Warn (strict: refuse) where a rule set reads a metric that no installed
        pack declares, in any rule set's ``[[metrics]]`` of its therapy area, and
        that is not an actual the core knows (calls, revenue): most often a typo,
        which would otherwise only show as empty features at the first cycle."""
        rule_sets = list(rule_sets)
        declared: dict[str, set[str]] = {}
        for rule_set in rule_sets:
            names = {bounds.name for bounds in rule_set.metrics}
            declared.setdefault(rule_set.therapy_area, set()).update(names)
        for rule_set in rule_sets:
            known = declared[rule_set.therapy_area] | ACTUAL_METRICS
            for index, feature in enumerate(rule_set.features):
                metric = getattr(feature, "metric", None)
                if metric is None or metric in known:
                    continue
                close = difflib.get_close_matches(metric, sorted(known), n=1)
                hint = f"did you mean {close[0]!r}? Else " if close else ""
                message = (
                    f"pack {rule_set.provenance}, rule set {rule_set.name}: features[{index}] {feature.name!r} "
                    f"reads metric {metric!r}, which no installed pack declares for "
                    f"{rule_set.therapy_area}"
                )
                fix = (
                    f"{hint}declare it in the rule set's [[metrics]] "
                    f'(name = "{metric}", its min, max and description)'
                )
                if self.manager.strict:
                    raise PluginError(message, fix=fix)
                self.warnings.append(f"{message}\n  fix: {fix}")

    def reject(self, pack: PackInfo, hook: str, error: HarmoniaError) -> None:
        message = f"pack {pack.name!r} ({pack.distribution} {pack.version}), hook {hook}: {error}"
        if self.manager.strict:
            raise PluginError(
                message, fix=f"fix the pack, or unset {STRICT_ENV} to continue without it"
            )
        self.warnings.append(message)

    def _collect(self, kind: HookKind, check: Check | None) -> Registry[Any]:
        records: dict[Hashable, Any] = {}
        providers: dict[Hashable, PackInfo] = {}
        rejected: dict[Hashable, str] = {}
        conflicted: set[Hashable] = set()
        for pack, result in self.manager.call(kind.hook, self.reject):
            for record in result or ():
                if not isinstance(record, kind.record):
                    error = PluginError(
                        f"returned {type(record).__name__}, expected {kind.what} records"
                    )
                    self.reject(pack, kind.hook, error)
                    continue
                record = attrs.evolve(record, provenance=pack.provenance)
                name = kind.key(record)
                problems = list(_own_problems(record))
                if check is not None:
                    problems += check(record, self)
                if problems:
                    definition_error = DefinitionError(
                        problems, where=f"{kind.what} {show_key(name)}", pack=pack.distribution
                    )
                    rejected[name] = str(definition_error)
                    self.reject(pack, kind.hook, definition_error)
                    continue
                if kind.keep_first and name in records:
                    providers[name] = self._keep_first(
                        kind, name, (providers[name], pack), records, record
                    )
                    continue
                if name in records or name in conflicted:
                    first = providers[name]
                    self.conflicts.append(
                        f"{kind.what} {show_key(name)} is provided by both {first.name} "
                        f"({first.distribution} {first.version}) and {pack.name} "
                        f"({pack.distribution} {pack.version})"
                    )
                    records.pop(name, None)
                    conflicted.add(name)
                    continue
                records[name] = record
                providers[name] = pack
        return Registry(kind.what, records, rejected)

    def _keep_first(
        self,
        kind: HookKind,
        name: Hashable,
        packs: tuple[PackInfo, PackInfo],
        records: dict[Hashable, Any],
        record: Any,
    ) -> PackInfo:
        """Two packs provide ``name``: keep the one registered first (entry points
        register in name order), disable the other with a warning naming both."""
        order = [pack.name for pack in self.manager.packs]
        kept, disabled = sorted(packs, key=lambda pack: order.index(pack.name))
        if kept.name == record.provenance.pack:
            records[name] = record
        message = (
            f"{kind.what} {show_key(name)!r} is provided by both {kept.name} "
            f"({kept.distribution} {kept.version}) and {disabled.name} "
            f"({disabled.distribution} {disabled.version}); {disabled.name}'s is disabled"
        )
        fix = (
            f"uninstall one of the packs, or keep one out with {ALLOW_ENV}"
            f" (or ask {disabled.distribution} to rename its {kind.what})"
        )
        if self.manager.strict:
            raise ConflictError(message, fix=fix)
        self.warnings.append(f"{message}\n  fix: {fix}")
        return kept

    def _linked_versions(self, kind: HookKind, registry: Registry[Any]) -> Registry[Any]:
        """Questionnaire versions checked against the version each follows, when installed."""
        from harmonia.questionnaires import version_problems

        records, rejected = dict(registry), dict(registry.rejected)
        for key, questionnaire in registry.items():
            link = questionnaire.previous
            older = registry.get((questionnaire.id, link.version)) if link else None
            problems = list(version_problems(questionnaire, older)) if older else []
            if problems:
                pack = self.manager.pack(questionnaire.provenance.pack)
                error = DefinitionError(
                    problems, where=f"{kind.what} {show_key(key)}", pack=pack.distribution
                )
                rejected[key] = str(error)
                del records[key]
                self.reject(pack, kind.hook, error)
        return Registry(kind.what, records, rejected)


#: A check across definitions: the record, and the registries built before it.
Check = Callable[[Any, _Builder], list[Problem]]


def _own_problems(record: Any) -> Iterable[Problem]:
    """A definition's own checks: a record built in Python is held to the TOML standard."""
    check = getattr(record, "problems", None)
    return check() if callable(check) else ()


def _country_problems(
    profile: CountryProfile,
    catalogue: OptionCatalogue,
    policies: Mapping[Hashable, Any],
    schemes: Mapping[Hashable, Any],
) -> list[Problem]:
    """The option catalogue's verdict, and that what the profile names is installed."""
    problems = catalogue.check(profile)
    policy = profile.refinement_policy
    if policy and policy not in policies:
        available = ", ".join(sorted(map(str, policies))) or "none"
        problems.append(
            Problem(
                "refinement_policy", f"no installed pack provides policy {policy!r} ({available})"
            )
        )
    for index, scheme in enumerate(profile.identifier_schemes):
        if scheme not in schemes:
            problems.append(
                Problem(
                    f"identifier_schemes[{index}]",
                    f"no installed pack provides identifier scheme {scheme!r}",
                )
            )
    return problems


def _profile_dimension(
    questionnaires: Mapping[Hashable, Questionnaire], questionnaire: str, dimension: str
) -> ProfileDimension | None:
    from harmonia.questionnaires import version_key

    versions = [q for q in questionnaires.values() if q.id == questionnaire]
    for candidate in sorted(versions, key=lambda q: version_key(q.version), reverse=True):
        found = candidate.dimension(dimension)
        if found is not None:
            return found
    return None


def _rule_set_problems(
    rule_set: RuleSet, questionnaires: Mapping[Hashable, Questionnaire]
) -> list[Problem]:
    from harmonia.rules import check_rule_set

    problems, levels = [], {}
    for index, feature in enumerate(rule_set.features):
        if not isinstance(feature, ProfileFeature):
            continue
        dimension = _profile_dimension(questionnaires, feature.questionnaire, feature.dimension)
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


def _therapy_area_problems(
    profile: CountryProfile,
    rule_sets: Mapping[Hashable, RuleSet],
    strategies: Mapping[Hashable, EngagementStrategy],
) -> list[Problem]:
    """The rule set and strategy variant a country chooses for an installed therapy area
    exist for it. An area no installed pack provides is not checked: a country pack
    names the areas it serves, whether or not their packs are installed."""
    problems = []
    for area, choice in sorted(profile.therapy_areas.items()):
        installed = sorted(r.name for r in rule_sets.values() if r.therapy_area == area)
        if not installed:
            continue
        if choice.rule_set is not None and choice.rule_set not in installed:
            problems.append(
                Problem(
                    f"therapy_areas.{area}.rule_set",
                    f"no installed rule set {choice.rule_set!r} of {area} "
                    f"(installed: {', '.join(installed)})",
                )
            )
        variants = sorted({s.variant for s in strategies.values() if s.therapy_area == area})
        if variants and choice.strategy_variant not in variants:
            problems.append(
                Problem(
                    f"therapy_areas.{area}.strategy_variant",
                    f"no installed engagement strategy variant {choice.strategy_variant!r} "
                    f"of {area} (installed: {', '.join(variants)})",
                )
            )
    return problems


def _strategy_problems(
    strategy: EngagementStrategy, rule_sets: Mapping[Hashable, RuleSet]
) -> list[Problem]:
    """A strategy's segment is one the installed rule sets of its therapy area declare."""
    segments = {
        segment
        for rule_set in rule_sets.values()
        if rule_set.therapy_area == strategy.therapy_area
        for segment in rule_set.segment.outcomes
    }
    if not segments or strategy.segment in segments:
        return []
    return [
        Problem(
            "segment",
            f"{strategy.segment!r} is not a segment of the installed {strategy.therapy_area} "
            f"rule sets ({', '.join(sorted(segments))})",
        )
    ]


def _policy_problems(policy: RefinementPolicy) -> list[Problem]:
    from harmonia.rules.policy import auto_rule_problems

    return auto_rule_problems(policy)


CHECKS: dict[str, Check] = {
    "country_profiles": lambda profile, b: [
        *_country_problems(
            profile,
            b.option_catalogue,
            b.built["refinement_policies"],
            b.built["identifier_schemes"],
        ),
        *_therapy_area_problems(profile, b.built["rule_sets"], b.built["engagement_strategies"]),
    ],
    "engagement_strategies": lambda strategy, b: _strategy_problems(strategy, b.built["rule_sets"]),
    "rule_sets": lambda rule_set, b: _rule_set_problems(rule_set, b.built["questionnaires"]),
    "refinement_policies": lambda policy, b: _policy_problems(policy),
}
