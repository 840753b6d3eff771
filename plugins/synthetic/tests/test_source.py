"""The ``synthetic`` data source, registered and read like any pack's."""

from __future__ import annotations

import attrs
import pytest
from synthetic_checks import tables

import harmonia_synthetic
from harmonia import ConfigError, CountryProfile, SourceRequest
from harmonia_synthetic.source import read


def test_the_pack_registers_the_source(register_pack, harmonia_plugins):
    info = register_pack(harmonia_synthetic, name="synthetic")
    assert "harmonia_data_sources" in info.hooks
    source = harmonia_plugins.catalog().data_sources["synthetic"]
    assert source.family == "local"
    assert source.kinds == {"customers", "metrics", "responses"}
    assert {option.name for option in source.options} >= {"customers", "seed", "error_rate"}
    assert source.provenance.pack == "synthetic"


def test_read_takes_options_country_newest_questionnaire_and_profile_schemes(
    questionnaire, rpps, finess, npi
):
    older = attrs.evolve(questionnaire, version="1")
    other_area = attrs.evolve(questionnaire, id="cardio", therapy_area="cardiology", version="9")
    profile = CountryProfile(
        code="FR",
        name="France",
        language="fr",
        process_mode="field-involved",
        data_sources=("local",),
        field_refinement="opt-out",
        identifier_schemes=("RPPS", "FINESS"),
    )
    request = SourceRequest(
        options={"customers": "300", "seed": "3", "coverage": "0.5"},
        country="fr",
        profile=profile,
        questionnaires=(older, other_area, questionnaire),
        identifier_schemes=(finess, npi, rpps),
    )
    found = tables(read(request))
    customers = found["customers"]
    assert customers.num_rows == 300
    assert set(customers["country"].to_pylist()) == {"FR"}
    schemes = dict(
        zip(customers["type"].to_pylist(), customers["id_scheme"].to_pylist(), strict=True)
    )
    assert schemes == {"HCP": "RPPS", "HCO": "FINESS"}  # the profile's order, not the request's
    assert set(found["responses"]["version"].to_pylist()) == {questionnaire.version}


def test_read_defaults():
    found = tables(read(SourceRequest(options={})))
    assert found["customers"].num_rows == 1000
    assert set(found["customers"]["country"].to_pylist()) == {"FR"}
    assert "responses" not in found


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"customers": "many"}, "not a whole number"),
        ({"coverage": "half"}, "not a number"),
        ({"coverage": "2"}, "between 0 and 1"),
        ({"custmers": "10"}, "unknown options"),
    ],
)
def test_bad_options_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        read(SourceRequest(options=options))
