"""The French country profile loads, fits the global catalogue, and names what exists."""

import pytest

import harmonia_fr


@pytest.fixture
def harmonia_packs():
    """Built-ins plus this pack only: nothing else installed may interfere."""
    return [harmonia_fr]


@pytest.fixture
def plugins(harmonia_catalog):
    """The catalog (harmonia.testing's fixture: a pack problem fails the test)."""
    return harmonia_catalog


def test_profile_loads_and_fits_the_catalogue(plugins):
    profile = plugins.country_profiles["FR"]
    assert plugins.warnings == ()
    assert plugins.option_catalogue.check(profile) == []
    assert profile.provenance.distribution == "harmonia-fr"


def test_profile_makes_the_french_choices(plugins):
    profile = plugins.country_profiles["FR"]
    assert (profile.name, profile.language) == ("France", "fr")
    assert profile.process_mode == "field-involved"
    assert set(profile.data_sources) == {"rep", "external", "local"}
    assert profile.field_refinement == "opt-in"
    assert (profile.pull_through.enabled, profile.pull_through.threshold) == (True, 0.1)
    assert (profile.csv.delimiter, profile.csv.decimal, profile.csv.encoding) == (";", ",", "utf-8")
    assert profile.response_max_age_months == 24
    assert profile.choice("oncology").strategy_variant == "standard"
    assert profile.parameter("frequency_scale", plugins.option_catalogue) == 0.9


def test_refinement_policy_is_declared_by_the_pack(plugins):
    profile = plugins.country_profiles["FR"]
    policy = plugins.refinement_policies[profile.refinement_policy]
    assert policy.name == "fr-standard"
    assert policy.requires_approval
    assert policy.provenance.distribution == "harmonia-fr"
    assert [(rule.name, rule.decision) for rule in policy.auto_rules] == [
        ("acces-restreint", "accept"),
        ("sommet-sans-profil", "reject"),
    ]
    assert all(rule.message.startswith(("Accepté", "Refusé")) for rule in policy.auto_rules)
    assert plugins.warnings == ()


def test_identifier_schemes_are_declared_by_the_pack(plugins):
    profile = plugins.country_profiles["FR"]
    schemes = plugins.identifier_schemes
    assert set(profile.identifier_schemes) == {"RPPS", "FINESS"}
    for name in profile.identifier_schemes:
        assert schemes[name].country == "FR"
        assert schemes[name].provenance.distribution == "harmonia-fr"
    assert plugins.warnings == ()
