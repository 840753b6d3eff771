"""The one table of hook kinds: what each record-returning hook yields and how it is named.

The manager calls hooks by it, the :class:`~harmonia.plugin.catalog.Catalog`
builds one registry per row of it (same attribute name), ``harmonia plugins
list`` shows what each pack provides under its ``label``, and
``tools/gen_hook_docs.py`` writes it into docs/hooks.md. A new hook kind is
one new row here and one specification in :mod:`harmonia.plugin.hookspecs`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

import attrs

from harmonia.definitions import CountryProfile, EngagementStrategy, RefinementPolicy, RuleSet
from harmonia.plugin.types import Command, DataSource, IdentifierScheme, OutputSink
from harmonia.questionnaires import Questionnaire


def show_key(key: Hashable) -> str:
    """A record's key as people read it: ``oncology-profile/2``."""
    if isinstance(key, tuple):  # a command at the top has no group: ("", "export")
        return "/".join(str(part) for part in key if part != "")
    return str(key)


def _names(records: Iterable[Any], kind: HookKind) -> list[str]:
    return sorted(show_key(kind.key(record)) for record in records)


def _therapy_areas(records: Iterable[Any], kind: HookKind) -> list[str]:
    return sorted({record.therapy_area for record in records})


def _strategy_variants(records: Iterable[Any], kind: HookKind) -> list[str]:
    """One line per area and variant, not one per segment."""
    variants: dict[str, int] = {}
    for record in records:
        area_variant = f"{record.therapy_area}/{record.variant}"
        variants[area_variant] = variants.get(area_variant, 0) + 1
    return sorted(f"{key} ({count} segments)" for key, count in variants.items())


def _commands(records: Iterable[Any], kind: HookKind) -> list[str]:
    return sorted(" ".join(filter(None, (record.group, record.name))) for record in records)


@attrs.frozen
class HookKind:
    """One record-returning hook.

    ``attribute`` names the catalog's registry; ``what`` is one record in a
    message ("rule set"); ``label`` heads its line in ``plugins list``;
    ``needs`` are the registries its records are checked against, so they
    are built first; ``summary`` turns one pack's records into that line.
    ``keep_first`` settles a name two packs provide by keeping the pack
    registered first and disabling the other with a warning (an error in strict
    mode): a clash of CLI command names must not take the whole CLI down.
    Every other kind refuses the name (:class:`~harmonia.errors.ConflictError`).
    """

    hook: str
    attribute: str
    record: type
    key: Callable[[Any], Hashable]
    what: str
    label: str
    needs: tuple[str, ...] = ()
    summary: Callable[[Iterable[Any], HookKind], list[str]] = _names
    keep_first: bool = False


#: Every record-returning hook, in the order ``harmonia plugins list`` shows them.
HOOK_KINDS: tuple[HookKind, ...] = (
    HookKind(
        "harmonia_country_profiles",
        "country_profiles",
        CountryProfile,
        lambda r: r.code,
        "country profile",
        "countries",
        needs=("refinement_policies", "identifier_schemes", "rule_sets", "engagement_strategies"),
    ),
    HookKind(
        "harmonia_segmentation_rules",
        "rule_sets",
        RuleSet,
        lambda r: r.name,
        "rule set",
        "therapy_areas",
        needs=("questionnaires",),
        summary=_therapy_areas,
    ),
    HookKind(
        "harmonia_questionnaires",
        "questionnaires",
        Questionnaire,
        lambda r: r.key,
        "questionnaire",
        "questionnaires",
    ),
    HookKind(
        "harmonia_data_sources",
        "data_sources",
        DataSource,
        lambda r: r.name,
        "data source",
        "sources",
    ),
    HookKind(
        "harmonia_output_sinks",
        "output_sinks",
        OutputSink,
        lambda r: r.name,
        "output sink",
        "sinks",
    ),
    HookKind(
        "harmonia_refinement_policies",
        "refinement_policies",
        RefinementPolicy,
        lambda r: r.name,
        "refinement policy",
        "policies",
    ),
    HookKind(
        "harmonia_engagement_strategies",
        "engagement_strategies",
        EngagementStrategy,
        lambda r: r.key,
        "engagement strategy",
        "strategies",
        needs=("rule_sets",),
        summary=_strategy_variants,
    ),
    HookKind(
        "harmonia_identifier_schemes",
        "identifier_schemes",
        IdentifierScheme,
        lambda r: r.name,
        "identifier scheme",
        "identifiers",
    ),
    HookKind(
        "harmonia_commands",
        "commands",
        Command,
        lambda r: r.key,
        "command",
        "commands",
        summary=_commands,
        keep_first=True,
    ),
)

KINDS_BY_ATTRIBUTE = {kind.attribute: kind for kind in HOOK_KINDS}

#: Hooks that return no records: the deprecated way packs added CLI commands.
LEGACY_HOOKS = ("harmonia_register_commands",)


def build_order() -> list[HookKind]:
    """The kinds, each after the kinds its records are checked against."""
    ordered: list[HookKind] = []
    pending = list(HOOK_KINDS)
    while pending:
        ready = [k for k in pending if all(n in {o.attribute for o in ordered} for n in k.needs)]
        if not ready:  # pragma: no cover - a table error, caught by the tests
            raise RuntimeError(f"hook kinds with circular needs: {[k.attribute for k in pending]}")
        ordered.extend(ready)
        pending = [k for k in pending if k not in ready]
    return ordered
