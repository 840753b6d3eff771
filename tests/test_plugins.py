"""The plugin manager: discovery, strictness, validation, conflicts, provenance."""

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
from harmonia.plugins import BUILTIN_MODULES, Plugins, module_pack

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


def fresh(**kwargs: Any) -> Plugins:
    """A manager with the built-ins only (what ``harmonia_plugins`` gives, with options)."""
    plugins = Plugins(**kwargs)
    plugins.load_builtins()
    return plugins


# --- built-ins -------------------------------------------------------------------


def test_builtins_go_through_the_same_register_call_as_installed_packs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    original = Plugins.register

    def spy(self: Plugins, plugin: Any, **kwargs: Any) -> Any:
        calls.append((plugin.__name__, kwargs))
        return original(self, plugin, **kwargs)

    monkeypatch.setattr(Plugins, "register", spy)
    Plugins.discover(strict=True, entry_points=False)
    assert [name for name, _ in calls] == list(BUILTIN_MODULES)
    assert all(kwargs["builtin"] and kwargs["distribution"] == "harmonia" for _, kwargs in calls)


def test_builtins_provide_csv_parquet_sources_and_sinks_and_two_policies(
    harmonia_plugins: Plugins,
) -> None:
    assert {pack.name for pack in harmonia_plugins.packs} == set(BUILTIN_MODULES)
    assert all(pack.builtin and pack.error is None for pack in harmonia_plugins.packs)
    assert {"csv", "parquet"} <= set(harmonia_plugins.data_sources)
    assert {"csv", "parquet"} <= set(harmonia_plugins.output_sinks)
    assert {"standard", "strict"} <= set(harmonia_plugins.refinement_policies)
    sources = harmonia_plugins.data_sources["csv"].provenance
    assert (sources.pack, sources.distribution) == ("harmonia.builtin.sources", "harmonia")


# --- entry points ------------------------------------------------------------------


def test_installed_packs_are_found_through_their_entry_points(installed: Callable) -> None:
    installed("harmonia-good", "good", "good_pack", GOOD_PACK, version="2.3")
    plugins = Plugins.discover(strict=True)
    (pack,) = [pack for pack in plugins.packs if pack.name == "good"]
    assert (pack.distribution, pack.version, pack.builtin) == ("harmonia-good", "2.3", False)
    assert pack.hooks == ("harmonia_data_sources",)
    assert plugins.data_sources["good-source"].provenance.distribution == "harmonia-good"


def test_a_pack_that_fails_to_import_is_a_warning_and_the_others_still_load(
    installed: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HARMONIA_STRICT_PLUGINS", raising=False)
    installed("harmonia-broken", "broken", "broken_pack", BROKEN_PACK, version="0.9")
    installed("harmonia-good", "good", "good_pack", GOOD_PACK)
    plugins = Plugins.discover()
    (warning,) = [w for w in plugins.warnings if "broken" in w]
    assert "distribution harmonia-broken 0.9" in warning
    assert "ImportError" in warning and "vendor_sdk" in warning
    assert "pip uninstall harmonia-broken" in warning
    assert "HARMONIA_LOAD_PLUGINS" in warning
    broken = next(pack for pack in plugins.packs if pack.name == "broken")
    assert broken.error is not None and broken.hooks == ()
    assert "good-source" in plugins.data_sources


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_a_pack_that_fails_to_import_is_fatal_in_strict_mode(
    installed: Callable, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    installed("harmonia-broken", "broken", "broken_pack", BROKEN_PACK)
    if how == "environment":
        monkeypatch.setenv("HARMONIA_STRICT_PLUGINS", "1")
        plugins = Plugins(allow=["broken"])
    else:
        monkeypatch.delenv("HARMONIA_STRICT_PLUGINS", raising=False)
        plugins = Plugins(strict=True, allow=["broken"])
    with pytest.raises(PluginError) as raised:
        plugins.load_entry_points()
    message = str(raised.value)
    assert "harmonia-broken" in message and "vendor_sdk" in message
    assert "HARMONIA_STRICT_PLUGINS" in message  # how to get going without it


@pytest.mark.parametrize(("value", "strict"), [("", False), ("0", False), ("1", True)])
def test_strict_environment_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, strict: bool
) -> None:
    monkeypatch.setenv("HARMONIA_STRICT_PLUGINS", value)
    assert Plugins().strict is strict


def test_allow_list_loads_only_the_named_packs_by_entry_point_or_distribution(
    installed: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed("harmonia-good", "good", "good_pack", GOOD_PACK)
    installed("harmonia-broken", "broken", "broken_pack", BROKEN_PACK)
    for allowed in ("good", "harmonia-good", " good , other"):
        monkeypatch.setenv("HARMONIA_LOAD_PLUGINS", allowed)
        plugins = Plugins.discover(strict=True)  # strict: the broken pack is never touched
        external = [pack.name for pack in plugins.packs if not pack.builtin]
        assert external == ["good"], allowed
    assert [w for w in plugins.warnings if "'other'" in w and "no installed pack" in w]


def test_empty_allow_list_means_built_ins_only(
    installed: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed("harmonia-good", "good", "good_pack", GOOD_PACK)
    monkeypatch.setenv("HARMONIA_LOAD_PLUGINS", "")
    plugins = Plugins.discover(strict=True)
    assert all(pack.builtin for pack in plugins.packs)
    assert {pack.name for pack in plugins.packs} == set(BUILTIN_MODULES)


# --- registration --------------------------------------------------------------------


def test_misspelled_hook_is_an_error_naming_the_pack() -> None:
    plugins = fresh(strict=False)
    typo = module_pack("typo", harmonia_datasources=lambda: [])
    assert plugins.register(typo, distribution="harmonia-typo", version="1.0") is None
    (warning,) = plugins.warnings
    assert "typo" in warning and "harmonia-typo" in warning
    assert "harmonia_datasources" in warning
    assert "typo" not in {pack.name for pack in plugins.packs if pack.error is None}
    # The rest of the manager still works after refusing the pack.
    assert "csv" in plugins.data_sources


def test_misspelled_hook_is_fatal_in_strict_mode() -> None:
    plugins = fresh(strict=True)
    with pytest.raises(PluginError, match="harmonia_datasources"):
        plugins.register(module_pack("typo", harmonia_datasources=lambda: []))


def test_hook_implementation_with_an_unknown_argument_is_refused() -> None:
    plugins = fresh(strict=False)
    pack = module_pack("odd", harmonia_data_sources=lambda country: [])
    assert plugins.register(pack) is None
    assert "odd" in plugins.warnings[0] and "country" in plugins.warnings[0]


def test_a_pack_name_registered_twice_is_refused(harmonia_plugins: Plugins) -> None:
    harmonia_plugins.register(module_pack("same"))
    assert harmonia_plugins.register(module_pack("same")) is None
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
    tiny: Plugins, register_pack: Callable, hook: str
) -> None:
    attribute, record = RECORDS[hook]
    register_pack(module_pack("copycat", **{hook: lambda: [record()]}), version="6.6")
    with pytest.raises(ConflictError) as raised:
        getattr(tiny, attribute)
    message = str(raised.value)
    assert "provided by both" in message
    assert "copycat (test-copycat 6.6)" in message
    assert "(harmonia " in message or "tiny (test-tiny 1.0)" in message


def test_every_record_carries_the_provenance_of_its_pack(tiny: Plugins) -> None:
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


def test_provenance_is_not_part_of_a_records_identity(tiny: Plugins) -> None:
    declared = tiny_definition(RuleSet, "rules/tiny-core.toml")
    assert declared.provenance is None
    assert tiny.rule_sets["tiny-core"] == declared


def test_a_hook_implementation_that_raises_is_a_warning_naming_pack_and_hook(
    harmonia_plugins: Plugins, register_pack: Callable
) -> None:
    def explode() -> list:
        raise RuntimeError("vendor API down")

    builtin = set(harmonia_plugins.output_sinks)
    register_pack(module_pack("flaky", harmonia_output_sinks=explode), version="2.0")
    assert set(harmonia_plugins.output_sinks) == builtin
    (warning,) = harmonia_plugins.warnings
    assert "flaky" in warning and "test-flaky 2.0" in warning
    assert "harmonia_output_sinks" in warning and "vendor API down" in warning


def test_a_hook_implementation_that_raises_is_fatal_in_strict_mode() -> None:
    plugins = fresh(strict=True)

    def explode() -> list:
        raise RuntimeError("vendor API down")

    plugins.register(module_pack("flaky", harmonia_output_sinks=explode))
    with pytest.raises(PluginError, match="vendor API down"):
        plugins.output_sinks  # noqa: B018


def test_a_record_of_the_wrong_type_is_refused(
    harmonia_plugins: Plugins, register_pack: Callable
) -> None:
    register_pack(
        module_pack("sloppy", harmonia_data_sources=lambda: [{"name": "dict-source"}]),
    )
    assert "dict-source" not in harmonia_plugins.data_sources
    (warning,) = harmonia_plugins.warnings
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
    tiny: Plugins, register_pack: Callable, changes: dict, path: str, message: str
) -> None:
    profile = _profile(code="BE", name="Belgium", **changes)
    register_pack(module_pack("be", harmonia_country_profiles=lambda: [profile]))
    assert set(tiny.country_profiles) == {"NL"}
    (warning,) = tiny.warnings
    assert "test-be" in warning and "country profile BE" in warning
    assert f"{path}: " in warning and message in warning
    with pytest.raises(NotFoundError, match="BE was rejected when its pack loaded"):
        tiny.country_profiles.get_or_fail("BE")


def test_a_country_profile_built_in_python_is_checked_like_one_from_toml(
    tiny: Plugins, register_pack: Callable
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
    with pytest.raises(NotFoundError) as raised:
        tiny.country_profiles.get_or_fail("be")
    message = str(raised.value)
    assert "code: 'be' is not an ISO 3166 alpha-2 code" in message
    assert "field_refinement: a data-driven process has no field step" in message
    assert "refinement_policy: field refinement is opt-in: name a refinement policy" in message


def test_a_rule_set_built_in_python_is_checked_like_one_from_toml(
    tiny: Plugins, register_pack: Callable
) -> None:
    declared = tiny_definition(RuleSet, "rules/tiny-core.toml")
    broken = attrs.evolve(
        declared, name="tiny-odd", segment=attrs.evolve(declared.segment, fallback="dormant")
    )
    register_pack(module_pack("odd", harmonia_segmentation_rules=lambda: [broken]))
    with pytest.raises(NotFoundError, match=r"segment\.fallback: fallback 'dormant' is not"):
        tiny.rule_sets.get_or_fail("tiny-odd")


def test_a_country_profile_naming_an_uninstalled_policy_or_scheme_is_rejected(
    tiny: Plugins, register_pack: Callable
) -> None:
    profile = _profile(
        code="BE",
        process_mode="field-involved",
        field_refinement="opt-in",
        refinement_policy="be-standard",
        identifier_schemes=("TINY", "RIZIV"),
    )
    register_pack(module_pack("be", harmonia_country_profiles=lambda: [profile]))
    assert "BE" not in tiny.country_profiles
    (warning,) = tiny.warnings
    assert "refinement_policy: no installed pack provides policy 'be-standard'" in warning
    assert "(standard, strict)" in warning  # what is installed
    assert "identifier_schemes[1]: no installed pack provides identifier scheme 'RIZIV'" in warning


def test_a_rule_set_with_a_bad_condition_names_pack_rule_and_position(
    tiny: Plugins, register_pack: Callable
) -> None:
    declared = tiny_definition(RuleSet, "rules/tiny-core.toml")
    rules = list(declared.segment.rules)
    rules[2] = Rule("grow", "potential_q >= 3 AND spend > 5", "grow")
    broken = attrs.evolve(
        declared, name="tiny-bad", segment=attrs.evolve(declared.segment, rules=tuple(rules))
    )
    register_pack(module_pack("bad", harmonia_segmentation_rules=lambda: [broken]), version="0.3")
    assert set(tiny.rule_sets) == {"tiny-core"}
    (warning,) = tiny.warnings
    assert "test-bad 0.3" in warning and "rule set tiny-bad" in warning
    assert "segment.rules[2].when: rule 'grow', column 22: unknown feature 'spend'" in warning
    with pytest.raises(NotFoundError, match=r"segment\.rules\[2\]\.when"):
        tiny.rule_sets.get_or_fail("tiny-bad")


def test_a_rule_set_scoring_an_uninstalled_questionnaire_is_rejected(
    harmonia_plugins: Plugins, register_pack: Callable
) -> None:
    rule_set = tiny_definition(RuleSet, "rules/tiny-core.toml")
    register_pack(module_pack("rules-only", harmonia_segmentation_rules=lambda: [rule_set]))
    assert "tiny-core" not in harmonia_plugins.rule_sets
    assert (
        "features[5]: no questionnaire 'tiny-profile' with a dimension 'adoption' is installed"
        in harmonia_plugins.warnings[0]
    )


def test_a_missing_name_suggests_the_closest_installed_one(tiny: Plugins) -> None:
    with pytest.raises(NotFoundError) as raised:
        tiny.country_profiles.get_or_fail("NLD")
    assert "no country profile NLD (did you mean NL?); available: NL" in str(raised.value)


def test_each_pack_reports_what_it_provides(tiny: Plugins) -> None:
    assert tiny.describe(tiny.pack("tiny")) == {
        "countries": ["NL"],
        "therapy_areas": ["cardiology"],
        "questionnaires": ["tiny-profile/1"],
        "strategies": ["cardiology/standard (5 segments)"],
        "identifiers": ["TINY"],
    }


def test_a_pack_whose_commands_fail_to_register_is_fatal_in_strict_mode() -> None:
    import click

    def register(cli: click.Group) -> None:
        raise ImportError("No module named 'crm_sdk'")

    plugins = fresh(strict=True)
    plugins.register(module_pack("crm", harmonia_register_commands=register))
    with pytest.raises(PluginError, match=r"pack 'crm' .* could not add its commands: .*crm_sdk"):
        plugins.register_commands(click.Group())
