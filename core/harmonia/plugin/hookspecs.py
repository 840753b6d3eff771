"""Hook specifications: everything a pack can provide to harmonia.

This module *is* the reference (``docs/hooks.md`` is generated from it, and a
test fails when a hook is undocumented or unexercised). Every hook is named
``harmonia_<plural noun>``, takes no required arguments and is **collect-all**:
harmonia calls every pack's implementation, one at a time, and each returns an
iterable of records (or nothing). The plugin manager then

* tags every record with its provenance (pack, distribution, version),
* refuses two records with the same name from different packs, naming both,
* chooses a single implementation only by explicit name in configuration,
  never by registration order.

Implementations receive only the arguments they name, so hooks evolve
additively: new keyword arguments may appear; removals go through
:class:`~harmonia.errors.HarmoniaDeprecationWarning` first.

A pack is an installable distribution registering its module under the
entry-point group ``harmonia``::

    [project.entry-points.harmonia]
    fr = "harmonia_fr"

and implementing hooks with :data:`harmonia.hookimpl`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

from harmonia.errors import HarmoniaDeprecationWarning

if TYPE_CHECKING:
    import click

    from harmonia.definitions import CountryProfile, EngagementStrategy, RefinementPolicy, RuleSet
    from harmonia.plugin.types import Command, DataSource, IdentifierScheme, OutputSink
    from harmonia.questionnaires import Questionnaire

PROJECT = "harmonia"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def harmonia_data_sources() -> Iterable[DataSource]:
    """Data sources this pack provides.

    **Parameters:** none.

    **Returns:** :class:`~harmonia.plugin.types.DataSource` records. Each names
    the record kinds it yields (``customers``, ``metrics``, ``responses``),
    its family (``rep``, ``external`` or ``local``, which country profiles
    allow or refuse) and a ``read(request)`` callable yielding
    :class:`~harmonia.plugin.types.Batch` objects of canonical columns. The core
    validates every row, stores it or quarantines it with its reasons.

    **Calling convention:** collect-all; names must be unique across packs.
    Chosen by name: ``harmonia load --source NAME --option key=value``.

    **Example**::

        @hookimpl
        def harmonia_data_sources():
            return [DataSource(name="onekey", description="IQVIA OneKey extract",
                               kinds={"customers"}, family="external", read=read_onekey)]
    """


@hookspec
def harmonia_questionnaires() -> Iterable[Questionnaire]:
    """Profiling questionnaires this pack defines, one record per version.

    **Parameters:** none.

    **Returns:** :class:`~harmonia.definitions.Questionnaire` definitions:
    items (single and multiple choice, integer, decimal, scale, boolean,
    date, text), options with scores, translations for every declared
    language, skip logic, and the profile dimensions scored from them.
    Write them as TOML or FHIR R4 Questionnaire JSON and load them with
    :func:`harmonia.load_definitions`.

    **Calling convention:** collect-all; ``(id, version)`` must be unique
    across packs. Rule sets refer to a questionnaire's dimensions by id.

    **Example**::

        @hookimpl
        def harmonia_questionnaires():
            return load_definitions(Questionnaire, files(__package__) / "questionnaires")
    """


@hookspec
def harmonia_segmentation_rules() -> Iterable[RuleSet]:
    """Segmentation rule sets this pack defines (usually one per therapy area).

    **Parameters:** none.

    **Returns:** :class:`~harmonia.definitions.RuleSet` definitions: the
    features, then the ``segment`` dimension (and optional ``needs`` and
    ``tier``) as ordered rules, a matrix and a fallback. Conditions are
    checked when the pack loads: unknown features, functions, type
    mismatches and unreachable rules are errors naming the pack, the rule
    and the position.

    **Calling convention:** collect-all; names must be unique across packs.
    A country picks a rule set per therapy area by name, or gets the therapy
    area's only rule set.

    **Example**::

        @hookimpl
        def harmonia_segmentation_rules():
            return load_definitions(RuleSet, files(__package__) / "rules")
    """


@hookspec
def harmonia_refinement_policies() -> Iterable[RefinementPolicy]:
    """Field refinement policies: what reps may change and who approves.

    **Parameters:** none.

    **Returns:** :class:`~harmonia.definitions.RefinementPolicy` definitions
    (allowed moves, reasons, the share of a rep's customers that may change,
    approval). Country profiles that opt in to field refinement name one.

    **Calling convention:** collect-all; names must be unique across packs.
    The core provides ``standard`` and ``strict``.

    **Example**::

        @hookimpl
        def harmonia_refinement_policies():
            return load_definitions(RefinementPolicy, files(__package__) / "policies.toml")
    """


@hookspec
def harmonia_output_sinks() -> Iterable[OutputSink]:
    """Output sinks: where cycle results go (files, tables, CRM load files).

    **Parameters:** none.

    **Returns:** :class:`~harmonia.plugin.types.OutputSink` records, each naming
    the outputs it accepts (``target_list``, ``assignments``,
    ``segment_summary``) and a ``write(request)`` callable that returns the
    locations it wrote, or yields each once written (a sink writing several
    files should: when a later one fails, the earlier ones are still recorded
    for an erasure). A sink whose files harmonia cannot read by their
    ``harmonia_id`` or ``customer_id`` column also gives an ``erase`` callable,
    ``erase(location, erasure)``, which removes an erased person
    (:class:`~harmonia.Erasure`) from one of them; ``harmonia privacy erase``
    calls it. An ``erase`` that takes a third parameter,
    ``erase(location, erasure, options)``, also gets the options the sink
    wrote that location with (its declared defaults filled in; ``None`` for a
    location written before harmonia recorded them), e.g. which system's
    ids are its accounts.

    **Calling convention:** collect-all; names must be unique across packs.
    Chosen by name: ``harmonia cycle run --sink NAME`` or ``[[sinks]]`` in
    ``harmonia.toml``. The core provides ``csv`` and ``parquet``.

    **Example**::

        @hookimpl
        def harmonia_output_sinks():
            return [OutputSink(name="veeva", description="Veeva CRM target load file",
                               accepts={"target_list"}, write=write_veeva)]
    """


@hookspec
def harmonia_country_profiles() -> Iterable[CountryProfile]:
    """Country profiles: a market's choices among the global options.

    **Parameters:** none.

    **Returns:** :class:`~harmonia.definitions.CountryProfile` definitions:
    process mode, data-source families, field refinement opt-in or opt-out,
    pull-through and its threshold, identifier schemes, CSV conventions,
    per-therapy-area choices and bounded parameters. Each is checked against
    the global option catalogue; a choice outside it is an error.

    **Calling convention:** collect-all; country codes must be unique across
    packs. Chosen by ``--country``.

    **Example**::

        @hookimpl
        def harmonia_country_profiles():
            return load_definitions(CountryProfile, files(__package__) / "country.toml")
    """


@hookspec
def harmonia_engagement_strategies() -> Iterable[EngagementStrategy]:
    """Engagement strategies: per therapy area, variant and segment.

    **Parameters:** none.

    **Returns:** :class:`~harmonia.definitions.EngagementStrategy`
    definitions: channels with yearly frequency and cost, messages, the
    target experience, and whether the segment is targeted at all. A cycle
    turns them into the call plan and the target list.

    **Calling convention:** collect-all; ``(therapy_area, variant, segment)``
    must be unique across packs. A country chooses the variant per therapy
    area (``strategy_variant``), ``standard`` by default.

    **Example**::

        @hookimpl
        def harmonia_engagement_strategies():
            return load_definitions(EngagementStrategy, files(__package__) / "strategies.toml")
    """


@hookspec
def harmonia_identifier_schemes() -> Iterable[IdentifierScheme]:
    """National HCP/HCO identifier schemes and their validators.

    **Parameters:** none.

    **Returns:** :class:`~harmonia.plugin.types.IdentifierScheme` records: a name
    (``RPPS``, ``NPI``, ``LANR``), the country, the format as a regular
    expression and an optional check-digit algorithm, all evaluated
    vectorized at ingest. Identifiers also drive matching: the same national
    id from two systems is one customer.

    **Calling convention:** collect-all; names must be unique across packs.

    **Example**::

        @hookimpl
        def harmonia_identifier_schemes():
            return [IdentifierScheme(name="RPPS", country="FR", pattern=r"\\d{11}",
                                     checksum="luhn", description="11 digits, Luhn")]
    """


@hookspec
def harmonia_commands() -> Iterable[Command]:
    """CLI commands this pack adds to ``harmonia``, declared, not wired.

    **Parameters:** none.

    **Returns:** :class:`~harmonia.plugin.types.Command` records: a ``name``,
    the ``path`` of the click command as ``"module:attribute"``, a one-line
    ``help``, and the built-in ``group`` it joins (``questionnaire``), or
    none for a top-level command. The CLI imports the command only when it
    runs or its help is shown, so ``harmonia --help`` imports no pack
    command. A command may not shadow a built-in one (it is refused with a
    warning); one that fails to import becomes a stub that says why.

    **Calling convention:** collect-all; ``(group, name)`` should be unique
    across packs: when two packs declare the same, the pack registered first
    (entry points register in name order) keeps it and the other's is disabled
    with a warning naming both (an error under ``HARMONIA_STRICT_PLUGINS=1``);
    the rest of the CLI keeps working.

    **Example**::

        @hookimpl
        def harmonia_commands():
            return [Command(name="fr-export", path="harmonia_fr.cli:fr_export",
                            help="Export the French target list for our CRM.")]
    """


@hookspec(
    warn_on_impl=HarmoniaDeprecationWarning(
        "harmonia_register_commands is deprecated: return Command records from "
        "harmonia_commands instead (see docs/hooks.md)"
    )
)
def harmonia_register_commands(cli: click.Group) -> None:
    """Deprecated: add commands to the ``harmonia`` CLI (use ``harmonia_commands``).

    **Parameters:** ``cli``, a root :class:`click.Group` of this run only;
    its built-in groups are stand-ins that collect what is added to them.

    **Returns:** nothing; call ``cli.add_command(...)`` (or add to one of its
    groups). A command may not shadow a built-in name; a pack whose
    registration fails gets a stub command that explains the failure.
    Implementing it raises :class:`~harmonia.errors.HarmoniaDeprecationWarning`:
    the commands are imported at every start, which ``harmonia_commands``
    avoids. It will be removed in a later release (see CHANGELOG.md).

    **Calling convention:** collect-all, called once per CLI start.

    **Example**::

        @hookimpl
        def harmonia_register_commands(cli):
            @cli.command(name="fr-export")
            def fr_export():
                "Export the French target list in the format of our CRM."
    """
