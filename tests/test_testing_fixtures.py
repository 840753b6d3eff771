"""harmonia.testing's fixtures for pack authors: harmonia_packs, harmonia_catalog, harmonia_app."""

from __future__ import annotations

from typing import Any

import pytest
import tiny_market

from harmonia import Harmonia, current_app
from harmonia.testing import definition


@pytest.fixture
def harmonia_packs() -> list[Any]:
    return [tiny_market]


def test_the_catalog_holds_the_built_ins_and_the_packs_named(harmonia_catalog: Any) -> None:
    assert set(harmonia_catalog.country_profiles) == {"NL"}
    assert "csv" in harmonia_catalog.data_sources  # the built-ins
    profile = harmonia_catalog.country_profiles["NL"]
    assert profile.provenance.distribution == "test-tiny_market"  # not installed
    assert harmonia_catalog.warnings == ()


def test_the_app_is_current_over_the_catalog_and_a_fresh_store(harmonia_app: Harmonia) -> None:
    assert current_app() is harmonia_app
    assert harmonia_app.catalog.country_profiles["NL"].code == "NL"
    assert harmonia_app.cycles.list() == []
    loaded = harmonia_app.loads.run(harmonia_app.loads.plan([tiny_market.DATA / "h1"]))
    assert [result.rows_quarantined for result in loaded] == [0, 0, 0]


def test_definition_checks_plain_data_as_a_file_is_checked() -> None:
    from harmonia import DefinitionError, RefinementPolicy

    policy = definition(RefinementPolicy, {"name": "p", "description": "d"})
    assert policy.name == "p"
    with pytest.raises(DefinitionError, match="colour"):
        definition(RefinementPolicy, {"name": "p", "description": "d", "colour": "red"})
