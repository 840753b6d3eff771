"""What the rule checker knows about each feature: type, levels, NULLs, integer range."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from harmonia.definitions import AttributeFeature, QuantileFeature, RuleSet
from harmonia.definitions.common import UNKNOWN


@attrs.frozen
class FeatureSpec:
    """A feature as conditions see it.

    ``levels`` lists the values a text feature can take (empty: not known).
    ``nullable`` says whether a customer can have no value (NULL).
    ``low``/``high`` bound an integer feature when its range is known, e.g.
    quantile bins ``1..n``.
    """

    name: str
    type: str
    levels: tuple[str, ...] = ()
    nullable: bool = True
    low: int | None = None
    high: int | None = None


def feature_specs(
    rule_set: RuleSet, levels: Mapping[str, Sequence[str]] | None = None
) -> dict[str, FeatureSpec]:
    """The specs of a rule set's features, by name.

    ``levels`` gives the levels of features whose levels live elsewhere (the
    plugin manager passes the questionnaire dimensions' levels for profile
    features). An attribute's own declared levels take precedence.
    """
    levels = levels or {}
    specs = {}
    for feature in rule_set.features:
        known: tuple[str, ...] = ()
        if feature.type == "text":
            declared = feature.levels if isinstance(feature, AttributeFeature) else ()
            known = tuple(declared or levels.get(feature.name, ()))
        low, high = (1, feature.bin_count) if isinstance(feature, QuantileFeature) else (None, None)
        nullable = True
        missing = feature.missing
        if missing is not None and missing.fill is not None:
            # A missing input becomes the fill value, so NULL never reaches the rules.
            nullable = False
            fill = UNKNOWN if missing.unknown else missing.default
            # Only a *known* set of levels grows: an unknown set stays unknown.
            if feature.type == "text" and known and fill not in known:
                known = (*known, str(fill))
            if low is not None and high is not None and type(fill) is int:
                low, high = min(low, fill), max(high, fill)
        specs[feature.name] = FeatureSpec(feature.name, feature.type, known, nullable, low, high)
    return specs
