"""harmonia: harmonized international customer segmentation and targeting.

This namespace is the public surface for pack authors (docs/api.md): the hook
marker, the records packs return, the definitions they declare, the errors
they may raise, and the application (``Harmonia``, ``current_app``). With
:mod:`harmonia.files` (canonical files) and :mod:`harmonia.testing` (pack
tests) it is all a pack may import; everything else (the manager, the
catalog, the store, the engine, the CLI) is internal and may change between
releases.

    from harmonia import hookimpl, DataSource, RuleSet, load_definitions
"""

from typing import Any

from harmonia.compute import duckdb_connection
from harmonia.datapack import data_pack
from harmonia.definitions import (
    NO_SEGMENT,
    AttributeFeature,
    AutoRule,
    ChannelPlan,
    ConsistencyFeature,
    CountryProfile,
    CsvConventions,
    Dimension,
    EngagementStrategy,
    Matrix,
    MatrixAxis,
    MetricBounds,
    MetricFeature,
    Missing,
    ProfileFeature,
    PullThrough,
    PullThroughTest,
    QuantileFeature,
    RefinementPolicy,
    Rule,
    RuleSet,
    TherapyAreaChoice,
)
from harmonia.errors import (
    ConfigError,
    ConflictError,
    DefinitionError,
    HarmoniaDeprecationWarning,
    HarmoniaError,
    InputError,
    NotFoundError,
    PluginError,
    Problem,
)
from harmonia.periods import Period
from harmonia.plugin.hookspecs import hookimpl
from harmonia.plugin.types import (
    FILE_NAME_OPTION,
    OUTPUT_KINDS,
    RECORD_KINDS,
    Batch,
    Command,
    CycleInfo,
    DataSource,
    Erasure,
    IdentifierScheme,
    InvalidIdentifier,
    Option,
    OutputSink,
    Provenance,
    SinkRequest,
    SourceRequest,
)
from harmonia.questionnaires import (
    AnswerOption,
    Band,
    EnableWhen,
    Group,
    Item,
    ProfileDimension,
    Questionnaire,
    VersionLink,
    text_in,
    version_key,
)
from harmonia.sql import literal as sql_literal

__all__ = [
    "FILE_NAME_OPTION",
    "NO_SEGMENT",
    "OUTPUT_KINDS",
    "RECORD_KINDS",
    "AnswerOption",
    "AttributeFeature",
    "AutoRule",
    "Band",
    "Batch",
    "ChannelPlan",
    "Command",
    "ConfigError",
    "ConflictError",
    "ConsistencyFeature",
    "CountryProfile",
    "CsvConventions",
    "CycleInfo",
    "DataSource",
    "DefinitionError",
    "Dimension",
    "EnableWhen",
    "EngagementStrategy",
    "Erasure",
    "Group",
    "Harmonia",
    "HarmoniaDeprecationWarning",
    "HarmoniaError",
    "IdentifierScheme",
    "InputError",
    "InvalidIdentifier",
    "Item",
    "Matrix",
    "MatrixAxis",
    "MetricBounds",
    "MetricFeature",
    "Missing",
    "NotFoundError",
    "Option",
    "OutputSink",
    "Period",
    "PluginError",
    "Problem",
    "ProfileDimension",
    "ProfileFeature",
    "Provenance",
    "PullThrough",
    "PullThroughTest",
    "QuantileFeature",
    "Questionnaire",
    "RefinementPolicy",
    "Rule",
    "RuleSet",
    "SinkRequest",
    "SourceRequest",
    "TherapyAreaChoice",
    "VersionLink",
    "current_app",
    "data_pack",
    "duckdb_connection",
    "hookimpl",
    "load_definitions",
    "source_request",
    "sql_literal",
    "text_in",
    "version_key",
]


def load_definitions(cls, *sources):
    """Load every definition of type ``cls`` from TOML/FHIR files or directories.

    See :func:`harmonia.definitions.loading.load_definitions`; FHIR JSON
    questionnaires are read by the FHIR adapter. Imported on first use so that
    packs load fast.
    """
    from harmonia.definitions.loading import load_definitions as load
    from harmonia.fhir import definition_readers

    return load(cls, *sources, readers=definition_readers())


def source_request(options: dict[str, str], country: str | None = None) -> SourceRequest:
    """The request a load through the installed packs would hand a source.

    For pack commands that drive a source outside ``harmonia load`` (the
    synthetic universe writer, a vendor export): it carries the country's
    profile, the installed questionnaires and identifier schemes. The same as
    ``current_app().source_request(options, country)``.
    """
    from harmonia.app import current_app

    return current_app().source_request(options, country)


def __getattr__(name: str) -> Any:
    # The application layer loads on first use: packs import harmonia at every start.
    if name in ("Harmonia", "current_app"):
        import harmonia.app

        return getattr(harmonia.app, name)
    raise AttributeError(f"module 'harmonia' has no attribute {name!r}")
