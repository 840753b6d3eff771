"""The plugin manager and the catalog: discovery, strictness, validation, conflicts, provenance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
import tiny_market

from harmonia import (
    CountryProfile,
    DataSource,
    EngagementStrategy,
    IdentifierScheme,
    OutputSink,
    PullThrough,
    Questionnaire,
    RefinementPolicy,
    Rule,
    RuleSet,
    load_definitions,
)
from harmonia.errors import ConflictError, NotFoundError, PluginError
from harmonia.plugin.catalog import Catalog
from harmonia.plugin.kinds import HOOK_KINDS, build_order
from harmonia.plugin.manager import BUILTIN_MODULES, PluginManager
from harmonia.testing import module_pack

GOOD_PACK = """
from harmonia import DataSource, hookimpl

@hookimpl
def harmonia_data_sources():
    return [DataSource(name="good-source", description="a source", kinds={"customers"},
                       family="external", read=lambda request: [])]
"""

BROKEN_PACK = """
raise ImportError("No module named 'vendor_sdk'")
"""


def tiny_definition(cls: type, file: str) -> Any:
    """The first definition of ``cls`` in one of tiny_market's data files."""
    return load_definitions(cls, tiny_market._DATA / file)[0]


def fresh(**kwargs: Any) -> PluginManager:
    """A manager with the built-ins only (what ``harmonia_plugins`` gives, with options)."""
    manager = PluginManager(**kwargs)
    manager.load_builtins()
    return manager


# --- built-ins -------------------------------------------------------------------


def test_builtins_go_through_the_same_register_call_as_installed_packs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    original = PluginManager.register

    def spy(self: PluginManager, plugin: Any, **kwargs: Any) -> Any:
        calls.append((plugin.__name__, kwargs))
        return original(self, plugin, **kwargs)

    monkeypatch.setattr(PluginManager, "register", spy)
    PluginManager.discover(strict=True, entry_points=False)
    assert [name for name, _ in calls] == list(BUILTIN_MODULES)
    assert all(kwargs["builtin"] and kwargs["distribution"] == "harmonia" for _, kwargs in calls)


def test_builtins_provide_csv_parquet_sources_and_sinks_and_two_policies(
    harmonia_plugins: PluginManager,
) -> None:
    assert {pack.name for pack in harmonia_plugins.packs} == set(BUILTIN_MODULES)
    assert all(pack.builtin and pack.error is None for pack in harmonia_plugins.packs)
    catalog = harmonia_plugins.catalog()
    assert {"csv", "parquet", "fhir"} == set(catalog.data_sources)
    assert {"csv", "parquet"} == set(catalog.output_sinks)
    assert {"standard", "strict"} == set(catalog.refinement_policies)
    sources = catalog.data_sources["csv"].provenance
    assert (sources.pack, sources.distribution) == ("harmonia.builtin.sources", "harmonia")


# --- entry points ------------------------------------------------------------------


def test_installed_packs_are_found_through_their_entry_points(installed: Callable) -> None:
    installed("harmonia-good", "good", "good_pack", GOOD_PACK, version="2.3")
    manager = PluginManager.discover(strict=True)
    (pack,) = [pack for pack in manager.packs if pack.name == "good"]
    assert (pack.distribution, pack.version, pack.builtin) == ("harmonia-good", "2.3", False)
    assert pack.hooks == ("harmonia_data_sources",)
    catalog = manager.catalog()
    assert catalog.data_sources["good-source"].provenance.distribution == "harmonia-good"


def test_a_pack_that_fails_to_import_is_a_warning_and_the_others_still_load(
    installed: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HARMONIA_STRICT_PLUGINS", raising=False)
    installed("harmonia-broken", "broken", "broken_pack", BROKEN_PACK, version="0.9")
    installed("harmonia-good", "good", "good_pack", GOOD_PACK)
    manager = PluginManager.discover()
    (warning,) = [w for w in manager.warnings if "broken" in w]
    assert "distribution harmonia-broken 0.9" in warning
    assert "ImportError" in warning and "vendor_sdk" in warning
    assert "pip uninstall harmonia-broken" in warning
    assert "HARMONIA_LOAD_PLUGINS" in warning
    broken = next(pack for pack in manager.packs if pack.name == "broken")
    assert broken.error is not None and broken.hooks == ()
    catalog = manager.catalog()
    assert "good-source" in catalog.data_sources
    assert warning in catalog.warnings  # the catalog carries discovery's warnings


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_a_pack_that_fails_to_import_is_fatal_in_strict_mode(
    installed: Callable, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    installed("harmonia-broken", "broken", "broken_pack", BROKEN_PACK)
    if how == "environment":
        monkeypatch.setenv("HARMONIA_STRICT_PLUGINS", "1")
        manager = PluginManager(allow=["broken"])
    else:
        monkeypatch.delenv("HARMONIA_STRICT_PLUGINS", raising=False)
        manager = PluginManager(strict=True, allow=["broken"])
    with pytest.raises(PluginError) as raised:
        manager.load_entry_points()
    message = str(raised.value)
    assert "harmonia-broken" in message and "vendor_sdk" in message
    assert "HARMONIA_STRICT_PLUGINS" in message  # how to get going without it


@pytest.mark.parametrize(("value", "strict"), [("", False), ("0", False), ("1", True)])
def test_strict_environment_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, strict: bool
) -> None:
    monkeypatch.setenv("HARMONIA_STRICT_PLUGINS", value)
    assert PluginManager().strict is strict


def test_allow_list_loads_only_the_named_packs_by_entry_point_or_distribution(
    installed: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed("harmonia-good", "good", "good_pack", GOOD_PACK)
    installed("harmonia-broken", "broken", "broken_pack", BROKEN_PACK)
    for allowed in ("good", "harmonia-good", " good , other"):
        monkeypatch.setenv("HARMONIA_LOAD_PLUGINS", allowed)
        manager = PluginManager.discover(strict=True)  # strict: the broken pack is never touched
        external = [pack.name for pack in manager.packs if not pack.builtin]
        assert external == ["good"], allowed
    assert [w for w in manager.warnings if "'other'" in w and "no installed pack" in w]


def test_empty_allow_list_means_built_ins_only(
    installed: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed("harmonia-good", "good", "good_pack", GOOD_PACK)
    monkeypatch.setenv("HARMONIA_LOAD_PLUGINS", "")
    manager = PluginManager.discover(strict=True)
    assert all(pack.builtin for pack in manager.packs)
    assert {pack.name for pack in manager.packs} == set(BUILTIN_MODULES)


# --- registration --------------------------------------------------------------------


def test_misspelled_hook_is_an_error_naming_the_pack() -> None:
    manager = fresh(strict=False)
    typo = module_pack("typo", harmonia_datasources=lambda: [])
    info = manager.register(typo, distribution="harmonia-typo", version="1.0")
    assert "harmonia_datasources" in info.error
    (warning,) = manager.warnings
    assert "typo" in warning and "harmonia-typo" in warning
    assert "harmonia_datasources" in warning
    assert "typo" not in {pack.name for pack in manager.packs if pack.error is None}
    # The rest of the manager still works after refusing the pack.
    assert "csv" in manager.catalog().data_sources


def test_misspelled_hook_is_fatal_in_strict_mode() -> None:
    manager = fresh(strict=True)
    with pytest.raises(PluginError, match="harmonia_datasources"):
        manager.register(module_pack("typo", harmonia_datasources=lambda: []))


def test_hook_implementation_with_an_unknown_argument_is_refused() -> None:
    manager = fresh(strict=False)
    pack = module_pack("odd", harmonia_data_sources=lambda country: [])
    assert "country" in manager.register(pack).error
    assert "odd" in manager.warnings[0] and "country" in manager.warnings[0]


def test_a_pack_name_registered_twice_is_refused(harmonia_plugins: PluginManager) -> None:
    assert harmonia_plugins.register(module_pack("same")).error is None
    assert "already registered" in harmonia_plugins.register(module_pack("same")).error
    assert "already registered" in harmonia_plugins.warnings[-1]


# --- calling hooks -----------------------------------------------------------------------

RECORDS: dict[str, tuple[str, Callable[[], Any]]] = {
    # hook -> (registry attribute, a record whose name tiny_market or a built-in already uses)
    "harmonia_data_sources": (
        "data_sources",
        lambda: DataSource(
            name="csv", description="x", kinds={"customers"}, family="local", read=lambda r: []
        ),
    ),
    "harmonia_output_sinks": (
        "output_sinks",
        lambda: OutputSink(name="csv", description="x", accepts={"target_list"}, write=print),
    ),
    "harmonia_refinement_policies": (
        "refinement_policies",
        lambda: RefinementPolicy(name="standard", description="x"),
    ),
    "harmonia_identifier_schemes": ("identifier_schemes", lambda: tiny_market.TINY),
    "harmonia_country_profiles": (
        "country_profiles",
        lambda: tiny_definition(CountryProfile, "country.toml"),
    ),
    "harmonia_questionnaires": (
        "questionnaires",
        lambda: tiny_definition(Questionnaire, "questionnaires/tiny-profile-v1.toml"),
    ),
    "harmonia_segmentation_rules": (
        "rule_sets",
        lambda: tiny_definition(RuleSet, "rules/tiny-core.toml"),
    ),
    "harmonia_engagement_strategies": (
        "engagement_strategies",
        lambda: tiny_definition(EngagementStrategy, "strategies.toml"),
    ),
}


@pytest.mark.parametrize("hook", sorted(RECORDS))
def test_two_packs_providing_the_same_name_is_a_conflict_naming_both(
    tiny: Catalog, register_pack: Callable, harmonia_plugins: PluginManager, hook: str
) -> None:
    _, record = RECORDS[hook]
    register_pack(module_pack("copycat", **{hook: lambda: [record()]}), version="6.6")
    with pytest.raises(ConflictError) as raised:
        harmonia_plugins.catalog()  # when the catalog is built, not when a registry is read
    message = str(raised.value)
    assert "provided by both" in message
    assert "copycat (test-copycat 6.6)" in message
    assert "(harmonia " in message or "tiny (test-tiny 1.0)" in message


def test_a_conflict_can_be_reported_instead_and_leaves_the_name_out(
    tiny: Catalog, register_pack: Callable, harmonia_plugins: PluginManager
) -> None:
    register_pack(module_pack("copycat", harmonia_identifier_schemes=lambda: [tiny_market.TINY]))
    catalog = harmonia_plugins.catalog(conflicts="report")
    (conflict,) = catalog.conflicts
    assert (
        "identifier scheme TINY is provided by both" in conflict and "tiny (test-tiny" in conflict
    )
    assert "TINY" not in catalog.identifier_schemes
    assert "identifier scheme 'TINY'" in catalog.country_profiles.rejected["NL"]  # NL names it


def test_the_catalog_is_frozen(tiny: Catalog) -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        tiny.rule_sets = tiny.questionnaires  # type: ignore[misc]
    with pytest.raises(TypeError):
        tiny.rule_sets._records["x"] = None  # type: ignore[index]


def test_the_catalog_calls_each_hook_once_when_built(
    register_pack: Callable, harmonia_plugins: PluginManager
) -> None:
    calls: list[str] = []

    def sources() -> list:
        calls.append("called")
        return []

    register_pack(module_pack("counted", harmonia_data_sources=sources))
    catalog = harmonia_plugins.catalog()
    for _ in range(3):
        catalog.data_sources.get_or_fail("csv")
        catalog.describe(catalog.pack("counted"))
    assert calls == ["called"]


def test_one_table_of_hook_kinds_matches_the_hooks_and_the_catalog() -> None:
    from harmonia.plugin import hookspecs

    hooks = {name for name in vars(hookspecs) if name.startswith("harmonia_")}
    assert {kind.hook for kind in HOOK_KINDS} == hooks - {"harmonia_register_commands"}
    fields = {field.name for field in attrs.fields(Catalog)}
    assert {kind.attribute for kind in HOOK_KINDS} <= fields
    order = [kind.attribute for kind in build_order()]
    for kind in HOOK_KINDS:
        assert all(order.index(need) < order.index(kind.attribute) for need in kind.needs)


def test_every_record_carries_the_provenance_of_its_pack(tiny: Catalog) -> None:
    registries = [
        tiny.data_sources,
        tiny.output_sinks,
        tiny.refinement_policies,
        tiny.identifier_schemes,
        tiny.country_profiles,
        tiny.questionnaires,
        tiny.rule_sets,
        tiny.engagement_strategies,
    ]
    packs = {pack.name: pack for pack in tiny.packs}
    for registry in registries:
        assert registry, registry.what
        for record in registry.values():
            pack = packs[record.provenance.pack]
            assert record.provenance == pack.provenance
    assert tiny.rule_sets["tiny-core"].provenance.distribution == "test-tiny"
    assert str(tiny.rule_sets["tiny-core"].provenance) == "tiny (test-tiny 1.0)"


def test_provenance_is_not_part_of_a_records_identity(tiny: Catalog) -> None:
    declared = tiny_definition(RuleSet, "rules/tiny-core.toml")
    assert declared.provenance is None
    assert tiny.rule_sets["tiny-core"] == declared


def test_a_hook_implementation_that_raises_is_a_warning_naming_pack_and_hook(
    harmonia_plugins: PluginManager, register_pack: Callable
) -> None:
    def explode() -> list:
        raise RuntimeError("vendor API down")

    builtin = set(harmonia_plugins.catalog().output_sinks)
    register_pack(module_pack("flaky", harmonia_output_sinks=explode), version="2.0")
    catalog = harmonia_plugins.catalog()
    assert set(catalog.output_sinks) == builtin
    (warning,) = catalog.warnings
    assert "flaky" in warning and "test-flaky 2.0" in warning
    assert "harmonia_output_sinks" in warning and "vendor API down" in warning


def test_a_hook_implementation_that_raises_is_fatal_in_strict_mode() -> None:
    manager = fresh(strict=True)

    def explode() -> list:
        raise RuntimeError("vendor API down")

    manager.register(module_pack("flaky", harmonia_output_sinks=explode))
    with pytest.raises(PluginError, match="vendor API down"):
        manager.catalog()


def test_a_record_of_the_wrong_type_is_refused(
    harmonia_plugins: PluginManager, register_pack: Callable
) -> None:
    register_pack(
        module_pack("sloppy", harmonia_data_sources=lambda: [{"name": "dict-source"}]),
    )
    catalog = harmonia_plugins.catalog()
    assert "dict-source" not in catalog.data_sources
    (warning,) = catalog.warnings
    assert "sloppy" in warning and "returned dict, expected data source records" in warning


def test_records_validate_themselves() -> None:
    with pytest.raises(ValueError, match="unknown record kinds"):
        DataSource(name="x", description="", kinds={"orders"}, family="local", read=print)
    with pytest.raises(ValueError, match="family"):
        DataSource(name="x", description="", kinds={"customers"}, family="crm", read=print)
    with pytest.raises(ValueError, match="unknown outputs"):
        OutputSink(name="x", description="", accepts={"invoice"}, write=print)
    with pytest.raises(ValueError, match="checksum"):
        IdentifierScheme(name="X", country="NL", description="", pattern=r"\d", checksum="mod97")


# --- country profiles and rule sets checked at load ---------------------------------------------


def _profile(**changes: Any) -> CountryProfile:
    return attrs.evolve(tiny_definition(CountryProfile, "country.toml"), **changes)


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        ({"process_mode": "automatic"}, "process_mode", "'automatic' is not allowed"),
        ({"data_sources": ("local", "crm")}, "data_sources", "'crm' is not allowed"),
        ({"field_refinement": "sometimes"}, "field_refinement", "'sometimes' is not allowed"),
        (
            {"pull_through": PullThrough(enabled=True, threshold=0.9)},
            "pull_through.threshold",
            "0.9 is outside the range the global catalogue allows [0.0, 0.5]",
        ),
        ({"response_max_age_months": 3}, "response_max_age_months", "outside the range"),
        ({"parameters": {"frequency_scale": 3.0}}, "parameters.frequency_scale", "outside"),
        ({"parameters": {"bonus": 1.0}}, "parameters.bonus", "is not a parameter markets may set"),
    ],
)
def test_a_country_profile_outside_the_catalogue_is_rejected_with_a_clear_message(
    tiny: Catalog,
    register_pack: Callable,
    harmonia_plugins: PluginManager,
    changes: dict,
    path: str,
    message: str,
) -> None:
    profile = _profile(code="BE", name="Belgium", **changes)
    register_pack(module_pack("be", harmonia_country_profiles=lambda: [profile]))
    catalog = harmonia_plugins.catalog()
    assert set(catalog.country_profiles) == {"NL"}
    (warning,) = catalog.warnings
    assert "test-be" in warning and "country profile BE" in warning
    assert f"{path}: " in warning and message in warning
    with pytest.raises(NotFoundError, match="BE was rejected when its pack loaded"):
        catalog.country_profiles.get_or_fail("BE")


def test_a_country_profile_built_in_python_is_checked_like_one_from_toml(
    tiny: Catalog, register_pack: Callable, harmonia_plugins: PluginManager
) -> None:
    # The same profile in a TOML file is refused by load_definitions; a pack
    # that builds it in Python must not slip past the profile's own checks.
    profile = _profile(
        code="be",
        process_mode="data-driven",
        field_refinement="opt-in",
        refinement_policy=None,
    )
    register_pack(module_pack("be", harmonia_country_profiles=lambda: [profile]))
    catalog = harmonia_plugins.catalog()
    with pytest.raises(NotFoundError) as raised:
        catalog.country_profiles.get_or_fail("be")
    message = str(raised.value)
    assert "code: 'be' is not an ISO 3166 alpha-2 code" in message
    assert "field_refinement: a data-driven process has no field step" in message
    assert "refinement_policy: field refinement is opt-in: name a refinement policy" in message


def test_a_rule_set_built_in_python_is_checked_like_one_from_toml(
    tiny: Catalog, register_pack: Callable, harmonia_plugins: PluginManager
) -> None:
    declared = tiny_definition(RuleSet, "rules/tiny-core.toml")
    broken = attrs.evolve(
        declared, name="tiny-odd", segment=attrs.evolve(declared.segment, fallback="dormant")
    )
    register_pack(module_pack("odd", harmonia_segmentation_rules=lambda: [broken]))
    catalog = harmonia_plugins.catalog()
    with pytest.raises(NotFoundError, match=r"segment\.fallback: fallback 'dormant' is not"):
        catalog.rule_sets.get_or_fail("tiny-odd")


def test_a_rule_set_reading_a_metric_no_pack_declares_is_a_warning_naming_pack_and_rule_set(
    tiny: Catalog, register_pack: Callable, harmonia_plugins: PluginManager
) -> None:
    declared = tiny_definition(RuleSet, "rules/tiny-core.toml")
    features = tuple(
        attrs.evolve(f, metric="potencial") if f.name == "potential" else f
        for f in declared.features
    )
    typo = attrs.evolve(declared, name="tiny-typo", features=features)
    register_pack(module_pack("typo", harmonia_segmentation_rules=lambda: [typo]), version="2.0")
    catalog = harmonia_plugins.catalog()
    (warning,) = [w for w in catalog.warnings if "potencial" in w]
    assert "pack typo (test-typo 2.0), rule set tiny-typo: features[1] 'potential'" in warning
    assert "reads metric 'potencial', which no installed pack declares for cardiology" in warning
    assert "did you mean 'potential'?" in warning and "[[metrics]]" in warning
    assert catalog.rule_sets["tiny-typo"] == typo  # a warning: the rule set is kept
    # The tiny market declares what it reads (calls is an actual the core knows).
    assert not [w for w in tiny.warnings if "no installed pack declares" in w]

    strict = PluginManager(strict=True)
    strict.load_builtins()
    strict.register(
        module_pack(
            "typo",
            harmonia_questionnaires=tiny_market.harmonia_questionnaires,
            harmonia_segmentation_rules=lambda: [typo],
        )
    )
    with pytest.raises(PluginError, match=r"rule set tiny-typo: .* reads metric 'potencial'"):
        strict.catalog()


def test_a_country_profile_naming_an_uninstalled_policy_or_scheme_is_rejected(
    tiny: Catalog, register_pack: Callable, harmonia_plugins: PluginManager
) -> None:
    profile = _profile(
        code="BE",
        process_mode="field-involved",
        field_refinement="opt-in",
        refinement_policy="be-standard",
        identifier_schemes=("TINY", "RIZIV"),
    )
    register_pack(module_pack("be", harmonia_country_profiles=lambda: [profile]))
    catalog = harmonia_plugins.catalog()
    assert "BE" not in catalog.country_profiles
    (warning,) = catalog.warnings
    assert "refinement_policy: no installed pack provides policy 'be-standard'" in warning
    assert "(standard, strict)" in warning  # what is installed
    assert "identifier_schemes[1]: no installed pack provides identifier scheme 'RIZIV'" in warning


def test_a_rule_set_with_a_bad_condition_names_pack_rule_and_position(
    tiny: Catalog, register_pack: Callable, harmonia_plugins: PluginManager
) -> None:
    declared = tiny_definition(RuleSet, "rules/tiny-core.toml")
    rules = list(declared.segment.rules)
    rules[2] = Rule("grow", "potential_q >= 3 AND spend > 5", "grow")
    broken = attrs.evolve(
        declared, name="tiny-bad", segment=attrs.evolve(declared.segment, rules=tuple(rules))
    )
    register_pack(module_pack("bad", harmonia_segmentation_rules=lambda: [broken]), version="0.3")
    catalog = harmonia_plugins.catalog()
    assert set(catalog.rule_sets) == {"tiny-core"}
    (warning,) = catalog.warnings
    assert "test-bad 0.3" in warning and "rule set tiny-bad" in warning
    assert "segment.rules[2].when: rule 'grow', column 22: unknown feature 'spend'" in warning
    with pytest.raises(NotFoundError, match=r"segment\.rules\[2\]\.when"):
        catalog.rule_sets.get_or_fail("tiny-bad")


def test_a_rule_set_scoring_an_uninstalled_questionnaire_is_rejected(
    harmonia_plugins: PluginManager, register_pack: Callable
) -> None:
    rule_set = tiny_definition(RuleSet, "rules/tiny-core.toml")
    register_pack(module_pack("rules-only", harmonia_segmentation_rules=lambda: [rule_set]))
    catalog = harmonia_plugins.catalog()
    assert "tiny-core" not in catalog.rule_sets
    assert (
        "features[5]: no questionnaire 'tiny-profile' with a dimension 'adoption' is installed"
        in catalog.warnings[0]
    )


def test_a_questionnaire_version_that_breaks_its_link_to_the_previous_is_rejected(
    harmonia_plugins: PluginManager, register_pack: Callable
) -> None:
    from harmonia import VersionLink

    first = tiny_definition(Questionnaire, "questionnaires/tiny-profile-v1.toml")
    # Version 2 says it follows version 1 and maps an item to one that does not exist.
    second = attrs.evolve(
        first,
        version="2",
        previous=VersionLink(version="1", items={first.items[0].id: "no_such_item"}),
    )
    register_pack(module_pack("versions", harmonia_questionnaires=lambda: [first, second]))
    catalog = harmonia_plugins.catalog()
    assert set(catalog.questionnaires) == {("tiny-profile", "1")}
    assert "questionnaire tiny-profile/2" in catalog.questionnaires.rejected[("tiny-profile", "2")]
    (warning,) = catalog.warnings
    assert "no_such_item" in warning


def test_a_missing_name_suggests_the_closest_installed_one(tiny: Catalog) -> None:
    with pytest.raises(NotFoundError) as raised:
        tiny.country_profiles.get_or_fail("NLD")
    assert "no country profile NLD (did you mean NL?); available: NL" in str(raised.value)


def test_each_pack_reports_what_it_provides(tiny: Catalog) -> None:
    assert tiny.describe(tiny.pack("tiny")) == {
        "countries": ["NL"],
        "therapy_areas": ["cardiology"],
        "questionnaires": ["tiny-profile/1"],
        "strategies": ["cardiology/standard (5 segments)"],
        "identifiers": ["TINY"],
    }


def test_a_country_choosing_an_uninstalled_rule_set_or_strategy_variant_is_rejected(
    tiny: Catalog, register_pack: Callable, harmonia_plugins: PluginManager
) -> None:
    nl = tiny.country_profiles["NL"]
    from harmonia import TherapyAreaChoice

    choice = TherapyAreaChoice(rule_set="tiny-typo", strategy_variant="lavish")
    be = attrs.evolve(nl, code="BE", name="Belgium", therapy_areas={"cardiology": choice})
    register_pack(module_pack("be", harmonia_country_profiles=lambda: [be]), version="0.2")
    catalog = harmonia_plugins.catalog()
    assert "BE" not in catalog.country_profiles
    (warning,) = catalog.warnings
    assert "pack 'be' (test-be 0.2)" in warning and "country profile BE" in warning
    assert "therapy_areas.cardiology.rule_set: no installed rule set 'tiny-typo'" in warning
    assert "therapy_areas.cardiology.strategy_variant: no installed engagement strategy " in (
        warning
    )


def test_a_strategy_for_a_segment_no_rule_set_declares_is_rejected_naming_its_pack(
    tiny: Catalog, register_pack: Callable, harmonia_plugins: PluginManager
) -> None:
    (strategy, *_) = tiny.engagement_strategies.values()
    stray = attrs.evolve(strategy, segment="vip", variant="extra", provenance=None)
    register_pack(module_pack("extra", harmonia_engagement_strategies=lambda: [stray]))
    catalog = harmonia_plugins.catalog()
    assert all(key[2] != "vip" for key in catalog.engagement_strategies)
    (warning,) = catalog.warnings
    assert "pack 'extra'" in warning and "'vip' is not a segment of the installed" in warning


def test_only_a_sink_erases_what_it_wrote() -> None:
    """A source writes nothing, so it has no ``erase`` and nothing that calls one
    (an ``erase_location`` pasted into it raised AttributeError when called)."""
    source = DataSource(
        name="x", description="", kinds={"metrics"}, family="local", read=lambda request: []
    )
    assert not hasattr(source, "erase")
    assert not hasattr(source, "erase_location")
    assert callable(OutputSink.erase_location)
