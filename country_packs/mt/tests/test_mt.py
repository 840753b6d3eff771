"""The Maltese pack: a data-poor market's profile inside the global catalogue."""

import pytest

import harmonia_mt


@pytest.fixture
def catalog(harmonia_plugins, register_pack):
    register_pack(harmonia_mt)
    return harmonia_plugins.catalog()


def test_profile_fits_the_catalogue_with_rep_and_local_data_only(catalog):
    profile = catalog.country_profiles["MT"]
    assert catalog.warnings == ()
    assert catalog.option_catalogue.check(profile) == []
    assert set(profile.data_sources) == {"rep", "local"}
    assert profile.identifier_schemes == ()
    assert profile.field_refinement == "opt-in"
    assert catalog.refinement_policies[profile.refinement_policy].name == "standard"
