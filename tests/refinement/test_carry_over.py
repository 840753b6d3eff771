"""A re-run during feedback: open requests carried over, the others expire with why."""

from __future__ import annotations

import json
from pathlib import Path

import field_market
import pytest
from field_market import ask
from helpers import query

from harmonia import Harmonia
from harmonia.store import Database
from harmonia.store.bulk import BulkConnection


def test_a_rerun_takes_over_the_open_requests_and_lists_the_rest(
    feedback: tuple[Harmonia, int], tmp_path: Path
) -> None:
    app, old = feedback
    kept = ask(app, old, "C01", "segment", "grow", "access", "rita")["id"]  # accepted
    changed = ask(app, old, "C03", "tier", "B", "data error", "rita")["id"]  # pending
    moved = ask(app, old, "C06", "segment", "develop", "access", "tom")["id"]  # pending
    done = ask(app, old, "C09", "tier", "B", "new information", "tom")["id"]  # pending
    # C06 moves to T1 for 2027-H1; the re-run makes C03 tier A and C09 tier B.
    (tmp_path / "realigned.csv").write_text(
        "customer_id;territory;period\nC06;T1;2027-H1\n", encoding="utf-8"
    )
    app.loads.run(app.loads.plan([tmp_path / "realigned.csv"]), country="BE")
    new = field_market.run(app, tmp_path)
    with BulkConnection(Database(app.database_url)) as bulk:
        bulk.execute(f"UPDATE assignment SET tier = 'A' WHERE cycle_id = {new} AND customer_id = 3")
        bulk.execute(f"UPDATE assignment SET tier = 'B' WHERE cycle_id = {new} AND customer_id = 9")
    preview = app.refinement.carry_over(old, new, dry_run=True)
    assert app.refinement.cycle(old).status == "feedback"
    assert app.refinement.cycle(new).status == "draft"
    report = app.refinement.carry_over(old, new)
    assert report.requests == preview.requests
    outcomes = {r["id"]: (r["outcome"], r["why"]) for r in report.requests}
    assert outcomes[kept] == ("carried", f"carried over to cycle {new}")
    assert outcomes[changed][0] == "conflict"
    assert "changed the tier from C to A" in outcomes[changed][1]
    assert outcomes[moved] == (
        "conflict",
        f"the re-run (cycle {new}) puts this customer on territory T1, not T2",
    )
    assert outcomes[done] == ("not needed", f"the re-run (cycle {new}) already gives B")
    assert app.refinement.cycle(old).status == "superseded"
    assert app.refinement.cycle(new).status == "feedback"
    # Nothing is dropped: the old cycle keeps every request with what became of it.
    old_requests = {r.id: (r.status, r.message) for r in app.refinement.requests(old)}
    assert old_requests[kept][0] == "carried"
    assert {old_requests[i][0] for i in (changed, moved, done)} == {"expired"}
    (carried,) = app.refinement.requests(new)
    assert (carried.carried_from, carried.status, carried.new_value) == (kept, "accepted", "grow")
    # The window and the policy are the old round's.
    snapshots = query(
        app.database_url, f"SELECT id, snapshot FROM cycle WHERE id IN ({old}, {new}) ORDER BY id"
    )
    assert '"feedback_opened_at"' in snapshots[1]["snapshot"]
    old_snapshot, new_snapshot = (json.loads(s["snapshot"]) for s in snapshots)
    assert new_snapshot["feedback_opened_at"] == old_snapshot["feedback_opened_at"]
    assert new_snapshot["refinement_policy"] == old_snapshot["refinement_policy"]


def test_a_request_accepted_after_the_report_is_carried_not_left_in_the_dead_cycle(
    feedback: tuple[Harmonia, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review1 finding 3: the policy accepts a request made while the carry-over runs."""
    from harmonia.refinement import carry

    app, old = feedback
    new = field_market.run(app, tmp_path)
    late: list[int] = []
    apply = carry.apply_carry_over

    def apply_then_submit(*args: object, **kwargs: object) -> None:
        apply(*args, **kwargs)  # type: ignore[arg-type]
        if not late:  # in the window: after the report, before the old cycle is superseded
            request = ask(app, old, "C01", "segment", "grow", "access", "rita")
            assert request["status"] == "accepted"
            late.append(request["id"])

    monkeypatch.setattr(carry, "apply_carry_over", apply_then_submit)
    report = app.refinement.carry_over(old, new)
    (request,) = [r for r in app.refinement.requests(old) if r.id == late[0]]
    assert request.status == "carried"
    assert late[0] in [r["id"] for r in report.requests]
    (carried,) = app.refinement.requests(new)
    assert (carried.carried_from, carried.status) == (late[0], "accepted")
    assert not [r for r in app.refinement.requests(old) if r.status in ("pending", "accepted")]
