"""Questionnaire responses and answers as facts: Parquet per load batch on SQLite
(tables on PostgreSQL), change-only reloads, input snapshots, erasure and the
upgrade of a store that kept them as SQLite rows (issue 11)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
import tiny_market
from helpers import load, path_of, query, write

from harmonia.errors import ConfigError
from harmonia.plugin.catalog import Catalog
from harmonia.store import Database
from harmonia.store.database import SCHEMA_REVISION
from harmonia.store.facts import facts_folder

pytestmark = pytest.mark.store

RESPONSES_HEADER = "customer_id;questionnaire;version;respondent;answered_at;question;answer"
STORED = (
    "SELECT r.id, r.customer_id, r.questionnaire, r.version, r.respondent, r.answered_at, "
    "r.batch_id, a.question, a.value FROM response r JOIN answer a ON a.response_id = r.id "
    "ORDER BY r.id, a.question, a.value"
)


def files_of(url: str, table: str) -> dict[int, list[Path]]:
    """The Parquet files of ``table`` per batch folder."""
    root = facts_folder(path_of(url)) / table
    return {
        int(folder.name.removeprefix("batch=")): sorted(folder.glob("*.parquet"))
        for folder in sorted(root.glob("batch=*"))
    }


def rows_in(files: list[Path], columns: str) -> list[tuple]:
    listed = ", ".join(f"'{path}'" for path in files)
    return duckdb.sql(f"SELECT {columns} FROM read_parquet([{listed}]) ORDER BY ALL").fetchall()


def usage(url: str, customer: str) -> list[str]:
    return [
        row["value"]
        for row in query(
            url,
            "SELECT a.value FROM answer a JOIN response r ON r.id = a.response_id "
            "JOIN crosswalk cw ON cw.customer_id = r.customer_id "
            f"WHERE cw.source_id = '{customer}'",
        )
    ]


def test_responses_and_answers_are_parquet_files_per_batch(h1: str) -> None:
    responses, answers = files_of(h1, "response"), files_of(h1, "answer")
    assert list(responses) == list(answers) and len(responses) == 1
    # The SQLite tables hold none: the files are the facts.
    with Database(h1).engine.connect() as connection:
        for table in ("response", "answer"):
            assert connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar() == 0
    assert query(h1, "SELECT COUNT(*) AS n FROM answer") == [{"n": 6}]
    assert usage(h1, "C01") == ["lots"]
    # Counted per fact table at the commit (review1: counted per load kind, the
    # two tables of a responses batch would have been checked against their sum).
    (batch,) = responses
    counted = query(h1, f"SELECT fact_table, files FROM fact_files WHERE batch_id = {batch}")
    assert sorted((row["fact_table"], row["files"]) for row in counted) == [
        ("answer", len(answers[batch])),
        ("response", len(responses[batch])),
    ]


def test_a_reload_writes_nothing_and_a_changed_response_is_written_whole(
    h1: str, tiny: Catalog, tmp_path: Path
) -> None:
    before = {table: files_of(h1, table) for table in ("response", "answer")}
    stored = query(h1, STORED)
    # The same rows in another file (not skipped by its hash): compared, nothing written.
    same = (tiny_market.DATA / "h1" / "responses.csv").read_text() + "\n"
    (again,) = load(h1, tiny, write(tmp_path / "same.csv", same), country="NL")
    assert not again.skipped
    assert (again.rows_new, again.rows_updated, again.rows_unchanged) == (0, 0, 6)
    assert {table: files_of(h1, table) for table in before} == before
    assert query(h1, STORED) == stored
    # C01's answer changes, C02's does not, C03 answers for the first time.
    changed = write(
        tmp_path / "changed.csv",
        f"{RESPONSES_HEADER}\n"
        "C01;tiny-profile;1;rep1;2026-05-10;usage;none\n"
        "C02;tiny-profile;1;rep1;2026-06-01;usage;some\n"
        "C03;tiny-profile;1;rep1;2026-06-02;usage;lots\n",
    )
    (result,) = load(h1, tiny, changed, country="NL")
    assert (result.rows_read, result.rows_quarantined) == (3, 0)
    assert (result.rows_new, result.rows_updated, result.rows_unchanged) == (1, 1, 1)
    batch = result.batch_id
    written = rows_in(files_of(h1, "response")[batch], "id, batch_id")
    (c01,) = query(
        h1,
        "SELECT r.id FROM response r JOIN crosswalk cw ON cw.customer_id = r.customer_id "
        "WHERE cw.source_id = 'C01'",
    )
    assert len(written) == 2 and (c01["id"], batch) in written  # C01 again (same id) and C03
    assert rows_in(files_of(h1, "answer")[batch], "value") == [("lots",), ("none",)]
    assert usage(h1, "C01") == ["none"] and usage(h1, "C02") == ["some"]
    assert usage(h1, "C03") == ["lots"]
    assert query(h1, "SELECT COUNT(*) AS n FROM response") == [{"n": 7}]


def test_a_cycle_reruns_on_its_snapshot_after_answers_changed(
    h1: str, harmonia_cli: Callable, tiny: Catalog, tmp_path: Path
) -> None:
    run = ("cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--json")
    first = json.loads(harmonia_cli(*run, "--out", str(tmp_path / "1")).output)["cycle"]["id"]
    changed = write(
        tmp_path / "responses.csv",
        f"{RESPONSES_HEADER}\nC01;tiny-profile;1;rep1;2026-05-10;usage;none\n",
    )
    assert load(h1, tiny, changed, country="NL")[0].rows_updated == 1
    later = json.loads(harmonia_cli(*run, "--out", str(tmp_path / "2")).output)["cycle"]["id"]
    again = harmonia_cli(*run, "--as-of", f"cycle:{first}", "--out", str(tmp_path / "3"))
    assert again.exit_code == 0, again.output
    replayed = json.loads(again.output)["cycle"]["id"]

    def assignments(cycle: int) -> list[dict[str, Any]]:
        return query(
            h1,
            "SELECT customer_id, segment, tier, final_segment, inputs FROM assignment "
            f"WHERE cycle_id = {cycle} ORDER BY customer_id",
        )

    assert assignments(replayed) == assignments(first) != assignments(later)
    responses = {batch for batch in files_of(h1, "response")}
    shown = json.loads(harmonia_cli("cycle", "show", str(first), "--json").output)["inputs"]
    assert responses & set(shown) == responses - {max(responses)}  # the answers it read


def test_a_cycle_run_before_0700_reruns_with_the_answers_changed_since(
    h1: str, harmonia_cli: Callable, tiny: Catalog, tmp_path: Path
) -> None:
    """Review5 11: 0700 kept only a response's newest version, under the batch that
    last changed it; a cycle run before the upgrade, replayed, read the response as
    missing (the customer unanswered). It now reads it as it is now, and says so."""
    run = ("cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--json")
    first = json.loads(harmonia_cli(*run, "--out", str(tmp_path / "1")).output)["cycle"]["id"]
    changed = write(
        tmp_path / "responses.csv",
        f"{RESPONSES_HEADER}\nC01;tiny-profile;1;rep1;2026-05-10;usage;none\n",
    )
    assert load(h1, tiny, changed, country="NL")[0].rows_updated == 1
    # A store from before 0700: its rows in the tables, then upgraded (C01's response
    # now only in the later batch's folder, which cycle 1's snapshot does not name).
    from alembic import command

    database = Database(h1)
    config = database._alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0690")
    database.engine.dispose()
    Database(h1).upgrade()
    later = json.loads(harmonia_cli(*run, "--out", str(tmp_path / "2")).output)["cycle"]["id"]
    again = harmonia_cli(*run, "--as-of", f"cycle:{first}", "--out", str(tmp_path / "3"))
    assert again.exit_code == 0, again.output
    assert "read as they are now" in again.output
    replayed = json.loads(again.output[again.output.index("{") :])["cycle"]["id"]

    def assignments(cycle: int) -> list[dict[str, Any]]:
        return query(
            h1,
            "SELECT customer_id, segment, tier, final_segment, inputs FROM assignment "
            f"WHERE cycle_id = {cycle} ORDER BY customer_id",
        )

    assert assignments(replayed) == assignments(later)  # C01 answered ("none"), as now
    (cycle,) = query(h1, f"SELECT summary FROM cycle WHERE id = {replayed}")
    assert json.loads(cycle["summary"])["read_as_now"] == ["response", "answer"]
    # A cycle run after the upgrade reads its own snapshot, without a warning.
    exact = harmonia_cli(*run, "--as-of", f"cycle:{later}", "--out", str(tmp_path / "4"))
    assert exact.exit_code == 0 and "read as they are now" not in exact.output


def test_an_erased_response_id_is_never_given_again(
    universe: str, tiny: Catalog, tmp_path: Path
) -> None:
    """Review5 12: ids came from the rows still held (files or table), so erasing the
    holder of the highest response id gave it to the next response loaded, another
    person's."""
    h1 = universe
    from harmonia.master.privacy import erase

    top = max(query(h1, STORED), key=lambda row: row["id"])
    erase(Database(h1), top["customer_id"], actor="dpo")
    assert top["id"] not in {row["id"] for row in query(h1, STORED)}
    (other, *_) = query(
        h1,
        f"SELECT source_id FROM crosswalk WHERE customer_id <> {top['customer_id']} "
        "ORDER BY source_id",
    )
    new = write(
        tmp_path / "new.csv",
        f"{RESPONSES_HEADER}\n{other['source_id']};tiny-profile;1;rep9;2026-07-01;usage;lots\n",
    )
    (result,) = load(h1, tiny, new, country="NL")
    given = [row["id"] for row in query(h1, STORED) if row["batch_id"] == result.batch_id]
    assert given == [top["id"] + 1]
    assert query(h1, "SELECT last_id FROM fact_id_mark WHERE fact_table = 'response'") == [
        {"last_id": top["id"] + 1}
    ]


def test_a_lost_answer_file_is_a_clear_error(
    h1: str, harmonia_cli: Callable, tiny: Catalog
) -> None:
    ((batch, (part, *_)),) = files_of(h1, "answer").items()
    part.unlink()
    result = harmonia_cli("cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"load batch {batch} committed 1 answer file(s), but 0 are there" in result.output


def test_erasure_rewrites_the_answer_files(h1: str, tiny: Catalog, tmp_path: Path) -> None:
    from harmonia.master.privacy import erase

    # C01 answered in two batches: both versions are theirs.
    changed = write(
        tmp_path / "responses.csv",
        f"{RESPONSES_HEADER}\nC01;tiny-profile;1;rep1;2026-05-10;usage;none\n",
    )
    load(h1, tiny, changed, country="NL")
    (c01,) = query(h1, "SELECT customer_id FROM crosswalk WHERE source_id = 'C01'")
    theirs = [row["id"] for row in query(h1, STORED) if row["customer_id"] == c01["customer_id"]]
    every_answer = [path for paths in files_of(h1, "answer").values() for path in paths]
    assert {row[0] for row in rows_in(every_answer, "response_id")} >= set(theirs)
    result = erase(Database(h1), c01["customer_id"], actor="dpo")
    assert result.removed["answer"] == 2 and result.removed["response"] == 2
    left = {row[0] for row in rows_in(every_answer, "response_id")}
    assert not left & set(theirs) and len(left) == 5
    assert usage(h1, "C02") == ["some"]  # the others' answers are read as before
    assert query(h1, "SELECT COUNT(*) AS n FROM answer") == [{"n": 5}]


# --- the upgrade of a store that kept them as rows ------------------------------------

#: Responses as revision 0640 stored them: (id, customer, version, batch, answers).
OLD_RESPONSES = [
    (n, n % 50 + 1, "1" if n % 3 else "2", 1 if n <= 120 else 3, answers)
    for n in range(1, 201)
    for answers in (
        [("usage", "lots" if n % 2 else "some"), ("channels", "email"), ("channels", "visit")]
        if n % 4
        else [("usage", "none")],
    )
]


def _old_store(database: Database) -> None:
    """Four loaded batches, three of responses (one whose responses were all loaded again
    later): responses and answers as SQLite rows."""
    with database.engine.begin() as connection:
        for batch, kind, status in (
            (1, "responses", "loaded"),
            (2, "customers", "loaded"),
            (3, "responses", "loaded"),
            (4, "responses", "loaded"),  # all its responses were loaded again by a later one
        ):
            connection.execute(
                _text(
                    "INSERT INTO load_batch (id, source, system, kind, location, status, "
                    "rows_read, rows_loaded, rows_quarantined, actor, started_at) VALUES "
                    "(:id, 'csv', 'csv', :kind, 'f.csv', :status, 0, 0, 0, 'a', "
                    "'2026-12-01 00:00:00')"
                ),
                {"id": batch, "kind": kind, "status": status},
            )
        for n, customer, version, batch, answers in OLD_RESPONSES:
            connection.execute(
                _text(
                    "INSERT INTO response (id, customer_id, questionnaire, version, respondent, "
                    "answered_at, batch_id) VALUES (:id, :c, 'profile', :v, :r, :at, :b)"
                ),
                {"id": n, "c": customer, "v": version, "r": f"rep{n % 7}", "b": batch,
                 "at": f"2026-{n % 12 + 1:02d}-01"},
            )  # fmt: skip
            for question, value in answers:
                connection.execute(
                    _text("INSERT INTO answer (response_id, question, value) VALUES (:r, :q, :v)"),
                    {"r": n, "q": question, "v": value},
                )


def _text(sql: str) -> Any:
    from sqlalchemy import text

    return text(sql)


def _expected() -> list[tuple]:
    return sorted(
        (n, customer, "profile", version, f"rep{n % 7}", f"2026-{n % 12 + 1:02d}-01", batch, q, v)
        for n, customer, version, batch, answers in OLD_RESPONSES
        for q, v in answers
    )


@pytest.mark.parametrize(
    "store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_0700_moves_the_stored_answers_without_losing_one(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if store == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    database = Database(url)
    database.upgrade("0690")
    _old_store(database)
    database.engine.dispose()
    upgraded = Database(url)
    upgraded.upgrade()
    assert upgraded.current_revision() == SCHEMA_REVISION
    stored = [tuple(row.values()) for row in query(url, STORED)]
    assert len(stored) == len(_expected()) == 500
    assert stored == _expected()  # every value, each response with its batch
    counts = query(
        url,
        "SELECT COUNT(DISTINCT r.id) AS responses, COUNT(*) AS answers FROM response r "
        "JOIN answer a ON a.response_id = r.id",
    )
    assert counts == [{"responses": 200, "answers": 500}]
    if store == "postgresql":  # PostgreSQL keeps its tables
        with upgraded.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT COUNT(*) FROM answer").scalar() == 500
        return
    with upgraded.engine.connect() as connection:
        for table in ("response", "answer"):
            assert connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar() == 0
    # Each response and its answers under the batch that last wrote it.
    assert sorted(files_of(url, "response")) == sorted(files_of(url, "answer")) == [1, 3]
    assert rows_in(files_of(url, "response")[3], "DISTINCT batch_id") == [(3,)]
    counted = query(url, "SELECT batch_id, fact_table, files FROM fact_files ORDER BY 1, 2")
    assert [tuple(row.values()) for row in counted] == [
        (1, "answer", 1), (1, "response", 1), (3, "answer", 1), (3, "response", 1),
        (4, "answer", 0), (4, "response", 0),
        (5, "answer", 0), (5, "response", 0),  # the upgrade's own batch (review5 11)
    ]  # fmt: skip
    # A file put into batch 4's folder by hand is found: it committed none.
    stray = facts_folder(path_of(url)) / "answer" / "batch=4" / "part-00001.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(files_of(url, "answer")[1][0].read_bytes())
    with pytest.raises(ConfigError, match="committed 0 answer file"):
        query(url, "SELECT COUNT(*) FROM answer")
    stray.unlink()
    # Down and up again: the rows go back into the tables, then into files again.
    from alembic import command

    config = upgraded._alembic_config()
    with upgraded.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0690")
        rows = connection.exec_driver_sql(STORED).fetchall()
    assert [tuple(row) for row in rows] == _expected()
    upgraded.engine.dispose()
    Database(url).upgrade()
    assert [tuple(row.values()) for row in query(url, STORED)] == _expected()


def _second_source_id(url: str) -> int:
    """AC01 becomes C01 under a second source id of the same system: a second
    crosswalk row on C01's harmonia id, written here by hand; returns C01's
    harmonia id.

    No harmonia command is known to write such a row: ``master merge`` keeps each
    source id on its own harmonia id behind a redirect (merged customers' repeats
    are left out where facts are read, :func:`harmonia.store.identity.resolved_facts`),
    and a customers load quarantines a new source id whose identifier belongs to a
    customer this system already knows. A store written otherwise (by hand, another
    tool) can hold one, and the responses load must not keep its answers twice."""
    (c01,) = query(url, "SELECT customer_id FROM crosswalk WHERE source_id = 'C01'")
    with Database(url).engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO crosswalk (system, source_id, customer_id, batch_id) "
            "SELECT system, 'AC01', customer_id, batch_id FROM crosswalk WHERE source_id = 'C01'"
        )
    return c01["customer_id"]


def _july_answers(url: str) -> list[tuple[int, str]]:
    return [
        (row["customer_id"], row["value"])
        for row in query(
            url,
            "SELECT r.customer_id, a.value FROM response r JOIN answer a "
            "ON a.response_id = r.id WHERE r.answered_at >= '2026-07-01' ORDER BY a.value",
        )
    ]


def test_a_customer_answering_under_two_source_ids_is_stored_as_one_response(
    universe: str, tiny: Catalog, tmp_path: Path
) -> None:
    """The same answer under C01 and AC01 (one customer) is one response with one
    answer: the repeat is quarantined as a duplicate naming both source ids, as a
    repeat under one source id is; an id no crosswalk knows is quarantined."""
    c01 = _second_source_id(universe)
    before = query(universe, "SELECT COUNT(*) AS n FROM response")[0]["n"]
    responses = write(
        tmp_path / "responses.csv",
        f"{RESPONSES_HEADER}\n"
        "C01;tiny-profile;1;rep1;2026-07-01;usage;some\n"
        "AC01;tiny-profile;1;rep1;2026-07-01;usage;some\n"
        "ZC01;tiny-profile;1;rep1;2026-07-01;usage;some\n",
    )
    (result,) = load(universe, tiny, responses, country="NL")
    assert (result.rows_read, result.rows_quarantined, result.rows_new) == (3, 2, 1), result
    assert _july_answers(universe) == [(c01, "some")]
    assert query(universe, "SELECT COUNT(*) AS n FROM response")[0]["n"] == before + 1
    repeat = (
        "duplicate of row 2 (same response and question: customer_id 'AC01' and 'C01' "
        "are one customer)"
    )
    reasons = dict(result.reasons)
    assert reasons.pop(repeat, 0) == 1, result.reasons
    ((reason, rows),) = reasons.items()
    assert rows == 1 and "not a customer of system csv" in reason, reason
    # Loaded again: the stored response is unchanged, the repeat quarantined again.
    (again,) = load(
        universe, tiny, write(tmp_path / "again.csv", responses.read_text() + "\n"), country="NL"
    )
    assert (again.rows_quarantined, again.rows_new, again.rows_unchanged) == (2, 0, 1), again
    assert _july_answers(universe) == [(c01, "some")]


def test_conflicting_answers_under_two_source_ids_keep_the_first(
    universe: str, tiny: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two source ids of one customer answering one question of one response
    differently: the first row's answer is kept, as under one source id, and the
    other is quarantined with a reason that says it differs; also when a chunk
    boundary falls between the two (each row its own chunk here)."""
    monkeypatch.setattr("harmonia.ingest.loader.CHUNK_ROWS", 1)
    c01 = _second_source_id(universe)
    responses = write(
        tmp_path / "responses.csv",
        f"{RESPONSES_HEADER}\n"
        "AC01;tiny-profile;1;rep1;2026-07-01;usage;lots\n"
        "C02;tiny-profile;1;rep1;2026-07-01;usage;none\n"
        "C01;tiny-profile;1;rep1;2026-07-01;usage;some\n"
        "C01;tiny-profile;1;rep1;2026-07-02;usage;some\n",
    )
    (result,) = load(universe, tiny, responses, country="NL")
    assert (result.rows_read, result.rows_quarantined, result.rows_new) == (4, 1, 3), result
    assert [answer for answer in _july_answers(universe) if answer[0] == c01] == [
        (c01, "lots"),
        (c01, "some"),  # 07-02: another response
    ]
    assert result.reasons == (
        (
            "another answer than row 2 to the same response and question (customer_id "
            "'C01' and 'AC01' are one customer): the first is kept",
            1,
        ),
    )
