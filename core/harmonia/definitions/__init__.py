"""Definitions packs declare as data: frozen attrs classes loaded through one converter.

Rule sets, country profiles and the option catalogue, refinement policies and
engagement strategies live here; questionnaires, which carry more behaviour
(skip logic, scoring, versions), have their own package,
:mod:`harmonia.questionnaires`, built on :mod:`harmonia.definitions.common`.
The converter (:mod:`harmonia.definitions.loading`) structures any of them.
"""

from harmonia.definitions.common import UNKNOWN, Missing, Translated
from harmonia.definitions.country import (
    CountryProfile,
    CsvConventions,
    OptionCatalogue,
    OptionSpec,
    PullThrough,
    Survivorship,
    TherapyAreaChoice,
)
from harmonia.definitions.policy import AutoRule, RefinementPolicy
from harmonia.definitions.ruleset import (
    NO_SEGMENT,
    AttributeFeature,
    ConsistencyFeature,
    Dimension,
    Feature,
    Matrix,
    MatrixAxis,
    MetricBounds,
    MetricFeature,
    ProfileFeature,
    PullThroughTest,
    QuantileFeature,
    Rule,
    RuleSet,
)
from harmonia.definitions.strategy import ChannelPlan, EngagementStrategy

__all__ = [
    "NO_SEGMENT",
    "UNKNOWN",
    "AttributeFeature",
    "AutoRule",
    "ChannelPlan",
    "ConsistencyFeature",
    "CountryProfile",
    "CsvConventions",
    "Dimension",
    "EngagementStrategy",
    "Feature",
    "Matrix",
    "MatrixAxis",
    "MetricBounds",
    "MetricFeature",
    "Missing",
    "OptionCatalogue",
    "OptionSpec",
    "ProfileFeature",
    "PullThrough",
    "PullThroughTest",
    "QuantileFeature",
    "RefinementPolicy",
    "Rule",
    "RuleSet",
    "Survivorship",
    "TherapyAreaChoice",
    "Translated",
    "load_definitions",
    "load_file",
    "read_toml",
    "structure",
    "unstructure",
]

#: The converter's functions, imported on first use: cattrs and tomllib cost
#: every command (``harmonia --help`` too) a tenth of a second otherwise.
_LOADING = {"load_definitions", "load_file", "read_toml", "structure", "unstructure"}


def __getattr__(name: str):
    if name in _LOADING:
        from harmonia.definitions import loading

        return getattr(loading, name)
    raise AttributeError(f"module 'harmonia.definitions' has no attribute {name!r}")
