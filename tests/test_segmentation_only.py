"""A therapy area that only segments: no strategies declared, no call plans invented."""

from __future__ import annotations

from pathlib import Path

import tiny_market
from helpers import load

from harmonia.engine.cycle import run_cycle
from harmonia.plugin.manager import PluginManager
from harmonia.store import Database
from harmonia.testing import module_pack


def test_a_therapy_area_without_strategies_segments_and_plans_nothing(
    harmonia_database: str, tmp_path: Path
) -> None:
    hooks = {
        name: getattr(tiny_market, name)
        for name in dir(tiny_market)
        if name.startswith("harmonia_") and name != "harmonia_engagement_strategies"
    }
    manager = PluginManager(strict=True)
    manager.load_builtins()
    manager.register(module_pack("tiny", **hooks), distribution="test-tiny")
    catalog = manager.catalog()
    load(harmonia_database, catalog, tiny_market.DATA / "h1", country="NL")
    result = run_cycle(
        Database(harmonia_database),
        catalog,
        country="NL",
        therapy_area="cardiology",
        period="2027-H1",
        directory=tmp_path / "out",
    )
    assert sum(row["customers"] for row in result.summary) == 10
    assert all(not row["target"] and row["contacts"] == 0 for row in result.summary)
    assert all(row["cost"] == 0 for row in result.summary)
    assert {row["strategy"] for row in result.summary} == {"none (segmentation only)"}
    (target_list,) = [w.location for w in result.written if w.output == "target_list"]
    assert len(Path(target_list).read_text(encoding="utf-8").splitlines()) == 1  # the header
