"""The proposal reps refine: on SQLite it is computed in DuckDB from the store's slices,
and gives exactly what the store's own query gives (rows, values and order)."""

from __future__ import annotations

import duckdb
from field_market import ask
from sqlalchemy import text

from harmonia import Harmonia
from harmonia.engine.backends import read_refined
from harmonia.refinement.snapshot import proposal, proposal_sql
from harmonia.store.bulk import BulkConnection


def _as_the_store_gives_it(app: Harmonia, cycle: int, territory: str | None, system: str | None):
    record = app.refinement.cycle(cycle)
    sql = proposal_sql(
        cycle, territory, system, app.refinement.targeted(record), app.refinement.goals(record)
    )
    with BulkConnection(app.database, write=False) as bulk:
        return bulk.read(sql).to_pylist()


def test_the_proposal_is_what_the_store_s_query_gives(feedback: tuple[Harmonia, int]) -> None:
    """Names missing (NULL sorts first, as SQLite sorts it) or alike, a customer known
    to several systems, accepted requests of each kind applied, an account moved."""
    app, cycle = feedback
    assert app.database.dialect == "sqlite"
    for args in (
        ("C06", "add", "T1", "new information", "rita"),
        ("C02", "tier", "A", "data error", "rita"),
        ("C03", "segment", "grow", "data error", "rita"),
    ):
        request = ask(app, cycle, *args)
        app.refinement.decide(cycle, [request["id"]], "accept", manager="dora")
    ask(app, cycle, "C04", "segment", "grow", "data error", "rita")  # pending: not shown
    with app.database.engine.begin() as connection:
        connection.execute(text("UPDATE customer SET first_name = NULL WHERE id IN (2, 7)"))
        connection.execute(text("UPDATE customer SET last_name = NULL WHERE id IN (3, 8)"))
        connection.execute(text("UPDATE customer SET last_name = 'Peeters' WHERE id IN (1, 4, 9)"))
        for customer_id, source in ((1, "a-9"), (1, "a-1"), (9, "z-1"), (6, "b-2")):
            connection.execute(
                text(
                    "INSERT INTO crosswalk (system, source_id, customer_id, batch_id) "
                    f"VALUES ('crm', '{source}', {customer_id}, 1)"
                )
            )
    record = app.refinement.cycle(cycle)
    targeted, goals = app.refinement.targeted(record), app.refinement.goals(record)
    for territory in (None, "T1", "T2"):
        for system in (None, "crm"):
            shown = proposal(app.database, record, territory, system, targeted, goals)
            expected = _as_the_store_gives_it(app, cycle, territory, system)
            assert shown.to_pylist() == expected, (territory, system)
            assert expected  # every case has rows to compare
    t1 = proposal(app.database, record, "T1", None, targeted, goals)
    assert 6 in t1.column("harmonia_id").to_pylist()  # the account accepted onto T1


def test_the_store_s_slices_are_read_as_stored(feedback: tuple[Harmonia, int]) -> None:
    """An empty text and -1 calls stored come back as themselves, a NULL as NULL."""
    app, cycle = feedback
    with app.database.engine.begin() as connection:
        for change, customer_id in (
            ("needs = '', refined_goal = -1, refined_territory = ''", 1),
            ("tier = NULL, refined_goal = NULL, refined_territory = NULL", 2),
            ("refined_target = '', origin = ''", 3),
        ):
            connection.execute(
                text(f"UPDATE assignment SET {change} WHERE customer_id = {customer_id}")
            )
    columns = "cycle_id, customer_id, segment, final_segment, origin, needs, tier, "
    columns += "refined_target, refined_goal, refined_territory"
    stored = f"SELECT {columns} FROM assignment WHERE cycle_id = {cycle} ORDER BY customer_id"
    with BulkConnection(app.database, write=False) as bulk:
        expected = bulk.read(stored).to_pylist()
        duck = duckdb.connect()
        read_refined(bulk, duck, cycle)
    assert duck.sql(stored).to_arrow_table().to_pylist() == expected
    assert expected[0]["needs"] == "" and expected[0]["refined_goal"] == -1
