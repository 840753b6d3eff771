"""The slices of the store a cycle reads (``read_inputs``), on a store of one market or several."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import tiny_market
from helpers import load, tiny_catalog, write

from harmonia import Harmonia
from harmonia.engine import backends
from harmonia.engine.backends import compute_in_parts, read_inputs
from harmonia.engine.cycle import run_cycle
from harmonia.engine.query import CycleQuery
from harmonia.engine.spec import resolve
from harmonia.plugin.manager import PluginManager
from harmonia.store import assignments as stored
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database

HEADER = "customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;id_scheme;id_value"


def _read(url: str) -> tuple[bool, dict[str, list[int]]]:
    """Whether the store holds another market than NL, and the customers of the
    identifiers and source ids the NL cycle reads."""
    query = CycleQuery(resolve(tiny_catalog(), "NL", "cardiology", "2027-H1"), cycle_id=1)
    database = Database(url)
    with BulkConnection(database, write=False) as bulk:
        others = bulk.exists(query.other_markets())
    connection = duckdb.connect()
    try:
        read_inputs(database, query, connection)
        read = {
            table: sorted(
                row[0]
                for row in connection.sql(f"SELECT DISTINCT customer_id FROM {table}").fetchall()
            )
            for table in ("identifier", "crosswalk")
        }
        customers = sorted(row[0] for row in connection.sql("SELECT id FROM customer").fetchall())
    finally:
        connection.close()
    # Every customer has a source id; not every one a national identifier.
    assert read["crosswalk"] == customers and set(read["identifier"]) <= set(customers)
    return others, read


def test_a_cycle_reads_the_identifiers_of_its_market_only(h1: str, tmp_path: Path) -> None:
    alone, read_alone = _read(h1)
    assert not alone and read_alone["identifier"]
    # Another country's customer (the tiny scheme is NL's: it has a source id only)
    # stays out of NL's cycle.
    row = "B01;BE;HCP;Lien;Peeters;cardiology;1000;Brussel;T9;;"
    (result,) = load(h1, tiny_catalog(), write(tmp_path / "customers.csv", f"{HEADER}\n{row}\n"))
    assert result.rows_new == 1
    others, read = _read(h1)
    assert others and read == read_alone


def _second_period(h1: str, tmp_path: Path) -> CycleQuery:
    """The tiny market's 2027-H2 cycle query, after a 2027-H1 cycle and the H2 load:
    a cycle with a previous one to pull through."""
    catalog = tiny_catalog()
    run_cycle(
        Database(h1),
        catalog,
        country="NL",
        therapy_area="cardiology",
        period="2027-H1",
        directory=tmp_path / "out",
    )
    load(h1, catalog, tiny_market.DATA / "h2", country="NL")
    return CycleQuery(resolve(catalog, "NL", "cardiology", "2027-H2"), 2, previous_cycle_id=1)


def test_inputs_kept_as_columns_are_stored_as_the_same_json(h1: str, tmp_path: Path) -> None:
    """The embedded engine keeps each input in a column and builds the JSON only to
    store it: the same rows as the query that builds it, pull-through's raw inputs too."""
    query = _second_period(h1, tmp_path)
    connection = duckdb.connect()
    try:
        read_inputs(Database(h1), query, connection)
        connection.execute(f"CREATE TABLE whole AS {query.assignments()}")
        connection.execute(f"CREATE TABLE apart AS {query.assignments(inputs_as_columns=True)}")
        assert "inputs" not in connection.sql("SELECT * FROM apart").columns
        whole = connection.sql("SELECT * FROM whole ORDER BY customer_id")
        stored = connection.sql(f"{query.with_inputs_json('apart')} ORDER BY customer_id")
        assert stored.columns == whole.columns
        assert stored.fetchall() == whole.fetchall()
        origins = connection.sql("SELECT DISTINCT origin FROM whole").fetchall()
    finally:
        connection.close()
    assert ("pulled-through",) in origins


class _PreviousIdsAsDouble:
    """A cycle's query whose pull-through step keeps its customer ids as DOUBLE (a step
    whose ids are not BIGINT): DuckDB's hash(5::DOUBLE) is not hash(5::BIGINT)."""

    def __init__(self, query: CycleQuery) -> None:
        self.query = query

    def assignment_steps(self, *, inputs_as_columns: bool = False) -> tuple[dict[str, str], str]:
        steps, body = self.query.assignment_steps(inputs_as_columns=inputs_as_columns)
        steps["previous"] = (
            "SELECT * REPLACE (CAST(customer_id AS DOUBLE) AS customer_id) "
            f"FROM ({steps['previous']})"
        )
        return steps, body


@pytest.mark.parametrize("ids", ["bigint", "double"])
def test_assignments_computed_in_parts_are_those_of_one_statement(
    h1: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ids: str
) -> None:
    """The embedded engine computes the per-customer part of a cycle for a part of the
    customers at a time when the universe is large for its memory limit (one statement
    ran out of DuckDB's 4 GB at 10M): the same rows as one statement, pull-through too,
    and when a step keeps its customer ids in another type than BIGINT."""
    query = _second_period(h1, tmp_path)
    connection = duckdb.connect(config={"memory_limit": "64MB"})
    try:
        query = read_inputs(Database(h1), query, connection)
        whole = query.assignments(inputs_as_columns=True)
        connection.execute(f"CREATE TABLE whole AS {whole}")
        computed = _PreviousIdsAsDouble(query) if ids == "double" else query
        assert compute_in_parts(connection, computed, "one") == 1
        monkeypatch.setattr(backends, "CUSTOMERS_PER_MIB", 0.05)  # 3 customers a part
        assert compute_in_parts(connection, computed, "parts") > 2
        rows = {
            name: connection.sql(f"SELECT * FROM {name} ORDER BY customer_id").fetchall()
            for name in ("whole", "one", "parts")
        }
        ((pulled,),) = connection.sql(
            "SELECT COUNT(*) FROM parts WHERE origin = 'pulled-through'"
        ).fetchall()
    finally:
        connection.close()
    assert rows["whole"] and rows["one"] == rows["whole"] and rows["parts"] == rows["whole"]
    assert pulled  # the previous cycle's step is read in parts too


def test_a_pack_with_peer_group_quantiles_is_computed_the_same_in_parts(
    register_pack: Callable[..., Any],
    harmonia_plugins: PluginManager,
    harmonia_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The demo's FR oncology universe (1,500 customers, quantiles over peer groups, the
    second half-year pulling the first through): the same assignment rows in one part
    as in tens of parts (CUSTOMERS_PER_MIB made small, the real compute_in_parts)."""
    import harmonia_fr
    import harmonia_oncology
    import harmonia_synthetic

    for pack in (harmonia_synthetic, harmonia_fr, harmonia_oncology):
        register_pack(pack)
    catalog = harmonia_plugins.catalog()
    result = Harmonia(harmonia_database, catalog).demo(
        tmp_path, customers=1_500, countries=["FR"], therapy_areas=["oncology"]
    )
    first, last = (run.cycle.id for run in result.runs[0].cycles)
    spec = resolve(catalog, "FR", "oncology", "2027-H1")
    query = CycleQuery(spec, last, previous_cycle_id=first)
    connection = duckdb.connect(config={"memory_limit": "256MB"})
    digests: dict[float | None, str] = {}
    counts: dict[float | None, int] = {}
    try:
        query = read_inputs(Database(harmonia_database), query, connection)
        for per_mib in (None, 0.5, 0.1):  # None: as set, one part
            if per_mib:
                monkeypatch.setattr(backends, "CUSTOMERS_PER_MIB", per_mib)
            counts[per_mib] = compute_in_parts(connection, query, "computed")
            rows = connection.sql("SELECT * FROM computed ORDER BY customer_id").fetchall()
            digests[per_mib] = hashlib.sha256(repr(rows).encode()).hexdigest()
            if per_mib == 0.1:
                ((pulled,),) = connection.sql(
                    "SELECT COUNT(*) FROM computed WHERE origin = 'pulled-through'"
                ).fetchall()
            connection.execute("DROP TABLE computed")
    finally:
        connection.close()
    assert counts[None] == 1 and counts[0.5] > 8 and counts[0.1] > 40, counts
    assert len(rows) > 1_000 and pulled
    assert len(set(digests.values())) == 1, digests


def test_the_previous_cycle_is_read_in_bounded_batches(
    h1: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every slice of the store a cycle reads comes in batches of STREAM_ROWS rows at
    most, the previous cycle's assignments too (they came in one batch of the whole
    cycle, held outside DuckDB's memory limit: 10M rows at 10M)."""
    query = _second_period(h1, tmp_path)
    database = Database(h1)
    assert stored.inputs_apart(database)  # the rows from SQLite, the inputs from their file
    monkeypatch.setattr(backends, "STREAM_ROWS", 2)
    largest: dict[str, int] = {}
    copy_in = backends.copy_in

    def counted(connection: Any, name: str, reader: pa.RecordBatchReader, *args: Any, **kw: Any):
        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                largest[name] = max(largest.get(name, 0), batch.num_rows)
                yield batch

        counting = pa.RecordBatchReader.from_batches(reader.schema, batches())
        copy_in(connection, name, counting, *args, **kw)

    monkeypatch.setattr(backends, "copy_in", counted)
    connection = duckdb.connect()
    try:
        read_inputs(database, query, connection)
        ((rows,),) = connection.sql("SELECT COUNT(*) FROM assignment").fetchall()
    finally:
        connection.close()
    assert rows > 2 and largest["assignment"] == 2
