"""The field-involved test market (``field_market``, BE) loaded and run, ready to refine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import field_market
import pytest
import tiny_market

from harmonia import Harmonia
from harmonia.plugin.catalog import Catalog
from harmonia.plugin.manager import PluginManager


@pytest.fixture
def field(register_pack: Callable[..., Any], harmonia_plugins: PluginManager) -> Catalog:
    """Built-ins, tiny_market (its rule set, questionnaire, strategies) and field_market (BE)."""
    register_pack(tiny_market, name="tiny", version="1.0")
    register_pack(field_market, name="field", version="1.0")
    return harmonia_plugins.catalog()


@pytest.fixture
def field_app(harmonia_database: str, field: Catalog, tmp_path: Path) -> Harmonia:
    """The application over a store holding the Belgian universe (2027-H1)."""
    app = Harmonia(harmonia_database, field, actor="analyst")
    data = field_market.write_universe(tmp_path / "data")
    results = app.loads.run(app.loads.plan([data]), country="BE")
    assert all(result.rows_quarantined == 0 for result in results)
    return app


@pytest.fixture
def feedback(field_app: Harmonia, tmp_path: Path) -> tuple[Harmonia, int]:
    """The Belgian field force loaded and a cycle open for feedback: (app, cycle id).

    Its 2027-H1 result, highest first: C01 champion (tier A), C02 grow (B),
    C03 develop (C), C04 develop (B) on T1 (rita's, 4 customers); C05-C09
    maintain, C10 monitor on T2 (tom's, 6). dora manages both, rex her region.
    """
    field_market.write_field_force(tmp_path / "force")
    field_app.loads.run(field_app.loads.plan([tmp_path / "force"]), country="BE")
    cycle = field_market.run(field_app, tmp_path)
    field_app.refinement.open_feedback(cycle)
    return field_app, cycle
