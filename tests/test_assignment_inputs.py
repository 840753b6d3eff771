"""Assignment inputs as one Parquet file per cycle on the embedded store (issue 11):
written once by a cycle, read through one interface, erased with the person, cleaned
up after a failed run, and moved there from the table by the upgrade to 0740."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from helpers import load, path_of, query, write

from harmonia.engine.cycle import run_cycle
from harmonia.engine.query import filled_inputs
from harmonia.plugin.catalog import Catalog
from harmonia.store import Database
from harmonia.store.assignments import inputs_text
from harmonia.store.database import SCHEMA_REVISION
from harmonia.store.facts import facts_folder

pytestmark = pytest.mark.store

COLUMNS = "customer_id, segment, tier, final_segment, inputs"


def cycle(url: str, tiny: Catalog, tmp_path: Path, engine: str = "duckdb") -> int:
    result = run_cycle(
        Database(url),
        tiny,
        country="NL",
        therapy_area="cardiology",
        period="2027-H1",
        directory=tmp_path / "out",
        engine=engine,
    )
    assert result.cycle.id is not None
    return result.cycle.id


def inputs_files(url: str) -> dict[int, list[Path]]:
    root = facts_folder(path_of(url)) / "assignment_input"
    return {
        int(folder.name.removeprefix("cycle=")): sorted(folder.glob("*.parquet"))
        for folder in sorted(root.glob("cycle=*"))
    }


def in_table(url: str) -> int:
    """Assignments whose inputs the SQLite table itself holds."""
    with Database(url).engine.connect() as connection:
        return connection.exec_driver_sql(
            "SELECT COUNT(*) FROM assignment WHERE inputs IS NOT NULL"
        ).scalar_one()


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_a_cycles_inputs_are_one_file_beside_the_store_not_rows_of_it(
    h1: str, tiny: Catalog, tmp_path: Path, engine: str
) -> None:
    first = cycle(h1, tiny, tmp_path / "1", engine)
    assert in_table(h1) == 0
    (part,) = inputs_files(h1)[first]
    in_file = duckdb.sql(
        f"SELECT customer_id, {inputs_text()} FROM read_parquet('{part}')"
    ).fetchall()
    stored = query(h1, f"SELECT customer_id, inputs FROM assignment WHERE cycle_id = {first}")
    assert sorted(in_file) == sorted((row["customer_id"], row["inputs"]) for row in stored)
    # The embedded engine writes them as a struct (their JSON is built where read), the
    # in-database one as the JSON text it hands over; readers take both.
    ((kind,),) = duckdb.sql(f"SELECT typeof(inputs) FROM read_parquet('{part}') LIMIT 1").fetchall()
    assert kind.startswith("STRUCT(") if engine == "duckdb" else kind == "VARCHAR"
    assert all(json.loads(inputs) for _, inputs in in_file) and len(in_file) == 10
    # The next cycle reads them for pull-through (its previous cycle's inputs).
    second = cycle(h1, tiny, tmp_path / "2", engine)
    assert sorted(inputs_files(h1)) == [first, second]
    assert query(
        h1, f"SELECT {COLUMNS} FROM assignment WHERE cycle_id = {second} ORDER BY 1"
    ) == query(h1, f"SELECT {COLUMNS} FROM assignment WHERE cycle_id = {first} ORDER BY 1")


def test_explain_and_the_assignments_output_read_the_file(
    h1: str, harmonia_cli: Callable, tiny: Catalog, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    ran = harmonia_cli(
        "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1",
        "--output", "assignments", "--out", str(out), "--json",
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    first = json.loads(ran.output)["cycle"]["id"]
    (c01,) = query(h1, "SELECT customer_id FROM crosswalk WHERE source_id = 'C01'")
    (stored,) = query(
        h1, f"SELECT inputs FROM assignment WHERE cycle_id = {first} AND customer_id = "
        f"{c01['customer_id']}"
    )  # fmt: skip
    shown = harmonia_cli("explain", "--cycle", str(first), "--customer", "C01", "--json")
    assert shown.exit_code == 0, shown.output
    features, _ = filled_inputs(json.loads(stored["inputs"]))
    assert features.items() <= json.loads(shown.output)["inputs"].items()
    (listed,) = out.rglob("*assignments*")
    rows = duckdb.sql(
        f"SELECT customer_id, inputs FROM read_csv('{listed}', all_varchar = true)"
    ).fetchall()
    assert dict(rows)[str(c01["customer_id"])] == stored["inputs"]
    # A file without the customer (rewritten by an erasure whose rows did not go) says
    # so, not that the file is missing.
    from harmonia.store.assignments import erase

    assert erase(Database(h1), [c01["customer_id"]]) == 1
    lacking = harmonia_cli("explain", "--cycle", str(first), "--customer", "C01")
    assert lacking.exit_code == 1 and "Traceback" not in lacking.output
    assert (
        f"the inputs file of cycle {first} holds no inputs for customer {c01['customer_id']}"
        in lacking.output
    )
    # A lost file is a clear error naming where it was, not a traceback.
    for part in inputs_files(h1)[first]:
        part.unlink()
    lost = harmonia_cli("explain", "--cycle", str(first), "--customer", "C01")
    assert lost.exit_code == 1 and "Traceback" not in lost.output
    assert f"the inputs of cycle {first}'s assignments are missing" in lost.output
    # The fix names commands that exist (there is no command that drops a cycle).
    assert "run the cycle again (harmonia cycle run) and use the new one" in lost.output


def test_erasure_and_objection_rewrite_the_inputs_files(
    h1: str, tiny: Catalog, tmp_path: Path
) -> None:
    from harmonia.master.privacy import erase, object_to_profiling

    first = cycle(h1, tiny, tmp_path / "1")
    second = cycle(h1, tiny, tmp_path / "2")
    ids = {
        row["source_id"]: row["customer_id"]
        for row in query(h1, "SELECT source_id, customer_id FROM crosswalk")
    }

    def holders() -> set[int]:
        every = [path for paths in inputs_files(h1).values() for path in paths]
        listed = ", ".join(f"'{path}'" for path in every)
        return {
            row[0]
            for row in duckdb.sql(f"SELECT customer_id FROM read_parquet([{listed}])").fetchall()
        }

    assert {ids["C01"], ids["C02"]} <= holders()
    result = erase(Database(h1), ids["C01"], actor="dpo")
    assert result.removed["assignment_input"] == 2  # one row in each cycle's file
    object_to_profiling(Database(h1), [ids["C02"]], actor="dpo")
    assert not {ids["C01"], ids["C02"]} & holders()
    assert ids["C03"] in holders()  # the others' stay, and are read as before
    for cycle_id in (first, second):
        rows = query(h1, f"SELECT customer_id, inputs FROM assignment WHERE cycle_id = {cycle_id}")
        assert rows and all(row["inputs"] for row in rows)


def holders_of(url: str) -> set[int]:
    """The customers any cycle's inputs file holds."""
    every = [path for paths in inputs_files(url).values() for path in paths]
    listed = ", ".join(f"'{path}'" for path in every)
    return {
        row[0] for row in duckdb.sql(f"SELECT customer_id FROM read_parquet([{listed}])").fetchall()
    }


def source_ids(url: str) -> dict[str, int]:
    return {
        row["source_id"]: row["customer_id"]
        for row in query(url, "SELECT source_id, customer_id FROM crosswalk")
    }


def test_an_objection_loaded_from_a_source_removes_the_objectors_inputs_files(
    h1: str, tiny: Catalog, tmp_path: Path
) -> None:
    first = cycle(h1, tiny, tmp_path / "1")
    second = cycle(h1, tiny, tmp_path / "2")
    ids = source_ids(h1)
    assert ids["C03"] in holders_of(h1)
    write(
        tmp_path / "crm" / "customers.csv",
        """
        customer_id;country;type;first_name;last_name;objection
        C03;NL;HCP;Cor;Bakker;yes
        """,
    )
    load(h1, tiny, tmp_path / "crm", country="NL")
    assert query(h1, "SELECT customer_id FROM objection") == [{"customer_id": ids["C03"]}]
    assert query(h1, f"SELECT cycle_id FROM assignment WHERE customer_id = {ids['C03']}") == []
    # Its profile left every cycle's file with its rows; nothing is left to do.
    assert ids["C03"] not in holders_of(h1)
    assert query(h1, "SELECT customer_id FROM assignment_input_erasure") == []
    for cycle_id in (first, second):  # the others' inputs are read as before
        rows = query(h1, f"SELECT customer_id, inputs FROM assignment WHERE cycle_id = {cycle_id}")
        assert rows and all(row["inputs"] for row in rows)


#: Records an objection in a subprocess that is killed (SIGKILL) right after the
#: objection's commit, before the inputs files are rewritten.
KILLED_AFTER_COMMIT = """
import os, signal, sys
from harmonia.store import assignments
from harmonia.store.database import Database
from harmonia.master.privacy import object_to_profiling

assignments.finish_erasures = lambda database: os.kill(os.getpid(), signal.SIGKILL)
object_to_profiling(Database(sys.argv[1]), [int(sys.argv[2])], actor="dpo")
"""


def test_an_objection_killed_between_its_commit_and_the_files_is_finished_by_the_next_command(
    h1: str, tiny: Catalog, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from harmonia.app import Harmonia

    cycle(h1, tiny, tmp_path / "1")
    cycle(h1, tiny, tmp_path / "2")
    objector = source_ids(h1)["C02"]
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_COMMIT, h1, str(objector)], check=False
    )
    assert killed.returncode == -9
    # Committed: the rows are gone, the files still hold the profile, and it is recorded.
    assert query(h1, f"SELECT cycle_id FROM assignment WHERE customer_id = {objector}") == []
    assert objector in holders_of(h1)
    assert query(h1, "SELECT customer_id FROM assignment_input_erasure") == [
        {"customer_id": objector}
    ]
    app = Harmonia(h1, tiny)
    app.database  # noqa: B018 (the next command opening the store finishes it)
    assert app.recovered is not None
    assert any(
        f"removed the assignment inputs of objecting customer(s) {objector}" in said
        for said in app.recovered.messages()
    ), app.recovered.messages()
    assert objector not in holders_of(h1)
    assert query(h1, "SELECT customer_id FROM assignment_input_erasure") == []


def test_recovery_removes_the_inputs_files_dead_and_failed_cycles_left_and_says_so(
    h1: str, tiny: Catalog, tmp_path: Path
) -> None:
    import socket
    import subprocess
    import sys

    from harmonia.store.recovery import recover

    kept = cycle(h1, tiny, tmp_path / "1")
    failed = cycle(h1, tiny, tmp_path / "2")
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    database = Database(h1)
    with database.engine.begin() as connection:
        # A run killed between writing its file and storing its rows: still running,
        # its owner gone.
        connection.exec_driver_sql(
            "INSERT INTO cycle (country, therapy_area, period, engine, rule_set, "
            "rule_set_version, snapshot, status, actor, customers, summary, started_at, owner) "
            "SELECT country, therapy_area, period, engine, rule_set, rule_set_version, snapshot, "
            f"'running', actor, 0, '{{}}', started_at, '{socket.gethostname()}:{exited.pid}' "
            f"FROM cycle WHERE id = {kept}"
        )
        dead = connection.exec_driver_sql("SELECT MAX(id) FROM cycle").scalar_one()
        # ... and a failed cycle whose clean-up died after its rows, before its file.
        connection.exec_driver_sql(f"UPDATE cycle SET status = 'failed' WHERE id = {failed}")
        connection.exec_driver_sql(f"DELETE FROM assignment WHERE cycle_id = {failed}")
    left = facts_folder(path_of(h1)) / "assignment_input" / f"cycle={dead}"
    left.mkdir(parents=True)
    (left / "part-00001.parquet").write_bytes(inputs_files(h1)[kept][0].read_bytes())
    recovered = recover(database)
    assert recovered.failed_cycles == (dead,)
    assert recovered.removed_cycle_files == (failed,)
    assert sorted(inputs_files(h1)) == [kept]
    assert any(
        f"assignment inputs files of failed cycle(s) {failed}" in said
        for said in recovered.messages()
    )
    assert not recover(database)  # nothing left to say


def test_a_cycle_that_cannot_write_its_inputs_file_fails_whole_with_one_clear_line(
    h1: str, harmonia_cli: Callable, tiny: Catalog
) -> None:
    from helpers import read_only

    inputs = facts_folder(path_of(h1)) / "assignment_input"
    inputs.mkdir(parents=True)
    with read_only(inputs):
        said = harmonia_cli("cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1")
    assert said.exit_code == 1 and "Traceback" not in said.output
    assert "cannot write the store's facts: " in said.output
    assert "nothing of this cycle was kept" in said.output
    assert "then run the cycle again" in said.output
    assert query(h1, "SELECT status FROM cycle") == [{"status": "failed"}]
    assert query(h1, "SELECT COUNT(*) AS n FROM assignment") == [{"n": 0}]


# --- the upgrade of a store that kept them in the table --------------------------------


def _old_assignments() -> list[tuple[Any, ...]]:
    """(cycle, customer, segment, final segment, inputs, refined_by) as 0730 stored them."""
    return [
        (
            cycle,
            customer,
            f"S{customer % 4}",
            f"S{(customer + cycle) % 4}",
            json.dumps({"potential": customer * 1.5, "metric__calls": cycle}),
            None if customer % 5 else json.dumps({"segment": customer}),
        )
        for cycle in (1, 2, 3)
        for customer in range(1, 101 if cycle != 2 else 41)
    ]


STORED = (
    "SELECT cycle_id, customer_id, segment, final_segment, inputs, refined_by FROM assignment "
    "ORDER BY cycle_id, customer_id"
)


@pytest.mark.parametrize(
    "store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_0740_moves_the_stored_inputs_without_losing_one(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from alembic import command
    from sqlalchemy import text

    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if store == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    database = Database(url)
    database.upgrade("0730")
    with database.engine.begin() as connection:
        for cycle_id in (1, 2, 3):
            connection.execute(
                text(
                    "INSERT INTO cycle (id, country, therapy_area, period, engine, rule_set, "
                    "rule_set_version, snapshot, status, actor, customers, summary, started_at) "
                    "VALUES (:id, 'NL', 'cardiology', '2027-H1', 'duckdb', 'r', '1', '{}', "
                    "'draft', 'a', 0, '{}', '2026-12-01 00:00:00')"
                ),
                {"id": cycle_id},
            )
        for cycle_id, customer, segment, final, inputs, refined in _old_assignments():
            connection.execute(
                text(
                    "INSERT INTO assignment (cycle_id, customer_id, segment, segment_rule, "
                    "final_segment, origin, inputs, refined_by) VALUES (:c, :k, :s, 'r1', :f, "
                    "'rules', :i, :r)"
                ),
                {"c": cycle_id, "k": customer, "s": segment, "f": final, "i": inputs, "r": refined},
            )
    database.engine.dispose()
    expected = sorted(_old_assignments())
    assert len(expected) == 240
    upgraded = Database(url)
    upgraded.upgrade()
    assert upgraded.current_revision() == SCHEMA_REVISION
    assert [tuple(row.values()) for row in query(url, STORED)] == expected  # every value
    counts = query(url, "SELECT cycle_id, COUNT(*) AS n FROM assignment GROUP BY 1 ORDER BY 1")
    assert [tuple(row.values()) for row in counts] == [(1, 100), (2, 40), (3, 100)]
    if store == "sqlite":
        assert in_table(url) == 0
        assert {cycle: len(parts) for cycle, parts in inputs_files(url).items()} == {
            1: 1, 2: 1, 3: 1
        }  # fmt: skip
    else:  # PostgreSQL keeps them in its table
        with upgraded.engine.connect() as connection:
            assert (
                connection.exec_driver_sql(
                    "SELECT COUNT(*) FROM assignment WHERE inputs IS NOT NULL"
                ).scalar_one()
                == 240
            )
    # Down and up again: the inputs go back into the table, then into files again.
    config = upgraded._alembic_config()
    with upgraded.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0730")
        rows = connection.exec_driver_sql(STORED).fetchall()
    assert [tuple(row) for row in rows] == expected
    upgraded.engine.dispose()
    Database(url).upgrade()
    assert [tuple(row.values()) for row in query(url, STORED)] == expected
    if store == "sqlite":
        assert in_table(url) == 0


def test_a_file_of_a_cycle_with_rows_lost_before_a_downgrade_is_named(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'store.db'}"
    database = Database(url)
    database.upgrade()
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO assignment (cycle_id, customer_id, segment, segment_rule, "
            "final_segment, origin) VALUES (7, 1, 'A', 'r', 'A', 'rules')"
        )
    config = database._alembic_config()
    with (
        pytest.raises(Exception, match="assignment inputs of cycle 7 are not in"),
        database.engine.begin() as connection,
    ):
        config.attributes["connection"] = connection
        command.downgrade(config, "0730")


def test_a_downgrade_puts_a_cycles_inputs_struct_back_as_their_json_text(
    h1: str, tiny: Catalog, tmp_path: Path
) -> None:
    from alembic import command

    first = cycle(h1, tiny, tmp_path)
    expected = sorted(
        (row["customer_id"], row["inputs"])
        for row in query(h1, f"SELECT customer_id, inputs FROM assignment WHERE cycle_id = {first}")
    )
    assert expected and all(json.loads(inputs) for _, inputs in expected)
    database = Database(h1)
    config = database._alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0730")
        rows = connection.exec_driver_sql(
            f"SELECT customer_id, inputs FROM assignment WHERE cycle_id = {first}"
        ).fetchall()
    assert sorted(tuple(row) for row in rows) == expected


def test_struct_and_text_inputs_files_mix_across_the_cycles_of_one_store(
    h1: str, tiny: Catalog, tmp_path: Path
) -> None:
    """The embedded engine writes a struct, the in-database one JSON text (as every file
    before 7e064c3): a store holds both, and pull-through, erasure and the downgrade read
    either as the other."""
    from alembic import command

    from harmonia.master.privacy import erase

    engines = ["duckdb", "database", "duckdb", "database"]
    ids = [cycle(h1, tiny, tmp_path / str(n), engine) for n, engine in enumerate(engines)]
    kinds = [
        duckdb.sql(f"SELECT typeof(inputs) FROM read_parquet('{inputs_files(h1)[id][0]}') LIMIT 1")
        .fetchall()[0][0]
        .split("(")[0]
        for id in ids
    ]
    assert kinds == ["STRUCT", "VARCHAR", "STRUCT", "VARCHAR"]

    def stored() -> list[list[dict[str, Any]]]:
        return [
            query(h1, f"SELECT {COLUMNS} FROM assignment WHERE cycle_id = {id} ORDER BY 1")
            for id in ids
        ]

    # Each cycle pulls through the previous one's inputs whatever kind its file is.
    first, *others = stored()
    assert first and all(rows == first for rows in others)
    erased = first[0]["customer_id"]
    assert erase(Database(h1), erased, actor="dpo").removed["assignment_input"] == len(ids)
    first, *others = stored()
    assert erased not in {row["customer_id"] for row in first}
    assert first and all(rows == first for rows in others)
    database = Database(h1)
    config = database._alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0730")
        in_table = [
            connection.exec_driver_sql(
                f"SELECT customer_id, inputs FROM assignment WHERE cycle_id = {id} ORDER BY 1"
            ).fetchall()
            for id in ids
        ]
    expected = [(row["customer_id"], row["inputs"]) for row in first]
    assert all([tuple(row) for row in rows] == expected for rows in in_table)
