"""Pull-through that says what it tests: a customer's own inputs, not its rank among others.

The scenario of issue 16: a rule set on potential quartiles, where half the
customers' potential triples between two cycles and the other half's moves
by less than the country's 10%. Comparing deciles (or every feature) would
re-segment the second half, whose ranks fell because of the others; the
rule set's test compares each customer's own potential, answers and
specialty, so they keep last cycle's segment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import duckdb
import pytest
import tiny_market
from helpers import load, query
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harmonia.definitions.ruleset import PullThroughTest
from harmonia.engine.cycle import run_cycle
from harmonia.engine.explain import explain_assignment
from harmonia.engine.pullthrough import (
    _number_unchanged,
    _previous_text,
    explain_pull_through,
    number_unchanged,
)
from harmonia.plugin.catalog import Catalog
from harmonia.plugin.manager import PluginManager
from harmonia.store import Database
from harmonia.testing import module_pack

#: Customers whose potential moves less than 10% (S...) and triples (B...).
SMALL, BIG = 60, 60


def potentials() -> dict[str, tuple[float, float]]:
    """Per customer: potential in 2027-H1 and in 2027-H2 (deterministic)."""
    values = {}
    for index in range(SMALL):
        before = 10.0 + 7 * ((index * 37) % SMALL)
        change = ((index * 13) % 19 - 9) / 100  # -9% .. +9%
        values[f"S{index:03}"] = (before, round(before * (1 + change), 4))
    for index in range(BIG):
        before = 12.0 + 7 * ((index * 23) % BIG)
        values[f"B{index:03}"] = (before, before * 3)
    values["EDGE10"] = (100.0, 110.0)  # exactly the threshold: changed (<, not <=)
    values["EDGE9"] = (100.0, 109.99)  # just under: unchanged
    return values


def write_market(folder: Path) -> tuple[Path, Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    customers = folder / "customers.csv"
    customers.write_text(
        "customer_id;country;type;last_name;specialty\n"
        + "".join(f"{c};NL;HCP;{c};cardiology\n" for c in potentials()),
        encoding="utf-8",
    )
    metrics = []
    for period, position in (("2027-H1", 0), ("2027-H2", 1)):
        path = folder / f"metrics-{period}.csv"
        path.write_text(
            "customer_id;therapy_area;metric;period;value\n"
            + "".join(
                f"{c};cardiology;potential;{period};{str(v[position]).replace('.', ',')}\n"
                for c, v in potentials().items()
            ),
            encoding="utf-8",
        )
        metrics.append(path)
    return customers, metrics[0], metrics[1]


def catalog_with(test: PullThroughTest | None) -> Catalog:
    """The tiny market, its rule set declaring ``test``."""
    rule_set = attrs.evolve(tiny_market.harmonia_segmentation_rules()[0], pull_through=test)
    hooks = {
        name: getattr(tiny_market, name)
        for name in dir(tiny_market)
        if name.startswith("harmonia_") and name != "harmonia_segmentation_rules"
    }
    manager = PluginManager(strict=True)
    manager.load_builtins()
    manager.register(
        module_pack("tiny", **hooks, harmonia_segmentation_rules=lambda: [rule_set]),
        distribution="test-tiny",
    )
    return manager.catalog()


OWN_INPUTS = PullThroughTest(metrics=("potential",), profile=True, attributes=("specialty",))


def two_cycles(url: str, catalog: Catalog, tmp_path: Path, engine: str) -> tuple[Any, Any]:
    customers, first_metrics, second_metrics = write_market(tmp_path / "data")
    load(url, catalog, customers, first_metrics, country="NL")
    options = {"country": "NL", "therapy_area": "cardiology", "directory": tmp_path / "out"}
    first = run_cycle(Database(url), catalog, period="2027-H1", engine=engine, **options)
    load(url, catalog, second_metrics, country="NL")
    second = run_cycle(Database(url), catalog, period="2027-H2", engine=engine, **options)
    return first, second


def assignments(url: str, cycle_id: int) -> dict[str, dict[str, Any]]:
    rows = query(
        url,
        "SELECT x.source_id, a.* FROM assignment a JOIN crosswalk x "
        f"ON x.customer_id = a.customer_id WHERE a.cycle_id = {cycle_id}",
    )
    return {row.pop("source_id"): row for row in rows}


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_own_potential_decides_not_the_shifted_quartile(
    database_url: str, tmp_path: Path, engine: str
) -> None:
    catalog = catalog_with(OWN_INPUTS)
    first, second = two_cycles(database_url, catalog, tmp_path, engine)
    before = assignments(database_url, first.cycle.id)
    after = assignments(database_url, second.cycle.id)
    small = [c for c in after if c.startswith("S")] + ["EDGE9"]
    moved = [c for c in after if c.startswith("B")] + ["EDGE10"]
    for customer in small:
        row = after[customer]
        assert row["origin"] == "pulled-through", (customer, row)
        assert row["final_segment"] == before[customer]["final_segment"]
    for customer in moved:
        row = after[customer]
        assert (row["origin"], row["final_segment"]) == ("rules", row["segment"]), customer
    # The test matters: the rules alone move many of the small movers (their
    # quartile fell because the others' potential tripled).
    re_ruled = [c for c in small if after[c]["segment"] != before[c]["final_segment"]]
    assert len(re_ruled) >= 10

    # Python's reading of the test agrees with the engine, customer by customer.
    rule_set = catalog.rule_sets["tiny-core"]
    for customer, row in after.items():
        check = explain_pull_through(
            rule_set,
            0.1,
            enabled=True,
            inputs=json.loads(row["inputs"]),
            previous_cycle=first.cycle.id,
            previous=json.loads(before[customer]["inputs"]),
            previous_segment=before[customer]["final_segment"],
        )
        assert check.carried == (row["origin"] == "pulled-through"), (customer, check)


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_the_previous_cycle_is_read_in_the_engine_never_copied_whole_into_python(
    database_url: str, tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 10M a whole copy of the previous cycle is ~5 GB of JSON: every engine reads it
    where the store keeps it (the rows in the database, the inputs in their file)."""
    from harmonia.store import assignments as stored

    def whole_copy(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the previous cycle was copied whole into Python")

    monkeypatch.setattr(stored, "read", whole_copy)
    monkeypatch.setattr(stored, "with_inputs", whole_copy)
    first, second = two_cycles(database_url, catalog_with(OWN_INPUTS), tmp_path, engine)
    monkeypatch.undo()
    before = assignments(database_url, first.cycle.id)
    after = assignments(database_url, second.cycle.id)
    kept = sorted(c for c, row in after.items() if row["origin"] == "pulled-through")
    assert kept == sorted([c for c in after if c.startswith("S")] + ["EDGE9"])
    assert all(after[c]["final_segment"] == before[c]["final_segment"] for c in kept)


@pytest.mark.parametrize("first_engine", ["duckdb", "database"])
def test_the_embedded_engine_compares_a_struct_file_field_by_field_and_a_text_file_as_json(
    harmonia_database: str, tmp_path: Path, first_engine: str
) -> None:
    """The embedded engine writes a cycle's inputs as a struct, the in-database one as
    JSON text: the next cycle reads a struct's fields as they are (no JSON text built
    and parsed back: 1M customers, ~3 s of CPU) and the text as JSON, to the same
    decisions whichever engine wrote or reads the file."""
    from harmonia.compute import duckdb_connection
    from harmonia.engine.backends import read_inputs
    from harmonia.engine.query import CycleQuery
    from harmonia.engine.spec import resolve

    url = harmonia_database
    catalog = catalog_with(OWN_INPUTS)
    customers, first_metrics, second_metrics = write_market(tmp_path / "data")
    load(url, catalog, customers, first_metrics, country="NL")
    options = {"country": "NL", "therapy_area": "cardiology", "directory": tmp_path / "out"}
    first = run_cycle(Database(url), catalog, period="2027-H1", engine=first_engine, **options)
    load(url, catalog, second_metrics, country="NL")
    spec = resolve(catalog, "NL", "cardiology", "2027-H2")
    connection = duckdb_connection()
    try:
        read = read_inputs(Database(url), CycleQuery(spec, 0, first.cycle.id), connection)
    finally:
        connection.close()
    if first_engine == "duckdb":
        fields = dict(read.previous_inputs or ())
        assert fields["metric__potential"] == "DOUBLE" and fields["specialty"] == "VARCHAR"
        assert "AS JSON" not in read.assignments()
    else:
        assert read.previous_inputs is None
    decided = {}
    for engine in ("duckdb", "database"):
        second = run_cycle(Database(url), catalog, period="2027-H2", engine=engine, **options)
        decided[engine] = {
            customer: (row["origin"], row["final_segment"])
            for customer, row in assignments(url, second.cycle.id).items()
        }
    assert decided["duckdb"] == decided["database"]
    kept = sorted(c for c, (origin, _) in decided["duckdb"].items() if origin == "pulled-through")
    assert kept == sorted([c for c in decided["duckdb"] if c.startswith("S")] + ["EDGE9"])


def test_a_scenario_segments_again_over_the_previous_struct_field_by_field(
    harmonia_database: str, tmp_path: Path
) -> None:
    """A scenario's re-segmentation of a cycle reads its previous cycle's inputs struct as
    the cycle did (field by field, no JSON built) and decides as the cycle did (revb
    SHOULD-2: it used to drop read_inputs' query and parse CAST(struct AS JSON))."""
    from harmonia.engine.query import CycleQuery
    from harmonia.strategy.scenario import _Inputs
    from harmonia.strategy.universe import planned_cycles

    url = harmonia_database
    catalog = catalog_with(OWN_INPUTS)
    customers, first_metrics, second_metrics = write_market(tmp_path / "data")
    load(url, catalog, customers, first_metrics, country="NL")
    options = {"country": "NL", "therapy_area": "cardiology", "directory": tmp_path / "out"}
    run_cycle(Database(url), catalog, period="2027-H1", engine="duckdb", **options)
    load(url, catalog, second_metrics, country="NL")
    second = run_cycle(Database(url), catalog, period="2027-H2", engine="duckdb", **options)
    (planned,) = planned_cycles(Database(url), catalog, [second.cycle.id])
    inputs = _Inputs(Database(url))
    try:
        query = CycleQuery(planned.spec, planned.id, planned.cycle.previous_cycle_id)
        connection, as_read = inputs.of(planned, query)
        assert dict(as_read.previous_inputs or ())["metric__potential"] == "DOUBLE"
        assert "AS JSON" not in as_read.assignments()
        sql = "SELECT customer_id, final_segment, origin FROM ({}) ORDER BY customer_id"
        decided = connection.sql(sql.format(as_read.assignments())).fetchall()
        as_json = connection.sql(sql.format(query.assignments())).fetchall()
    finally:
        inputs.close()
    assert decided == as_json
    stored = assignments(url, second.cycle.id)
    assert sorted(segment for _, segment, _ in decided) == sorted(
        row["final_segment"] for row in stored.values()
    )


def test_comparing_every_feature_re_segments_those_whose_rank_fell(
    harmonia_database: str, tmp_path: Path
) -> None:
    """Without a declared test (the old behaviour) quartiles are compared too."""
    first, second = two_cycles(harmonia_database, catalog_with(None), tmp_path, "duckdb")
    after = assignments(harmonia_database, second.cycle.id)
    before = assignments(harmonia_database, first.cycle.id)
    small = [c for c in after if c.startswith("S")]
    re_ruled = [c for c in small if after[c]["origin"] == "rules"]
    assert len(re_ruled) >= 10
    assert all(after[c]["final_segment"] == after[c]["segment"] for c in re_ruled)
    assert any(after[c]["segment"] != before[c]["final_segment"] for c in re_ruled)


def test_explain_shows_each_comparison_and_the_outcome(
    harmonia_database: str, tmp_path: Path
) -> None:
    first, second = two_cycles(harmonia_database, catalog_with(OWN_INPUTS), tmp_path, "duckdb")
    database = Database(harmonia_database)
    kept = explain_assignment(database, second.cycle.id, "EDGE9").to_json()
    check = kept["pull_through"]
    assert check["carried"] and kept["origin"] == "pulled-through"
    assert kept["engine_and_python_agree"]
    assert [c["input"] for c in check["comparisons"]] == ["potential", "adoption", "specialty"]
    potential = check["comparisons"][0]
    assert (potential["before"], potential["now"], potential["unchanged"]) == (100.0, 109.99, True)
    assert potential["test"] == "change +10.0%, unchanged when |change| < 10%"
    assert check["outcome"] == (
        f"pulled through: kept {kept['final_segment']} from cycle {first.cycle.id}"
    )
    assert "metric__potential" not in kept["inputs"]  # raw inputs are not features

    moved = explain_assignment(database, second.cycle.id, "EDGE10").to_json()
    assert not moved["pull_through"]["carried"]
    assert moved["pull_through"]["outcome"] == "segmented again: changed potential"

    first_check = explain_assignment(database, first.cycle.id, "EDGE9").to_json()["pull_through"]
    assert first_check["outcome"] == "not pulled through: there is no previous cycle"


def test_explain_in_the_terminal_shows_the_pull_through_table(
    harmonia_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from harmonia import cli

    catalog = catalog_with(OWN_INPUTS)
    _, second = two_cycles(harmonia_database, catalog, tmp_path, "duckdb")
    manager = PluginManager(strict=True)
    manager.load_builtins()
    monkeypatch.setenv("HARMONIA_DATABASE_URL", harmonia_database)
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(
        cli.main, ["explain", "--cycle", str(second.cycle.id), "--customer", "EDGE10"]
    )
    assert result.exit_code == 0, result.output
    assert f"pull-through: compared with cycle {second.cycle.previous_cycle_id}" in result.output
    assert "segmented again: changed potential" in result.output


# --- the SQL and Python readings of one number's test agree ----------------------------


@pytest.fixture(scope="module")
def sql() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


numbers = st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(numbers, numbers), min_size=1, max_size=10),
    st.sampled_from([0.0, 0.05, 0.1, 0.15, 0.5]),
    st.booleans(),
)
@example([(100.0, 110.0)], 0.1, True)
@example([(100.0, 110.0)], 0.1, False)
@example([(0.0, 0.0), (None, 1.0)], 0.1, True)
@example([(0.0, 1.0)], 0.5, True)
def test_sql_and_python_agree_on_a_number(
    sql: duckdb.DuckDBPyConnection,
    pairs: list[tuple[float | None, float | None]],
    threshold: float,
    strict: bool,
) -> None:
    # A batch of (before, now) per example, in one query: a query per pair was
    # most of the time this test took.
    condition = _number_unchanged("now", "before", threshold, strict)
    answers = sql.execute(
        f"SELECT {condition}, i FROM (SELECT unnest(?::DOUBLE[]) AS before, "
        "unnest(?::DOUBLE[]) AS now, unnest(range(?)) AS i) ORDER BY i",
        [[before for before, _ in pairs], [now for _, now in pairs], len(pairs)],
    ).fetchall()
    assert [bool(answer) for answer, _ in answers] == [
        number_unchanged(before, now, threshold, strict) for before, now in pairs
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)


#: Each field of the struct: its DuckDB type and values as the text DuckDB casts to it.
#: An input is VARCHAR, DOUBLE or BIGINT today; the others are what a feature kind or an
#: attribute could be, where a JSON text keeps quotes or zeros ``->>`` drops.
field_values = {
    "text": ("VARCHAR", st.text(max_size=12)),
    "number": ("DOUBLE", st.floats().map(repr)),
    "count": ("BIGINT", st.integers(-(2**63), 2**63 - 1).map(str)),
    "flag": ("BOOLEAN", st.booleans().map(str)),
    "doc": ("JSON", json_values.map(json.dumps)),
    "day": ("DATE", st.dates().map(str)),
    "moment": ("TIMESTAMP", st.datetimes().map(str)),
    "time": ("TIME", st.times().map(str)),
    "amount": ("DECIMAL(18,3)", st.decimals(-(10**14), 10**14, places=3).map(str)),
    "id": ("UUID", st.uuids().map(str)),
    "bytes": ("BLOB", st.binary(max_size=4).map(lambda b: "".join(f"\\x{c:02X}" for c in b))),
    "span": (
        "INTERVAL",
        st.tuples(*[st.integers(-1000, 1000)] * 3).map(
            lambda t: f"{t[0]} months {t[1]} days {t[2]} seconds"
        ),
    ),
}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(*[st.none() | values for _, values in field_values.values()]),
        min_size=1,
        max_size=8,
    )
)
@example([('a "quoted" é\n', "0.30000000000000004", "-3", "True", '{"q": [1, "x"]}', *[None] * 7)])
@example(
    [(None, "1e+300", "0", "False", '"text"', "2027-01-01", *[None] * 2, "1.500", *[None] * 3)]
)
@example([(None, "nan", *[None] * 10), (None, "inf", *[None] * 10), (None, "-inf", *[None] * 10)])
def test_a_struct_field_reads_as_the_text_its_json_gives(
    sql: duckdb.DuckDBPyConnection, rows: list[tuple[str | None, ...]]
) -> None:
    """A previous cycle's inputs as a struct are compared by their fields, each read as
    ``->> '$.<key>'`` reads the JSON text older files keep: the same text, NULL for a
    missing key or a null (a date unquoted, a decimal without trailing zeros, NaN)."""
    fields = tuple((name, kind) for name, (kind, _) in field_values.items())
    sql.execute(
        "CREATE OR REPLACE TEMPORARY TABLE previous AS SELECT struct_pack("
        + ", ".join(f"{name} := CAST(unnest(?::VARCHAR[]) AS {kind})" for name, kind in fields)
        + ") AS inputs",
        [[row[i] for row in rows] for i in range(len(fields))],
    )
    keys = [*field_values, "absent"]

    def read(forms: str, inputs: str) -> list[tuple[Any, ...]]:
        return sql.execute(
            f"SELECT {forms} FROM (SELECT {inputs} AS inputs FROM previous) previous_assignment"
        ).fetchall()

    as_struct = read(", ".join(_previous_text(key, fields) for key in keys), "inputs")
    as_json = ", ".join(_previous_text(key, None) for key in keys)
    assert as_struct == read(as_json, "CAST(to_json(inputs) AS VARCHAR)")
    assert as_struct == read(as_json, "inputs")
    assert all(row[-1] is None for row in as_struct)


def test_the_assignments_output_names_customers_by_their_source_ids(
    harmonia_database: str, tmp_path: Path
) -> None:
    from harmonia.engine.cycle import read_assignments

    _, second = two_cycles(harmonia_database, catalog_with(OWN_INPUTS), tmp_path, "duckdb")
    rows = read_assignments(Database(harmonia_database), second.cycle.id).to_pylist()
    assert len(rows) == len(potentials())
    assert {row["source_system"] for row in rows} == {"csv"}
    assert {row["source_id"] for row in rows} == set(potentials())
    assert rows[0]["customer_id"] < rows[-1]["customer_id"]
