"""Races the policy's checks alone cannot stop: a double submit, a decision during a
carry-over, two publishers, a publish whose writing fails."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import field_market
import pytest
from field_market import ask
from helpers import query

from harmonia import Harmonia
from harmonia.errors import ConfigError, HarmoniaError
from harmonia.plugin.catalog import Catalog
from harmonia.refinement import carry, requests
from harmonia.store import Database
from harmonia.store.bulk import BulkConnection


def test_the_store_holds_one_open_request_per_customer_and_dimension(
    feedback: tuple[Harmonia, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, cycle = feedback
    first = ask(app, cycle, "C03", "tier", "B", "data error", "rita")
    assert first["status"] == "pending"
    # A submit that checked before the first was stored (it saw no open request):
    # the store refuses it, says why, and stores nothing of its batch.
    reading = requests._read_context

    def before_the_first(bulk: BulkConnection, duck: Any, *args: Any) -> None:
        reading(bulk, duck, *args)
        duck.execute("DELETE FROM open_requests")

    monkeypatch.setattr(requests, "_read_context", before_the_first)
    with pytest.raises(ConfigError, match="another request for the same customer") as raised:
        ask(app, cycle, "C03", "tier", "B", "access", "dora")
    assert "submit it again" in raised.value.fix
    monkeypatch.undo()
    assert [r.id for r in app.refinement.requests(cycle)] == [first["id"]]
    # Submitted again, it is checked against the first and kept, rejected with why.
    again = ask(app, cycle, "C03", "tier", "B", "access", "dora")
    assert (again["status"], again["rule"]) == ("rejected", "policy.duplicate")
    assert (
        f"request {first['id']} for the tier of customer 3 is already pending" in (again["message"])
    )
    # Closed requests do not hold the customer: a rejected one may be asked again.
    with BulkConnection(Database(app.database_url)) as bulk:
        bulk.execute(f"UPDATE refinement_request SET status = 'rejected' WHERE id = {first['id']}")
    assert ask(app, cycle, "C03", "tier", "B", "data error", "rita")["status"] == "pending"


def test_a_decision_made_while_carrying_over_is_not_lost(
    feedback: tuple[Harmonia, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, old = feedback
    waiting = ask(app, old, "C03", "tier", "B", "data error", "rita")["id"]
    kept = ask(app, old, "C01", "segment", "grow", "access", "rita")["id"]
    new = field_market.run(app, tmp_path)
    reporting = carry.carry_over_report
    calls: list[int] = []

    def then_dora_rejects(*args: Any) -> carry.CarryOver:
        report = reporting(*args)
        if not calls:  # after the first report, before it is applied
            app.refinement.decide(old, [waiting], "reject", manager="dora", comment="no")
        calls.append(1)
        return report

    monkeypatch.setattr(carry, "carry_over_report", then_dora_rejects)
    report = app.refinement.carry_over(old, new)
    # The first report was stale: made again, nothing applied twice; the third
    # looks for requests made after it, once the old cycle is superseded (none).
    assert len(calls) == 3
    assert [r["id"] for r in report.requests] == [kept]
    (rejected,) = [r for r in app.refinement.requests(old) if r.id == waiting]
    assert (rejected.status, rejected.decided_by) == ("rejected", "dora")
    assert [(r.carried_from, r.status) for r in app.refinement.requests(new)] == [
        (kept, "accepted")
    ]


def test_a_stale_carry_over_report_applies_nothing(
    feedback: tuple[Harmonia, int], tmp_path: Path
) -> None:
    app, old = feedback
    waiting = ask(app, old, "C03", "tier", "B", "data error", "rita")["id"]
    new = field_market.run(app, tmp_path)
    from harmonia.refinement.snapshot import freeze_scope

    freeze_scope(app.database, app.refinement.cycle(new))
    report = carry.carry_over_report(app.database, old, new)
    app.refinement.decide(old, [waiting], "accept", manager="dora")
    with pytest.raises(carry.Changed):
        carry.apply_carry_over(app.database, report, actor="analyst")
    assert app.refinement.requests(new) == []
    (decided,) = app.refinement.requests(old)
    assert (decided.status, decided.version) == ("accepted", 2)


def test_a_publish_whose_writing_fails_goes_back_to_approved(
    feedback: tuple[Harmonia, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, cycle = feedback
    app.refinement.close_feedback(cycle)
    app.refinement.approve(cycle)

    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("harmonia.engine.cycle.write_stored_outputs", full_disk)
    with pytest.raises(OSError, match="No space left"):
        app.refinement.publish(cycle, directory=tmp_path / "final")
    assert app.refinement.cycle(cycle).status == "approved"
    moves = [(m.from_status, m.to_status) for m in app.refinement.transitions(cycle)][-2:]
    assert moves == [("approved", "published"), ("published", "approved")]
    assert (
        "publishing failed: [Errno 28] No space left" in app.refinement.transitions(cycle)[-1].note
    )
    monkeypatch.undo()
    assert app.refinement.publish(cycle, directory=tmp_path / "final").cycle.status == "published"


def test_the_files_of_a_publish_that_failed_halfway_are_recorded_for_erasure(
    feedback: tuple[Harmonia, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, cycle = feedback
    app.refinement.close_feedback(cycle)
    app.refinement.approve(cycle)

    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    # The target list and the summary go out, then the disk fills up.
    monkeypatch.setattr("harmonia.engine.cycle.read_assignments", full_disk)
    outputs = ("target_list", "segment_summary", "assignments")
    with pytest.raises(OSError, match="No space left"):
        app.refinement.publish(cycle, outputs=outputs, directory=tmp_path / "final")
    assert app.refinement.cycle(cycle).status == "approved"
    # Newest first: the failed publish's entry (the run wrote the first one).
    details = app.audit.events(action="cycle.publish", subject=f"cycle:{cycle}")[0].details
    left = sorted(Path(entry["location"]).name for entry in details["written"])
    assert left == sorted(p.name for p in (tmp_path / "final").rglob("*.csv"))
    assert len(left) == 2 and "No space left" in details["failed"]
    # An erasure finds those files and takes the person out of them.
    (c01,) = query(app.database_url, "SELECT customer_id FROM crosswalk WHERE source_id = 'C01'")
    target_list = [e["location"] for e in details["written"] if e["output"] == "target_list"]
    assert str(c01["customer_id"]) in Path(target_list[0]).read_text(encoding="utf-8")
    erased = app.privacy.erase(c01["customer_id"])
    assert set(target_list) <= set(erased.files_cleaned)


def _at_once(*actions: Callable[[], Any]) -> list[Any]:
    """Run each action on its own thread, all released together; each one's result or error."""
    start = threading.Barrier(len(actions))
    outcomes: list[Any] = [None] * len(actions)

    def run(position: int, action: Callable[[], Any]) -> None:
        start.wait()
        try:
            outcomes[position] = action()
        except HarmoniaError as error:
            outcomes[position] = error

    threads = [threading.Thread(target=run, args=item) for item in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.postgres
@pytest.mark.store
def test_double_submits_and_two_publishers_at_once_on_postgresql(
    postgres_url: str, field: Catalog, tmp_path: Path
) -> None:
    app = Harmonia(postgres_url, field, actor="analyst")
    field_market.with_field_force(app, tmp_path)
    cycle = field_market.run(app, tmp_path)
    app.refinement.open_feedback(cycle)

    def submit(who: str) -> Callable[[], dict]:
        other = Harmonia(postgres_url, field, actor=who)
        return lambda: ask(other, cycle, "C03", "tier", "B", "data error", who)

    # A double click and the manager at once (three connections, the same change):
    # whoever is first holds it (pending for rita, accepted for dora), the others
    # are told it is asked for already, or, after dora's accepted change, that the
    # customer is at that tier already (checks read the customer as refined so far).
    outcomes = _at_once(submit("rita"), submit("rita"), submit("dora"))
    rejected = [o for o in outcomes if o["status"] == "rejected"]
    assert len(rejected) == 2, outcomes
    [first] = [o for o in outcomes if o["status"] != "rejected"]
    told = "policy.value" if first["status"] == "accepted" else "policy.duplicate"
    assert {o["rule"] for o in rejected} == {told}, outcomes
    open_requests = query(
        postgres_url,
        f"SELECT COUNT(*) AS n FROM refinement_request WHERE cycle_id = {cycle} "
        "AND status IN ('pending', 'accepted')",
    )
    assert open_requests == [{"n": 1}]
    app.refinement.close_feedback(cycle)
    app.refinement.approve(cycle)

    def publish(folder: str) -> Callable[[], Any]:
        other = Harmonia(postgres_url, field, actor=folder)
        return lambda: other.refinement.publish(cycle, directory=tmp_path / folder)

    first, second = _at_once(publish("one"), publish("two"))
    errors = [o for o in (first, second) if isinstance(o, HarmoniaError)]
    (won,) = [o for o in (first, second) if not isinstance(o, HarmoniaError)]
    assert len(errors) == 1
    assert "moved it meanwhile" in str(errors[0]) or "published cycle cannot" in str(errors[0])
    # The loser wrote nothing: only the winner's folder has outputs.
    loser = "two" if won.written[0].location.startswith(str(tmp_path / "one")) else "one"
    assert not (tmp_path / loser).exists()
    assert [m.to_status for m in app.refinement.transitions(cycle)].count("published") == 1


@pytest.mark.postgres
@pytest.mark.store
def test_a_carry_over_and_a_decision_at_once_on_postgresql(
    postgres_url: str, field: Catalog, tmp_path: Path
) -> None:
    app = Harmonia(postgres_url, field, actor="analyst")
    field_market.with_field_force(app, tmp_path)
    old = field_market.run(app, tmp_path)
    app.refinement.open_feedback(old)
    waiting = ask(app, old, "C03", "tier", "B", "data error", "rita")["id"]
    new = field_market.run(app, tmp_path)
    carrier = Harmonia(postgres_url, field, actor="analyst")
    dora = Harmonia(postgres_url, field, actor="dora")
    carried, decided = _at_once(
        lambda: carrier.refinement.carry_over(old, new),
        lambda: dora.refinement.decide(old, [waiting], "reject", manager="dora"),
    )
    _one_of_them_won(
        app,
        old,
        new,
        waiting,
        refusal=str(decided) if isinstance(decided, HarmoniaError) else None,
        carried=[r["id"] for r in carried.requests],
    )


def _one_of_them_won(
    app: Harmonia, old: int, new: int, waiting: int, *, refusal: str | None, carried: list[int]
) -> None:
    """A carry-over and a rejection of ``waiting`` ran at once: either order is kept
    whole, nothing lost or applied twice."""
    (before,) = [r for r in app.refinement.requests(old) if r.id == waiting]
    after = app.refinement.requests(new)
    if refusal is not None:  # the carry-over came first
        assert "is carried" in refusal
        assert before.status == "carried"
        assert [(r.carried_from, r.status) for r in after] == [(waiting, "pending")]
    else:  # the rejection came first: it is kept, and nothing is carried
        assert (before.status, before.decided_by) == ("rejected", "dora")
        assert after == [] and carried == []
    assert app.refinement.cycle(old).status == "superseded"


#: One side of the race in its own process (SQLite's locks are a process's: two
#: threads of one process cannot race on it), started when the gate file exists.
RACER = """
import json, sys, time
from pathlib import Path
import field_market, tiny_market
from harmonia.app import Harmonia
from harmonia.errors import HarmoniaError
from harmonia.plugin.manager import PluginManager

url, side, old, new, waiting, gate = sys.argv[1:7]
manager = PluginManager(strict=True)
manager.load_builtins()
manager.register(tiny_market, name="tiny", distribution="test-tiny", version="1.0")
manager.register(field_market, name="field", distribution="test-field", version="1.0")
app = Harmonia(url, manager.catalog(), actor="analyst" if side == "carry" else "dora")
app.refinement.cycle(int(old))  # connected before the start
print("ready", flush=True)
while not Path(gate).exists():
    time.sleep(0.002)
try:
    if side == "carry":
        report = app.refinement.carry_over(int(old), int(new))
        print(json.dumps({"carried": [r["id"] for r in report.requests]}), flush=True)
    else:
        app.refinement.decide(int(old), [int(waiting)], "reject", manager="dora")
        print(json.dumps({"decided": True}), flush=True)
except HarmoniaError as error:
    print(json.dumps({"refused": str(error)}), flush=True)
"""


def test_a_carry_over_and_a_decision_at_once_on_sqlite(
    harmonia_database: str, field: Catalog, tmp_path: Path
) -> None:
    import json
    import os
    import subprocess
    import sys

    app = Harmonia(harmonia_database, field, actor="analyst")
    field_market.with_field_force(app, tmp_path)
    old = field_market.run(app, tmp_path)
    app.refinement.open_feedback(old)
    waiting = ask(app, old, "C03", "tier", "B", "data error", "rita")["id"]
    new = field_market.run(app, tmp_path)
    gate = tmp_path / "go"
    fixtures = Path(field_market.__file__).parent.parent
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, harmonia_database, side]
            + [str(n) for n in (old, new, waiting, gate)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(fixtures)},
            text=True,
        )
        for side in ("carry", "decide")
    ]
    for racer in racers:
        assert racer.stdout is not None
        assert racer.stdout.readline().strip() == "ready", racer.stderr.read()  # type: ignore[union-attr]
    gate.touch()
    said = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err
        said.append(json.loads(out.strip().splitlines()[-1]))
    carry_said, decide_said = said
    assert "refused" not in carry_said, carry_said
    _one_of_them_won(
        app,
        old,
        new,
        waiting,
        refusal=decide_said.get("refused"),
        carried=carry_said["carried"],
    )
