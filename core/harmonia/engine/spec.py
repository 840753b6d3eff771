"""What a cycle runs with: the definitions resolved for one country, area and period.

Resolving is where a market's choices meet the installed packs: the country's
profile, the therapy area's rule set (the one the country names, or the only
one), the questionnaires its profile features score from, the strategy
variant the country chose, and the bounded parameters. Every gap is an error
that says what is missing and which pack would provide it. The resolved spec
is also what a cycle snapshots, so it can be re-run and explained later.
"""

from __future__ import annotations

from typing import Any

import attrs

from harmonia.definitions import (
    NO_SEGMENT,
    CountryProfile,
    EngagementStrategy,
    OptionCatalogue,
    ProfileFeature,
    RuleSet,
    unstructure,
)
from harmonia.errors import ConfigError, NotFoundError
from harmonia.periods import Period
from harmonia.plugin.catalog import Catalog
from harmonia.questionnaires import Questionnaire


@attrs.frozen
class CycleSpec:
    """Everything a cycle needs besides the data."""

    country: CountryProfile
    therapy_area: str
    period: Period
    rule_set: RuleSet
    questionnaires: dict[str, list[Questionnaire]]
    strategies: dict[str, EngagementStrategy]
    catalogue: OptionCatalogue
    packs: dict[str, str] = attrs.Factory(dict)

    @property
    def variant(self) -> str:
        return self.country.choice(self.therapy_area).strategy_variant

    def parameter(self, name: str) -> float:
        return self.country.parameter(name, self.catalogue)

    def snapshot(self) -> dict[str, Any]:
        """Plain data of the whole configuration, stored with the cycle."""
        return {
            "country": unstructure(self.country),
            "therapy_area": self.therapy_area,
            "period": str(self.period),
            "rule_set": unstructure(self.rule_set),
            "questionnaires": {
                qid: [unstructure(version) for version in versions]
                for qid, versions in self.questionnaires.items()
            },
            "strategies": {segment: unstructure(s) for segment, s in self.strategies.items()},
            "parameters": {
                option.name.removeprefix("parameters."): self.parameter(
                    option.name.removeprefix("parameters.")
                )
                for option in self.catalogue.options
                if option.name.startswith("parameters.")
            },
            "packs": self.packs,
        }


def resolve(catalog: Catalog, country: str, therapy_area: str, period: str | None) -> CycleSpec:
    """The spec for one cycle, or an error naming what is missing."""
    from harmonia.periods import current_period

    profile = catalog.country_profiles.get_or_fail(
        country.upper(), fix="install the country's pack (e.g. pip install harmonia-fr)"
    )
    therapy_area = therapy_area.strip().lower()  # ids are lower case; people type Oncology
    try:
        cycle_period = Period.parse(period) if period else current_period()
    except ValueError as error:
        raise ConfigError(str(error), where="--period") from None
    rule_set = _rule_set(catalog, profile, therapy_area)
    questionnaires = _questionnaires(catalog, rule_set)
    strategies = engagement_strategies(catalog, profile, rule_set)
    return CycleSpec(
        country=profile,
        therapy_area=therapy_area,
        period=cycle_period,
        rule_set=rule_set,
        questionnaires=questionnaires,
        strategies=strategies,
        catalogue=catalog.option_catalogue,
        packs=catalog.packs_by_distribution,
    )


def _rule_set(catalog: Catalog, profile: CountryProfile, therapy_area: str) -> RuleSet:
    chosen = profile.choice(therapy_area).rule_set
    if chosen:
        rule_set = catalog.rule_sets.get_or_fail(chosen)
        if rule_set.therapy_area != therapy_area:
            raise ConfigError(
                f"{profile.code} chooses rule set {chosen!r} for {therapy_area}, "
                f"but it belongs to {rule_set.therapy_area}",
                fix="fix therapy_areas in the country profile",
            )
        return rule_set
    candidates = catalog.therapy_areas().get(therapy_area, [])
    if not candidates:
        available = ", ".join(sorted(catalog.therapy_areas())) or "none"
        raise NotFoundError(
            f"no rule set for therapy area {therapy_area!r} is installed (installed: {available})",
            fix="install the therapy area's pack (e.g. pip install harmonia-oncology)",
        )
    if len(candidates) > 1:
        names = ", ".join(sorted(rule_set.name for rule_set in candidates))
        raise ConfigError(
            f"{therapy_area} has several rule sets ({names}) and {profile.code} does not choose one",
            fix=f"set therapy_areas.{therapy_area}.rule_set in the {profile.code} country profile",
        )
    return candidates[0]


def _questionnaires(catalog: Catalog, rule_set: RuleSet) -> dict[str, list[Questionnaire]]:
    """Every installed version of each questionnaire the rule set scores from."""
    wanted = {f.questionnaire for f in rule_set.features if isinstance(f, ProfileFeature)}
    found: dict[str, list[Questionnaire]] = {}
    for (qid, _), questionnaire in catalog.questionnaires.items():
        if qid in wanted:
            found.setdefault(qid, []).append(questionnaire)
    missing = wanted - set(found)
    if missing:
        raise NotFoundError(
            f"rule set {rule_set.name} scores questionnaire(s) {', '.join(sorted(missing))}, "
            "which no installed pack provides",
            fix="install the therapy area's pack that declares them",
        )
    return found


#: The strategy of every segment of a therapy area that declares no strategies.
SEGMENTATION_ONLY = "none (segmentation only)"

#: The strategy of customers left unsegmented (:data:`NO_SEGMENT`), unless the
#: therapy area declares one for them.
NOT_SEGMENTED = "none (not segmented)"


def engagement_strategies(
    catalog: Catalog, profile: CountryProfile, rule_set: RuleSet, variant: str | None = None
) -> dict[str, EngagementStrategy]:
    """Each segment's strategy in ``variant`` (default: the one the country chose).

    Customers left unsegmented get the therapy area's ``no_segment`` strategy if
    it declares one, else one that targets, plans and costs nothing.
    """
    area = rule_set.therapy_area
    if not any(key[0] == area for key in catalog.engagement_strategies):
        # A therapy area that only segments: nobody is called, nothing is planned
        # or costed; its segments still go to the assignments and the summary.
        return {
            segment: _no_contact(area, segment, SEGMENTATION_ONLY)
            for segment in rule_set.segment.outcomes
        }
    variant = variant or profile.choice(area).strategy_variant
    strategies = {
        key[2]: strategy
        for key, strategy in catalog.engagement_strategies.items()
        if key[0] == area and key[1] == variant
    }
    missing = [segment for segment in rule_set.segment.segments if segment not in strategies]
    if missing:
        raise NotFoundError(
            f"no {variant!r} engagement strategy for segment(s) {', '.join(missing)} of {area}",
            fix=f"choose another strategy_variant for {area} in the {profile.code} "
            "profile, or add the strategies to the therapy area's pack",
        )
    if rule_set.segment.leaves_unsegmented:
        strategies.setdefault(NO_SEGMENT, _no_contact(area, NO_SEGMENT, NOT_SEGMENTED))
    return strategies


def _no_contact(therapy_area: str, segment: str, name: str) -> EngagementStrategy:
    return EngagementStrategy(therapy_area=therapy_area, segment=segment, name=name, target=False)
