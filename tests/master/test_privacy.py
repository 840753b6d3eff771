"""Privacy: an objection honoured by every cycle and sink, erasure, pseudonymised exports."""

from __future__ import annotations

import hmac
import json
from hashlib import sha256
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
import tiny_market
from helpers import load, quarantined, query, tiny_catalog, write
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from harmonia.compute import duckdb_connection
from harmonia.engine.cycle import SinkChoice, run_cycle
from harmonia.errors import ConfigError, NotFoundError
from harmonia.master.merging import merge, unmerge
from harmonia.master.privacy import (
    EARLIER_STATES,
    erase,
    hmac_sql,
    object_to_profiling,
    pseudonymised_assignments,
    withdraw_objection,
)
from harmonia.plugin.manager import PluginManager
from harmonia.plugin.types import OUTPUT_KINDS
from harmonia.store import Database

#: C02 Bram Jansen, TINY 10000024: what must not appear anywhere once he objects.
C02_TRACES = ("C02", "Jansen", "10000024")


def ids(url: str) -> dict[str, int]:
    return {r["source_id"]: r["customer_id"] for r in query(url, "SELECT * FROM crosswalk")}


def every_installed_sink():
    """The built-ins, every installed pack (xlsx and any other sink), and the tiny market."""
    manager = PluginManager.discover(strict=False)
    manager.register(tiny_market, name="tiny", distribution="test-tiny", version="1.0")
    return manager.catalog()


def cycle(url: str, out: Path, catalog=None, sinks=(SinkChoice("csv"),)):
    return run_cycle(
        Database(url),
        catalog or tiny_catalog(),
        country="NL",
        therapy_area="cardiology",
        period="2027-H1",
        sinks=sinks,
        directory=out,
    )


def text_of(location: str) -> str:
    """Everything a written file holds, as text (workbooks cell by cell)."""
    path = Path(location)
    if path.suffix == ".parquet":
        return str(pq.read_table(path).to_pylist())
    if path.suffix == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True)
        return str([list(row) for sheet in book for row in sheet.iter_rows(values_only=True)])
    return path.read_text(encoding="utf-8-sig")


def test_an_objecting_customer_is_in_no_output_of_any_installed_sink(
    universe: str, tmp_path: Path
) -> None:
    catalog = every_installed_sink()
    sinks = [SinkChoice(name, tuple(OUTPUT_KINDS)) for name in sorted(catalog.output_sinks)]
    assert {"csv", "parquet"} <= {s.name for s in sinks}
    seen = cycle(universe, tmp_path / "before", catalog, sinks)
    assert any(
        "Jansen" in text_of(w.location) or "C02" in text_of(w.location) for w in seen.written
    )  # the check below can fail

    known = ids(universe)
    result = object_to_profiling(Database(universe), [known["C02"]], actor="dpo")
    assert result.added == (known["C02"],)
    # Earlier cycles' results of the customer are gone too.
    assert not query(universe, f"SELECT * FROM assignment WHERE customer_id = {known['C02']}")

    after = cycle(universe, tmp_path / "after", catalog, sinks)
    assert after.written and {w.sink for w in after.written} == {s.name for s in sinks}
    for written in after.written:
        content = text_of(written.location)
        for trace in C02_TRACES:
            assert trace not in content, (written, trace)
    assert not query(universe, f"SELECT * FROM assignment WHERE customer_id = {known['C02']}")
    assert after.cycle.customers == seen.cycle.customers - 1


def test_an_objection_follows_a_merge_and_comes_back_on_unmerge(
    universe: str, tmp_path: Path
) -> None:
    known = ids(universe)
    database = Database(universe)
    object_to_profiling(database, [known["C10"]], actor="dpo", source="crm")
    merge(database, known["C02"], known["C10"], actor="steward")
    # The objection stays on the id it was made for, and holds for the whole person.
    assert query(universe, "SELECT customer_id FROM objection") == [{"customer_id": known["C10"]}]
    result = cycle(universe, tmp_path)
    assigned = {
        r["customer_id"]
        for r in query(
            universe, f"SELECT customer_id FROM assignment WHERE cycle_id = {result.cycle.id}"
        )
    }
    assert known["C02"] not in assigned and known["C10"] not in assigned
    unmerge(database, known["C10"], actor="steward")
    assert query(universe, "SELECT customer_id FROM objection") == [{"customer_id": known["C10"]}]
    assert withdraw_objection(database, [known["C10"]], actor="dpo") == [known["C10"]]
    assert query(universe, "SELECT customer_id FROM objection") == []


def test_an_objection_made_while_merged_holds_for_both_ids_through_an_unmerge(
    universe: str, tmp_path: Path
) -> None:
    known = ids(universe)
    database = Database(universe)
    merge(database, known["C02"], known["C10"], actor="steward")
    result = object_to_profiling(database, [known["C10"]], actor="dpo")  # by the merged id
    assert result.added == tuple(sorted((known["C02"], known["C10"])))
    unmerge(database, known["C10"], actor="steward")
    ran = cycle(universe, tmp_path)
    assigned = query(
        universe, f"SELECT customer_id FROM assignment WHERE cycle_id = {ran.cycle.id}"
    )
    assert not {known["C02"], known["C10"]} & {r["customer_id"] for r in assigned}
    # Withdrawn through either id while merged: every id of the person is lifted.
    merge(database, known["C02"], known["C10"], actor="steward")
    assert withdraw_objection(database, [known["C10"]], actor="dpo") == sorted(
        (known["C02"], known["C10"])
    )


def test_an_objection_loaded_from_a_source_is_honoured_and_a_bad_value_quarantined(
    universe: str, tmp_path: Path
) -> None:
    write(
        tmp_path / "crm" / "customers.csv",
        """
        customer_id;country;type;first_name;last_name;objection
        C03;NL;HCP;Cor;Bakker;yes
        C04;NL;HCP;Daan;Visser;maybe
        C05;NL;HCP;Eva;Smit;no
        """,
    )
    [result] = load(universe, tiny_catalog(), tmp_path / "crm", country="NL")
    assert result.rows_quarantined == 1
    [bad] = quarantined(universe)
    assert bad["reasons"] == ["objection 'maybe' is not yes or no"]
    known = ids(universe)
    objecting = query(universe, "SELECT customer_id, source FROM objection")
    assert objecting == [{"customer_id": known["C03"], "source": "csv"}]
    ran = cycle(universe, tmp_path / "out")
    assigned = query(
        universe, f"SELECT customer_id FROM assignment WHERE cycle_id = {ran.cycle.id}"
    )
    assert known["C03"] not in {r["customer_id"] for r in assigned} and len(assigned) == 9


def test_an_objection_for_an_unknown_customer_changes_nothing(universe: str) -> None:
    known = ids(universe)
    with pytest.raises(NotFoundError, match="no customer with harmonia id 9999; nothing"):
        object_to_profiling(Database(universe), [known["C01"], 9999], actor="dpo")
    assert query(universe, "SELECT * FROM objection") == []


def test_an_objecting_person_is_in_no_export_of_responses_by_any_of_their_ids(
    universe: str,
) -> None:
    """The FHIR export of questionnaire responses is an output too (it named them)."""
    from harmonia.fhir import read_responses

    database = Database(universe)
    known = ids(universe)
    exported = {r.customer for r in read_responses(database, "tiny-profile")}
    assert {"C01", "C02"} <= exported
    object_to_profiling(database, [known["C02"]], actor="dpo")
    merge(database, known["C10"], known["C01"], actor="steward")
    object_to_profiling(database, [known["C10"]], actor="dpo")  # the survivor objects
    exported_after = {r.customer for r in read_responses(database, "tiny-profile")}
    assert exported_after == exported - {"C01", "C02"}  # the merged id's responses too
    assert not read_responses(database, "tiny-profile", customers=["C01", "C02"])


def test_erasure_removes_the_person_everywhere_and_audits_without_personal_data(
    universe: str, tmp_path: Path
) -> None:
    known = ids(universe)
    # They and another move: the rows' states before are kept as versions (for --as-of).
    moved = write(
        tmp_path / "moved" / "customers.csv",
        "customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory\n"
        "C01;NL;HCP;Anna;de Vries;cardiology;2011;Haarlem;T1\n"
        "C02;NL;HCP;Bram;Jansen;cardiology;2012;Haarlem;T1\n",
    )
    load(universe, tiny_catalog(), moved, country="NL")
    published = cycle(
        universe,
        tmp_path,
        sinks=[SinkChoice("csv", tuple(OUTPUT_KINDS)), SinkChoice("parquet", ("target_list",))],
    )
    target = known["C01"]
    result = erase(Database(universe), target, actor="dpo")
    assert result.customers == (target,)
    assert result.removed["metric"] > 0 and result.removed["crosswalk"] == 1
    for table in ("metric", "response", "assignment", "identifier", "crosswalk"):
        assert not query(universe, f"SELECT * FROM {table} WHERE customer_id = {target}"), table
    assert result.removed["customer_attribute_history"] == 2  # what each source said of them
    history = query(universe, "SELECT source_id, last_name FROM customer_attribute_history")
    assert history and not any(r["source_id"] == "C01" for r in history)
    [record] = query(universe, f"SELECT * FROM customer WHERE id = {target}")
    assert record["first_name"] is record["last_name"] is record["postal_code"] is None
    # The row's versions (what --as-of reads) are emptied as the row is.
    versions = query(universe, f"SELECT * FROM customer_version WHERE id = {target}")
    assert versions and result.removed[EARLIER_STATES] == len(versions)
    assert all(v["first_name"] is v["last_name"] is v["email"] is None for v in versions)
    assert query(universe, f"SELECT last_name FROM customer_version WHERE id <> {target}")[0]
    # The files the cycle wrote no longer hold the person.
    cleaned = {Path(p).suffix for p in result.files_cleaned}
    assert cleaned == {".csv", ".parquet"}
    for written in published.written:
        assert "de Vries" not in text_of(written.location)
        assert "10000016" not in text_of(written.location)
    [audit] = query(universe, "SELECT * FROM audit_event WHERE action = 'privacy.erase'")
    assert not any(t in json.dumps(audit, default=str) for t in ("C01", "Vries", "10000016"))


def test_erasure_removes_the_persons_affiliations_as_child_and_as_parent(
    universe: str, tmp_path: Path
) -> None:
    known = ids(universe)
    affiliations = write(
        tmp_path / "affiliations.csv", "customer_id;parent_id\nC01;C03\nC02;C01\nC04;C03\n"
    )
    load(universe, tiny_catalog(), affiliations, country="NL")
    result = erase(Database(universe), known["C01"], actor="dpo")
    assert result.removed["affiliation"] == 2
    left = query(universe, "SELECT customer_id, parent_id FROM affiliation")
    assert [(r["customer_id"], r["parent_id"]) for r in left] == [(known["C04"], known["C03"])]


def test_erasure_removes_the_persons_quarantined_rows_and_no_one_elses(
    universe: str, tmp_path: Path
) -> None:
    known = ids(universe)
    bad = write(
        tmp_path / "metrics.csv",
        "customer_id;therapy_area;metric;period;value\n"
        "C01;cardiology;potential;2027-H1;abc\nC02;cardiology;potential;2027-H1;abc\n",
    )
    load(universe, tiny_catalog(), bad, country="NL")
    before = [row["record"]["customer_id"] for row in quarantined(universe)]
    assert {"C01", "C02"} <= set(before)
    erase(Database(universe), known["C01"], actor="dpo")
    after = [row["record"]["customer_id"] for row in quarantined(universe)]
    assert "C01" not in after and after.count("C02") == before.count("C02")


def test_erasure_reaches_the_output_of_every_installed_sink_or_names_it(
    universe: str, tmp_path: Path
) -> None:
    catalog = every_installed_sink()
    sinks = [SinkChoice(name, tuple(OUTPUT_KINDS)) for name in sorted(catalog.output_sinks)]
    assert "veeva" in {s.name for s in sinks}  # a sink with its own file layout
    published = cycle(universe, tmp_path / "out", catalog, sinks)
    target = ids(universe)["C02"]
    # An objection first forgets the stored results: the published files stay reachable.
    object_to_profiling(Database(universe), [target], actor="dpo")
    result = erase(Database(universe), target, actor="dpo", sinks=catalog.output_sinks)
    assert not result.failed
    assert result.files_cleaned
    unreachable = " ".join(result.unreachable)
    for written in published.written:
        if written.location in unreachable:
            assert f"{written.sink} sink" in unreachable
            continue
        content = text_of(written.location)
        for trace in C02_TRACES:
            assert trace not in content, (written, trace)
    [audit] = query(universe, "SELECT * FROM audit_event WHERE action = 'privacy.erase'")
    assert json.loads(audit["details"])["files_cleaned"] == list(result.files_cleaned)


def test_erasure_removes_refinement_requests_alignment_and_fact_files(
    universe: str, tmp_path: Path
) -> None:
    from harmonia.store.models import Alignment, RefinementRequest, RefinementScope

    known = ids(universe)
    database = Database(universe)
    with database.session() as session:
        for customer in (known["C01"], known["C02"]):
            session.add(Alignment(customer_id=customer, period="2027-H1", first_month=1,
                                  last_month=6, territory="T1", batch_id=1))  # fmt: skip
            session.add(RefinementScope(cycle_id=1, customer_id=customer, territory="T1"))
            session.add(RefinementRequest(cycle_id=1, customer_id=customer, territory="T1",
                                          requester="rep", action="segment", reason="other",
                                          comment=f"Dr {customer} retired"))  # fmt: skip
        session.commit()
    result = erase(database, known["C01"], actor="dpo")
    for table in ("alignment", "refinement_scope", "refinement_request"):
        assert result.removed[table] == 1, table
        left = query(universe, f"SELECT customer_id FROM {table}")
        assert [row["customer_id"] for row in left] == [known["C02"]], table
    if universe.startswith("sqlite"):  # metrics live in Parquet files beside the store
        duck = duckdb_connection()
        facts = Path(universe.removeprefix("sqlite:///") + ".facts")
        files = f"read_parquet('{facts}/metric/*/*.parquet')"
        held = duck.sql(f"SELECT DISTINCT customer_id FROM {files}").fetchall()
        assert known["C02"] in {row[0] for row in held} and (known["C01"],) not in held


def test_a_file_that_cannot_be_rewritten_is_named_and_the_audit_entry_kept(
    universe: str, tmp_path: Path
) -> None:
    published = cycle(universe, tmp_path, sinks=[SinkChoice("parquet", ("target_list",))])
    [written] = published.written
    Path(written.location).write_bytes(b"not parquet at all")  # damaged after publishing
    target = ids(universe)["C01"]
    result = erase(Database(universe), target, actor="dpo")
    [problem] = result.failed
    assert problem.startswith(written.location) and "run the erasure again" in problem
    assert not query(universe, f"SELECT * FROM crosswalk WHERE customer_id = {target}")
    [audit] = query(universe, "SELECT * FROM audit_event WHERE action = 'privacy.erase'")
    assert json.loads(audit["details"])["failed"] == [problem]


def test_erasure_rewrites_the_lake_and_names_the_workbooks_handed_out(
    universe: str, tmp_path: Path
) -> None:
    from harmonia import Harmonia

    app = Harmonia(universe, tiny_catalog(), actor="dpo")
    known = ids(universe)
    target = known["C01"]
    lake, _ = app.lake.export(tmp_path / "lake")
    answers = pq.read_table(lake / "answer").num_rows
    app.master.export_review(tmp_path / "review.xlsx")
    app.privacy.wrote("refinement workbook", [tmp_path / "T1.xlsx"])

    result = app.privacy.erase(target)
    assert not result.failed and str(lake.resolve()) in result.files_cleaned
    for table in ("customer", "metric", "response", "identifier", "crosswalk"):
        rows = pq.read_table(lake / table).to_pylist()
        assert rows and not [r for r in rows if target in (r.get("id"), r.get("customer_id"))]
    assert 0 < pq.read_table(lake / "answer").num_rows < answers
    assert "Vries" not in str(pq.read_table(lake / "customer").to_pylist())
    named = " ".join(result.unreachable)
    assert f"{(tmp_path / 'review.xlsx').resolve()} (review workbook)" in named
    assert f"{(tmp_path / 'T1.xlsx').resolve()} (refinement workbook)" in named


def test_erasure_rewrites_spark_output_folders_and_names_spark_tables(
    universe: str, tmp_path: Path
) -> None:
    from harmonia.master.privacy import record_written

    target = ids(universe)["C01"]
    folder = tmp_path / "results" / "cycle=1" / "assignments"
    folder.mkdir(parents=True)
    part = folder / "part-00000-x.snappy.parquet"
    pq.write_table(pa.table({"customer_id": [target, target + 1000], "segment": ["a", "b"]}), part)
    (folder / f".{part.name}.crc").write_bytes(b"checksum of the old part")
    database = Database(universe)
    for location in (str(folder.parent), "lakehouse.harmonia_target_list_1"):
        record_written(database, "spark", [location], actor="engine")

    result = erase(database, target, actor="dpo")
    assert pq.read_table(part).column("customer_id").to_pylist() == [target + 1000]
    assert not (folder / f".{part.name}.crc").exists()  # Spark would refuse the part
    assert result.files_cleaned == (str(folder.parent),)
    assert result.unreachable == ("lakehouse.harmonia_target_list_1 (spark)",)


def test_a_reload_does_not_bring_an_erased_person_back(universe: str, tmp_path: Path) -> None:
    target = ids(universe)["C01"]
    result = erase(Database(universe), target, actor="dpo")
    assert result.suppressed == 2  # source id C01, identifier TINY 10000016
    stored = json.dumps(query(universe, "SELECT * FROM suppression"), default=str)
    assert "C01" not in stored and "10000016" not in stored  # keyed hashes only

    # The old file again (a later extract: one more line), and another system
    # naming the person by their identifier.
    old = (tiny_market.DATA / "h1" / "customers.csv").read_text(encoding="utf-8")
    again = write(tmp_path / "crm" / "customers.csv", old + "C11;NL;HCP;Nel;Nieuw;;;;;;\n")
    load(universe, tiny_catalog(), again, country="NL")
    write(
        tmp_path / "vendor" / "customers.csv",
        """
        customer_id;country;type;first_name;last_name;id_scheme;id_value
        V1;NL;HCP;Anna;de Vries;TINY;10000016
        V2;NL;HCP;New;Person;;
        V3;NL;BAD;Anna;de Vries;TINY;10000016
        """,
    )
    [loaded] = load(universe, tiny_catalog(), tmp_path / "vendor", country="NL", system="vendor")
    assert loaded.rows_loaded == 1
    refused = [row for row in quarantined(universe) if "Art. 17" in " ".join(row["reasons"])]
    assert sorted((Path(row["location"]).parent.name, row["row_number"]) for row in refused) == [
        ("crm", 2),
        ("vendor", 2),
        ("vendor", 4),  # an invalid row of theirs too: refused as erased, nothing kept
    ]
    assert all(row["reasons"] == ["erased person; GDPR Art. 17"] for row in refused)
    # Nothing of the person is kept: no record, no line text, no unkeyed fingerprint.
    assert all(set(row["record"]) == {"erased", "location", "row"} for row in refused)
    kept = json.dumps(query(universe, "SELECT * FROM quarantine"), default=str)
    for personal in ("C01", "V1", "de Vries", "Anna", "10000016"):
        assert personal not in kept
    assert not query(universe, "SELECT * FROM customer WHERE last_name = 'de Vries'")
    assert sorted(ids(universe)) == [*(f"C{n:02}" for n in range(2, 12)), "V2"]
    # Nothing to fix in them: a quarantine export leaves them out.
    from harmonia import Harmonia

    app = Harmonia(universe, tiny_catalog(), actor="dpo")
    for exported in app.loads.export_quarantine(tmp_path / "fix"):
        text = exported.path.read_text(encoding="utf-8")
        assert "Art. 17" not in text and "de Vries" not in text


def test_an_erased_persons_objection_cannot_be_withdrawn(universe: str) -> None:
    target = ids(universe)["C01"]
    erase(Database(universe), target, actor="dpo")
    with pytest.raises(ConfigError, match=f"customer\\(s\\) {target} were erased"):
        withdraw_objection(Database(universe), [target], actor="dpo")
    assert [row["customer_id"] for row in query(universe, "SELECT * FROM objection")] == [target]


def test_an_earlier_objection_cannot_be_withdrawn_after_erasure(universe: str) -> None:
    target = ids(universe)["C01"]
    object_to_profiling(Database(universe), [target], actor="dpo")  # source 'command'
    erase(Database(universe), target, actor="dpo")
    with pytest.raises(ConfigError, match=f"customer\\(s\\) {target} were erased"):
        withdraw_objection(Database(universe), [target], actor="dpo")
    assert query(universe, "SELECT customer_id, source FROM objection") == [
        {"customer_id": target, "source": "erasure"}
    ]


def test_every_id_of_an_erased_merged_person_stays_erased(universe: str) -> None:
    known = ids(universe)
    database = Database(universe)
    merge(database, known["C02"], known["C10"], actor="steward")
    erase(database, known["C02"], actor="dpo")
    assert query(universe, "SELECT customer_id, source FROM objection ORDER BY 1") == [
        {"customer_id": known["C02"], "source": "erasure"},
        {"customer_id": known["C10"], "source": "erasure"},
    ]
    # On either side of an unmerge, the merged id's tombstone cannot be profiled again.
    unmerge(database, known["C10"], actor="steward")
    with pytest.raises(ConfigError, match=f"customer\\(s\\) {known['C10']} were erased"):
        withdraw_objection(database, [known["C10"]], actor="dpo")


def test_an_erasure_waits_for_a_running_load(
    universe: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It rewrites fact files: a load writing a batch file meanwhile would put them back."""
    from harmonia.store import writer

    database = Database(universe)
    if database.dialect != "sqlite":
        pytest.skip("the load lock guards the fact files of a SQLite store")
    target = ids(universe)["C01"]
    monkeypatch.setattr(writer, "WAIT_SECONDS", 0.3)
    with (
        writer.load_lock(database, owner="loader:1"),
        pytest.raises(ConfigError, match=r"loader:1\).*nothing was erased"),
    ):
        erase(database, target, actor="dpo")
    assert ids(universe)["C01"] == target  # nothing erased
    assert erase(database, target, actor="dpo").customers == (target,)


@given(st.integers(min_value=0, max_value=2**62), st.binary(min_size=32, max_size=100))
@settings(max_examples=40, deadline=None)
def test_the_sql_hmac_is_rfc_2104_hmac_sha256(value: int, key: bytes) -> None:
    expected = hmac.new(key, str(value).encode(), sha256).hexdigest()
    duck = duckdb_connection()
    assert duck.sql(f"SELECT {hmac_sql(str(value), key)}").fetchall()[0][0] == expected


def test_the_pseudonymised_export_has_keyed_hashes_and_no_personal_data(
    universe: str, tmp_path: Path
) -> None:
    result = cycle(universe, tmp_path)
    key = b"k" * 32
    table = pseudonymised_assignments(Database(universe), result.cycle.id, key)
    assert table.num_rows == result.cycle.customers
    assert "customer_id" not in table.column_names
    assert not {"first_name", "last_name", "postal_code", "city"} & set(table.column_names)
    known = ids(universe)
    expected = hmac.new(key, str(known["C01"]).encode(), sha256).hexdigest()
    assert expected in table.column("pseudonym").to_pylist()


def test_privacy_commands(harmonia_cli, tiny, harmonia_database: str, tmp_path: Path) -> None:
    load(harmonia_database, tiny_catalog(), tiny_market.DATA / "h1", country="NL")
    known = ids(harmonia_database)

    def run(*args: str):
        return harmonia_cli("--database", harmonia_database, "privacy", *args)

    assert run("object", str(known["C02"])).exit_code == 0
    listed = run("objections", "--json")
    assert json.loads(listed.output)[0]["customer_id"] == known["C02"]
    unknown = run("object", "9999")
    assert unknown.exit_code == 1 and "no customer with harmonia id 9999" in unknown.output
    key = tmp_path / "key"
    key.write_text("short")
    cycled = harmonia_cli(
        "--database",
        harmonia_database,
        "cycle",
        "run",
        "--country",
        "NL",
        "--therapy-area",
        "cardiology",
        "--period",
        "2027-H1",
        "--out",
        str(tmp_path / "out"),
    )
    assert cycled.exit_code == 0, cycled.output
    weak = run("export", "1", "--key-file", str(key), "-o", str(tmp_path / "x.csv"))
    assert weak.exit_code == 1 and "at least 32" in weak.output
    key.write_text("0123456789abcdef0123456789abcdef")
    out = tmp_path / "x.csv"
    assert run("export", "1", "--key-file", str(key), "-o", str(out)).exit_code == 0
    assert pcsv.read_csv(out).num_rows == 9
    parquet = tmp_path / "x.parquet"
    assert run("export", "1", "--key-file", str(key), "-o", str(parquet)).exit_code == 0
    assert pq.read_table(parquet).column_names == pcsv.read_csv(out).column_names
    odd = run("export", "1", "--key-file", str(key), "-o", str(tmp_path / "x.xlsx"))
    assert odd.exit_code == 1 and "name the output .parquet or .csv" in odd.output
    assert "Traceback" not in odd.output and not (tmp_path / "x.xlsx").exists()
    erased = run("erase", str(known["C01"]), "--yes", "--json")
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.output)["customers"] == [known["C01"]]


def test_the_erasure_report_says_what_its_count_of_versions_is(
    harmonia_cli, tiny, wide_terminal, harmonia_database: str
) -> None:
    """A person whose record never changed has no earlier state (0, labelled so, not a
    bare "customer_version 0" that reads as a history left behind); help says so too."""
    load(harmonia_database, tiny_catalog(), tiny_market.DATA / "h1", country="NL")
    erased = harmonia_cli("--database", harmonia_database, "privacy", "erase",
                          str(ids(harmonia_database)["C03"]), "--yes")  # fmt: skip
    assert erased.exit_code == 0, erased.output
    [row] = [line for line in erased.output.splitlines() if "customer_version" in line]
    assert "earlier states emptied" in row and row.split()[-2] == "0"
    helped = harmonia_cli("privacy", "erase", "--help")
    assert "0 for a person whose record never changed" in " ".join(helped.output.split())


def test_erase_says_which_file_it_could_not_rewrite_and_exits_1(
    harmonia_cli, tiny, harmonia_database: str, tmp_path: Path
) -> None:
    load(harmonia_database, tiny_catalog(), tiny_market.DATA / "h1", country="NL")
    known = ids(harmonia_database)
    ran = harmonia_cli("--database", harmonia_database, "cycle", "run", "--country", "NL",
                       "--therapy-area", "cardiology", "--period", "2027-H1",
                       "--sink", "parquet", "--out", str(tmp_path / "out"))  # fmt: skip
    assert ran.exit_code == 0, ran.output
    published = sorted((tmp_path / "out").glob("*target_list.parquet"))[0]
    published.write_bytes(b"damaged")
    erased = harmonia_cli("--database", harmonia_database, "privacy", "erase",
                          str(known["C01"]), "--yes")  # fmt: skip
    assert erased.exit_code == 1 and "Traceback" not in erased.output
    assert "Could not rewrite" in " ".join(erased.output.split())
    assert published.name in erased.output.replace("\n", "")
    [audit] = query(harmonia_database, "SELECT * FROM audit_event WHERE action = 'privacy.erase'")
    assert json.loads(audit["details"])["failed"]


def test_the_veeva_erasure_takes_only_the_persons_ids_of_its_own_system(
    universe: str, tmp_path: Path
) -> None:
    """The vendor knows C02 as "C03", which is another person's CRM id: the Veeva
    files (accounts are CRM ids here, ``system=csv``) keep that other person."""
    catalog = every_installed_sink()
    write(
        tmp_path / "vendor" / "customers.csv",
        """
        customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory
        C03;NL;HCP;Bram;Janssen;cardiology;1012;Amsterdam;T1
        """,
    )
    load(universe, catalog, tmp_path / "vendor", country="NL", system="vendor")
    crm = {
        r["source_id"]: r["customer_id"]
        for r in query(universe, "SELECT source_id, customer_id FROM crosswalk WHERE system='csv'")
    }
    [vendor] = query(universe, "SELECT customer_id FROM crosswalk WHERE system = 'vendor'")
    merge(Database(universe), crm["C02"], vendor["customer_id"], actor="steward")
    veeva = SinkChoice("veeva", ("target_list",), {"system": "csv"})
    published = cycle(universe, tmp_path / "out", catalog, [veeva])
    files = [Path(w.location) for w in published.written if w.location.endswith(".csv")]
    tsf = next(p for p in files if p.name == "TSF_vod__c.csv")
    assert "C02" in tsf.read_text() and "C03" in tsf.read_text()  # both are targets
    [publish] = query(universe, "SELECT details FROM audit_event WHERE action = 'cycle.publish'")
    assert {e["options"]["system"] for e in json.loads(publish["details"])["written"]} == {"csv"}

    result = erase(Database(universe), crm["C02"], actor="dpo", sinks=catalog.output_sinks)
    assert not result.failed and str(tsf) in result.files_cleaned
    assert "C02" not in tsf.read_text() and "C03" in tsf.read_text()


def test_erasure_removes_unreadable_quarantined_lines_naming_the_person_and_names_the_rest(
    universe: str, tmp_path: Path
) -> None:
    """A line cut short loses its customer_id column: the person's id is only in its
    text. Lines holding it go; the others of the person's systems are named, by file
    and line, as not reachable (``C02-B``, another id, is not ``C02``)."""
    path = write(
        tmp_path / "metrics.csv",
        """
        therapy_area;metric;period;value;customer_id
        cardiology;trx;2027-Q1;1;C01
        cardiology;trx;C02
        cardiology;trx
        cardiology;trx;2027-Q1;C02-B
        """,
    )
    load(universe, tiny_catalog(), path, country="NL")
    before = [r["row_number"] for r in quarantined(universe)]
    assert before == [3, 4, 5]
    result = erase(Database(universe), ids(universe)["C02"], actor="dpo")
    assert [r["row_number"] for r in quarantined(universe)] == [4, 5]
    assert result.removed["quarantine"] == 1
    [named] = [u for u in result.unreachable if u.startswith(str(path))]
    assert "2 unreadable lines" in named and "line 4, 5;" in named
    [audit] = query(universe, "SELECT details FROM audit_event WHERE action = 'privacy.erase'")
    assert named in json.loads(audit["details"])["unreachable"]


def test_erasure_reaches_unreadable_lines_kept_under_their_older_key(
    universe: str, tmp_path: Path
) -> None:
    """Stores written before the text was called ``original_line`` keep it as
    ``line``: such a line holding the person's id goes, the others are named."""
    path = write(
        tmp_path / "metrics.csv",
        """
        therapy_area;metric;period;value;customer_id
        cardiology;trx;C02
        cardiology;trx
        """,
    )
    load(universe, tiny_catalog(), path, country="NL")
    with Database(universe).session() as session:
        session.connection().execute(
            text("UPDATE quarantine SET record = replace(record, '\"original_line\"', '\"line\"')")
        )
        session.commit()
    assert all("line" in r["record"] for r in quarantined(universe))
    result = erase(Database(universe), ids(universe)["C02"], actor="dpo")
    assert [r["row_number"] for r in quarantined(universe)] == [3]
    assert result.removed["quarantine"] == 1
    [named] = [u for u in result.unreachable if u.startswith(str(path))]
    assert "1 unreadable line" in named and "line 3" in named


def test_the_files_of_a_sink_that_failed_midway_are_erased_or_named(
    universe: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Veeva sink writes several files per call: the disk fills up at the second.
    The first one is recorded as it is written (the erasure cleans it), and the
    folder the sink was writing into is named as one to check by hand."""
    import harmonia_veeva.sink

    catalog = every_installed_sink()
    write_csv = harmonia_veeva.sink.write_table_csv
    calls = []

    def full_disk_at_the_second(*args: Any, **kwargs: Any) -> Path:
        calls.append(args)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return write_csv(*args, **kwargs)

    monkeypatch.setattr(harmonia_veeva.sink, "write_table_csv", full_disk_at_the_second)
    veeva = SinkChoice("veeva", ("target_list",), {"system": "csv"})  # accounts: CRM ids
    with pytest.raises(OSError, match="No space left"):
        cycle(universe, tmp_path / "out", catalog, [veeva])
    [first] = [p for p in (tmp_path / "out").rglob("*.csv")]
    assert first.name == "Account_Territory_Loader_vod__c.csv" and "C02" in first.read_text()
    [publish] = query(universe, "SELECT details FROM audit_event WHERE action = 'cycle.publish'")
    assert str(first) in {e["location"] for e in json.loads(publish["details"])["written"]}

    target = ids(universe)["C02"]
    result = erase(Database(universe), target, actor="dpo", sinks=catalog.output_sinks)
    assert not result.failed
    assert str(first) in result.files_cleaned and "C02" not in first.read_text()
    [named] = [u for u in result.unreachable if u.startswith(str(tmp_path / "out") + " ")]
    assert "veeva sink, failed while writing target_list" in named


def test_the_engines_own_files_of_a_run_that_failed_later_are_erased(
    universe: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spark writes the cycle's results into the lake, then the outputs fail (the
    disk fills up): the run's audit entry names those folders all the same."""
    import attrs

    import harmonia.engine.cycle as running
    from harmonia.engine import backends

    target = ids(universe)["C02"]
    folder = tmp_path / "results" / "cycle=1"
    part = folder / "target_list" / "part-00000-x.snappy.parquet"
    part.parent.mkdir(parents=True)

    def spark_run(database: Database, query: Any, stage: Any, settings: Any, check: Any) -> Any:
        outputs = backends.run("duckdb", database, query, stage, None, check)
        pq.write_table(pa.table({"customer_id": [target, target + 1000]}), part)
        return attrs.evolve(outputs, written=(str(folder),))

    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(running.in_spark, "check", lambda settings: None)
    monkeypatch.setattr(running.in_spark, "run", spark_run)
    monkeypatch.setattr(running, "_write_outputs", full_disk)
    with pytest.raises(OSError, match="No space left"):
        run_cycle(
            Database(universe), tiny_catalog(), country="NL", therapy_area="cardiology",
            period="2027-H1", directory=tmp_path / "out", engine="spark",
        )  # fmt: skip
    [run] = query(universe, "SELECT details FROM audit_event WHERE action = 'cycle.run'")
    assert "No space left" in json.loads(run["details"])["failed"]

    result = erase(Database(universe), target, actor="dpo")
    assert str(folder) in result.files_cleaned
    assert pq.read_table(part).column("customer_id").to_pylist() == [target + 1000]


def test_a_sinks_secret_options_stay_out_of_the_audit_trail(universe: str, tmp_path: Path) -> None:
    """Options are recorded for the sink's erasure, but not a password or a token:
    declared secret, or named like one; what the erasure needs (``system``) stays."""
    from harmonia import Option, OutputSink
    from harmonia.plugin.manager import module_pack

    crm = OutputSink(
        name="crm",
        description="a CRM behind a login",
        accepts={"target_list"},
        write=lambda request: [f"crm://{request.options['system']}/targets"],
        options=(
            Option("system", "whose ids are its accounts", default="crm"),
            Option("login", "the account harmonia signs in with", secret=True),
            Option("api_token", "the CRM's token"),
        ),
    )
    manager = PluginManager.discover(strict=False)
    manager.register(tiny_market, name="tiny", distribution="test-tiny", version="1.0")
    manager.register(module_pack("crm-pack", harmonia_output_sinks=lambda: [crm]), name="crm")
    options = {"system": "csv", "login": "ana:hunter2", "api_token": "tok-7f3a"}
    cycle(
        universe,
        tmp_path / "out",
        manager.catalog(),
        [SinkChoice("crm", ("target_list",), options)],
    )
    [publish] = query(universe, "SELECT details FROM audit_event WHERE action = 'cycle.publish'")
    assert "hunter2" not in publish["details"] and "tok-7f3a" not in publish["details"]
    [entry] = json.loads(publish["details"])["written"]
    assert entry["options"] == {"system": "csv"}
