"""Refinement on PostgreSQL: the whole round, and two managers deciding at once."""

from __future__ import annotations

import threading
from pathlib import Path

import field_market
import pytest
from field_market import ask

from harmonia import Harmonia
from harmonia.errors import ConfigError
from harmonia.plugin.catalog import Catalog


@pytest.mark.postgres
@pytest.mark.store
def test_two_managers_deciding_at_once_lose_no_update(
    postgres_url: str, field: Catalog, tmp_path: Path
) -> None:
    app = Harmonia(postgres_url, field, actor="analyst")
    field_market.with_field_force(app, tmp_path)
    cycle = field_market.run(app, tmp_path)
    app.refinement.open_feedback(cycle)
    waiting = ask(app, cycle, "C03", "tier", "B", "data error", "rita")["id"]
    assert ask(app, cycle, "C01", "segment", "grow", "access", "rita")["status"] == "accepted"

    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def decide(manager: str, decision: str) -> None:
        other = Harmonia(postgres_url, field, actor=manager)
        start.wait()
        try:
            other.refinement.decide(cycle, [waiting], decision, manager=manager)
            outcomes[manager] = decision
        except ConfigError as error:
            outcomes[manager] = str(error)

    threads = [
        threading.Thread(target=decide, args=("dora", "accept")),
        threading.Thread(target=decide, args=("rex", "reject")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [m for m, outcome in outcomes.items() if outcome in ("accept", "reject")]
    assert len(winners) == 1, outcomes
    (loser,) = set(outcomes) - set(winners)
    assert f"is {'accepted' if outcomes[winners[0]] == 'accept' else 'rejected'}" in outcomes[loser]
    (stored,) = [r for r in app.refinement.requests(cycle) if r.id == waiting]
    assert (stored.decided_by, stored.version) == (winners[0], 2)
    app.refinement.close_feedback(cycle)
    app.refinement.approve(cycle)
    published = app.refinement.publish(cycle, directory=tmp_path / "final")
    assert published.counts == {"refined": 2 if stored.status == "accepted" else 1}


@pytest.mark.postgres
@pytest.mark.store
def test_goals_and_accounts_on_postgresql(
    postgres_url: str, field: Catalog, tmp_path: Path
) -> None:
    from helpers import query

    app = Harmonia(postgres_url, field, actor="analyst")
    field_market.with_field_force(app, tmp_path)
    cycle = field_market.run(app, tmp_path)
    app.refinement.open_feedback(cycle)
    busy = ask(app, cycle, "C01", "goal", "900", "access", "rita")
    assert (busy["status"], busy["rule"]) == ("rejected", "policy.capacity")
    assert "would be 905 against a capacity of 880" in busy["message"]
    goal = ask(app, cycle, "C01", "goal", "8", "access", "rita")["id"]
    kept = ask(app, cycle, "C05", "keep", "T1", "access", "rita")["id"]
    wrong = ask(app, cycle, "C07", "keep", "T1", "access", "rita")
    assert "was not on T1 before this cycle" in wrong["message"]
    app.refinement.decide(cycle, [goal, kept], "accept", manager="dora")
    assert app.refinement.analytics(cycle)["goals"] == {"accepted": 1, "calls_added": 2}
    app.refinement.close_feedback(cycle)
    app.refinement.approve(cycle)
    assert app.refinement.publish(cycle, directory=tmp_path / "final").counts == {"refined": 2}
    stored = query(
        postgres_url,
        f"SELECT customer_id, refined_goal, refined_territory FROM assignment WHERE cycle_id = "
        f"{cycle} AND (refined_goal IS NOT NULL OR refined_territory IS NOT NULL) "
        "ORDER BY customer_id",
    )
    assert [tuple(r.values()) for r in stored] == [(1, 8, None), (5, None, "T1")]
