"""The cycle engine on a universe small enough to work out by hand.

The universe is ``tests/fixtures/tiny_market/data``: ten Dutch customers,
their potential, prescriptions (trx) and calls, and answers to a one-item
questionnaire. The rule set ``tiny-core`` (tiny_market/rules/tiny-core.toml) gives,
for the cycle 2027-H1:

potential_q: quartiles of potential among cardiologists (C01-C09; C09 has no
potential and takes the default 1). Sorted: C08 10, C07 20, C06 30, C03 =
C04 = C05 40, C02 70, C01 80, so RANK is 1, 2, 3, 4, 4, 4, 7, 8 and the bin is
1 + [(rank-1)*100 >= 25*8] + [.. >= 50*8] + [.. >= 75*8]: 1, 1, 2, 2, 2, 2, 4, 4.
The tied 40s all share rank 4, so bin 2 (numbered one by one they would
split into bins 2, 3, 3). C10 is alone among GPs: bin 1.

trx_q: halves of trx summed over 2027-Q1..Q2 among cardiologists with trx
(C08 1, C02 3, C04 4, C06 8, C01 10, C09 12: bins 1, 1, 1, 2, 2, 2); C03 (trx
only in 2026-Q4), C05 and C07 have none in the cycle and stay NULL.

consistency: quarters with calls > 0 among 2026-Q3..2027-Q2. C06's only call
value is 0; C07's calls are before the window or a half-year (no quarter
holds it); C08's is a month inside 2027-Q2.

adoption: the latest response within 24 months before the cycle; C08's is
from 2024 (too old): unknown.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import duckdb
import pytest
import sqlglot
import tiny_market
from helpers import load, query, run_tiny_cycle, tiny_catalog, tiny_catalog_with
from hypothesis import given
from hypothesis import strategies as st

from harmonia import RuleSet
from harmonia.engine.backends import input_schema
from harmonia.engine.cycle import run_cycle
from harmonia.engine.explain import explain_assignment
from harmonia.engine.query import filled_inputs, half_up, in_period
from harmonia.errors import ConfigError, NotFoundError
from harmonia.plugin.catalog import Catalog
from harmonia.plugin.manager import PluginManager
from harmonia.store import Database
from harmonia.store.bulk import BulkConnection
from harmonia.store.facts import copy_store, facts_of
from harmonia.testing import module_pack

FEATURES = ("specialty", "potential", "potential_q", "trx_q", "consistency", "adoption")
C, G = "cardiology", "general_practice"

#: customer: (segment, rule, tier, tier rule, inputs in FEATURES order), cycle 2027-H1.
EXPECTED_H1: dict[str, tuple[str, str, str, str, tuple]] = {
    "C01": ("champion", "champion", "A", "top_half", (C, 80.0, 4, 2, 0.75, "high")),
    "C02": ("grow", "grow", "B", "fallback", (C, 70.0, 4, 1, 0.25, "mid")),
    "C03": ("develop", "develop", "C", "no_trx", (C, 40.0, 2, None, 0.5, "unknown")),
    "C04": ("develop", "develop", "B", "fallback", (C, 40.0, 2, 1, 0.5, "low")),
    "C05": ("maintain", "fallback", "C", "no_trx", (C, 40.0, 2, None, 0.25, "unknown")),
    "C06": ("maintain", "fallback", "A", "top_half", (C, 30.0, 2, 2, 0.0, "mid")),
    "C07": ("maintain", "fallback", "C", "no_trx", (C, 20.0, 1, None, 0.0, "unknown")),
    "C08": ("maintain", "fallback", "B", "fallback", (C, 10.0, 1, 1, 0.25, "unknown")),
    "C09": ("maintain", "fallback", "A", "top_half", (C, None, 1, 2, 0.75, "high")),
    "C10": ("monitor", "gp", "B", "fallback", (G, 100.0, 1, 1, 0.25, "unknown")),
}

#: Per segment for 2027-H1 (half a year, frequency_scale 1, min_calls 1):
#: customers, contacts (per customer x customers), cost, targeted.
#: champion: 6 calls + 12 e-mails = 18 contacts, 6 x 100 + 12 x 1 = 612;
#: develop: one call a year rounds to 0 in a half-year and min_calls makes it 1.
EXPECTED_SUMMARY_H1 = [
    ("champion", 1, 18, 612.0, True),
    ("grow", 1, 3, 300.0, True),
    ("develop", 2, 2, 200.0, True),
    ("maintain", 5, 10, 10.0, True),
    ("monitor", 1, 0, 0.0, False),
]


run = run_tiny_cycle


def assignments(url: str, cycle_id: int) -> dict[str, dict[str, Any]]:
    """The cycle's assignments by the customers' source ids, inputs decoded."""
    rows = query(
        url,
        "SELECT x.source_id, a.* FROM assignment a JOIN crosswalk x "
        f"ON x.customer_id = a.customer_id WHERE a.cycle_id = {cycle_id}",
    )
    for row in rows:
        row["inputs"] = json.loads(row["inputs"])
    return {row.pop("source_id"): row for row in rows}


class Cycles(dict):
    """2027-H1 cycles of the tiny market by engine, each run on first use."""

    def __init__(self, url: str, plugins: Catalog, out: Path):
        super().__init__()
        self.url, self.plugins, self.out = url, plugins, out

    def __missing__(self, engine: str) -> Any:
        self[engine] = run(self.url, self.plugins, "2027-H1", self.out, engine=engine)
        return self[engine]


@pytest.fixture(scope="module")
def h1_cycles(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Catalog, Cycles]:
    """The tiny market's 2027-H1 data, loaded once, and its cycles, shared by readers."""
    plugins = tiny_catalog()
    load(module_database_url, plugins, tiny_market.DATA / "h1", country="NL")
    out = tmp_path_factory.mktemp("out")
    return module_database_url, plugins, Cycles(module_database_url, plugins, out)


@pytest.fixture
def cli_universe(
    harmonia_cli: Callable,
    tiny: Catalog,
    harmonia_database: str,
    sqlite_h1: Path,
    wide_terminal: None,
) -> Callable:
    """``harmonia_cli`` on a SQLite database holding the 2027-H1 data."""
    copy_store(sqlite_h1, Path(harmonia_database.removeprefix("sqlite:///")))
    return harmonia_cli


# --- one cycle --------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_each_customer_gets_the_expected_segments_rules_and_inputs(
    h1_cycles: tuple, engine: str
) -> None:
    universe, _, results = h1_cycles
    result = results[engine]
    assert (result.cycle.status, result.cycle.engine, result.cycle.customers) == (
        "draft",
        engine,
        10,
    )
    found = assignments(universe, result.cycle.id)
    assert set(found) == set(EXPECTED_H1)
    for customer, (segment, rule, tier, tier_rule, inputs) in EXPECTED_H1.items():
        row = found[customer]
        assert (row["segment"], row["segment_rule"]) == (segment, rule), customer
        assert (row["tier"], row["tier_rule"]) == (tier, tier_rule), customer
        assert (row["needs"], row["needs_rule"]) == (None, None)  # the rule set has no needs
        assert (row["final_segment"], row["origin"]) == (segment, "rules"), customer
        assert filled_inputs(row["inputs"])[0] == dict(zip(FEATURES, inputs, strict=True)), customer


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_the_segment_summary_plans_contacts_and_cost_per_segment(
    h1_cycles: tuple, engine: str
) -> None:
    result = h1_cycles[2][engine]
    summary = [
        (row["segment"], row["customers"], row["contacts"], row["cost"], row["target"])
        for row in result.summary
    ]
    assert summary == EXPECTED_SUMMARY_H1
    assert all(row["pulled_through"] == 0 for row in result.summary)


@given(st.floats(0, 500), st.sampled_from([1, 2, 4, 12]))
def test_the_periods_of_a_year_plan_the_years_contacts(per_year: float, n: int) -> None:
    planned = [in_period(per_year, k, n) for k in range(1, n + 1)]
    assert sum(planned) == half_up(per_year) and min(planned) >= 0
    assert max(planned) - min(planned) <= half_up(per_year / n) + 1  # spread evenly


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_the_target_list_holds_every_targeted_customer_by_territory_and_priority(
    h1_cycles: tuple, engine: str
) -> None:
    result = h1_cycles[2][engine]
    written = {w.output: Path(w.location) for w in result.written}
    assert set(written) == {"target_list", "segment_summary"}
    lines = written["target_list"].read_text().splitlines()
    header = lines[0].split(";")  # the Dutch market's conventions
    rows = [dict(zip(header, line.split(";"), strict=True)) for line in lines[1:]]
    assert [(r["source_id"], r["territory"], r["segment"]) for r in rows] == [
        ("C01", "T1", "champion"),
        ("C02", "T1", "grow"),
        ("C03", "T1", "develop"),
        ("C04", "T1", "develop"),
        ("C05", "T1", "maintain"),
        ("C06", "T2", "maintain"),
        ("C07", "T2", "maintain"),
        ("C08", "T2", "maintain"),
        ("C09", "T2", "maintain"),
    ]  # C10 is in the untargeted segment monitor
    first = rows[0]
    assert (first["id_scheme"], first["id_value"], first["tier"]) == ("TINY", "10000016", "A")
    assert (first["face_to_face"], first["email"], first["contacts"]) == ("6", "12", "18")
    assert first["cost"] in ("612,0", "612,00", "612")  # a decimal comma, never a point
    assert (
        written["target_list"].name
        == f"NL-cardiology-2027-H1-cycle{result.cycle.id}-target_list.csv"
    )


def test_the_same_universe_gives_identical_assignments_on_every_engine(h1_cycles: tuple) -> None:
    universe, _, results = h1_cycles
    embedded, in_database = results["duckdb"], results["database"]
    left, right = (
        assignments(universe, embedded.cycle.id),
        assignments(universe, in_database.cycle.id),
    )
    for row in [*left.values(), *right.values()]:
        row.pop("cycle_id")
    assert left == right
    tables = [
        [{k: v for k, v in row.items()} for row in result.summary]
        for result in (embedded, in_database)
    ]
    assert tables[0] == tables[1]


def test_the_cycle_records_a_snapshot_to_reproduce_it(h1_cycles: tuple) -> None:
    universe, tiny, results = h1_cycles
    result = results["duckdb"]
    snapshot = json.loads(result.cycle.snapshot)
    assert snapshot["country"]["code"] == "NL" and snapshot["period"] == "2027-H1"
    assert snapshot["rule_set"]["name"] == "tiny-core"
    assert list(snapshot["questionnaires"]) == ["tiny-profile"]
    assert set(snapshot["strategies"]) == set(tiny.rule_sets["tiny-core"].segment.segments)
    assert snapshot["parameters"] == {
        "frequency_scale": 1.0,
        "min_calls": 1.0,
        # the catalogue's defaults for what the country leaves out
        "working_days": 220.0,
        "calls_per_day": 8.0,
        "reps_per_territory": 1.0,
        "event_seats_per_rep": 80.0,
        "response_scale": 1.0,
        "gross_margin": 0.8,
        "rep_cost": 0.0,
        "match_review_threshold": 0.8,
        "match_merge_threshold": 0.99,
        "min_input_coverage": 0.0,
    }
    assert snapshot["packs"]["test-tiny"] == "1.0"
    events = query(
        universe, f"SELECT action FROM audit_event WHERE subject = 'cycle:{result.cycle.id}'"
    )
    assert sorted(event["action"] for event in events) == [
        "cycle.draft",
        "cycle.publish",
        "cycle.run",
    ]


def test_a_cycle_that_fails_is_recorded_as_failed(
    universe: str,
    tiny: Catalog,
    tmp_path: Path,
    register_pack: Callable,
    harmonia_plugins: PluginManager,
) -> None:
    from harmonia import OutputSink

    def broken(request: Any) -> list[str]:
        raise OSError("disk full")

    register_pack(
        module_pack(
            "sinks",
            harmonia_output_sinks=lambda: [
                OutputSink(name="broken", description="", accepts={"target_list"}, write=broken)
            ],
        )
    )
    from harmonia.engine.cycle import SinkChoice

    with pytest.raises(OSError, match="disk full"):
        run(
            universe,
            harmonia_plugins.catalog(),
            "2027-H1",
            tmp_path,
            sinks=[SinkChoice("broken", ("target_list",))],
        )
    assert query(universe, "SELECT status FROM cycle") == [{"status": "failed"}]
    assert query(universe, "SELECT COUNT(*) AS n FROM assignment") == [{"n": 0}]


def work_tables(url: str) -> list[str]:
    """The in-database cycle's work tables left in the store."""
    rows = query(
        url,
        "SELECT table_name FROM information_schema.tables "
        "WHERE starts_with(table_name, 'harmonia_cycle_') ORDER BY table_name",
    )
    return [row["table_name"] for row in rows]


@pytest.mark.postgres
@pytest.mark.parametrize("universe", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    "failing", [None, "planning", "planning while copying", "planning, cancel refused", "copy"]
)
def test_postgresql_stores_a_cycle_whole_or_not_at_all_and_drops_its_work_table(
    universe: str,
    tiny: Catalog,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: str | None,
) -> None:
    """In PostgreSQL the cycle computes into a work table that two sessions share:
    one copies the assignments into the store while the other plans. The copy
    commits only when planning succeeded, and the work table goes whatever happens."""
    from harmonia.engine import backends, cycle
    from harmonia.engine.query import CycleQuery

    stored_when_closed: list[int] = []
    close = cycle._close_cycle

    def close_and_count(database: Database, cycle_id: int, **options: Any) -> Any:
        sql = f"SELECT COUNT(*) AS n FROM assignment WHERE cycle_id = {cycle_id}"
        stored_when_closed.append(query(universe, sql)[0]["n"])
        return close(database, cycle_id, **options)

    monkeypatch.setattr(cycle, "_close_cycle", close_and_count)
    if failing is None:
        result = run(universe, tiny, "2027-H1", tmp_path, engine="database")
        assert stored_when_closed == [result.cycle.customers] and result.cycle.customers > 0
    else:
        copy = backends._store_assignments
        cancels: list[str] = []
        if failing.startswith("planning"):
            monkeypatch.setattr(CycleQuery, "summary", lambda self, relation: "SELECT nonsense")
        if failing == "planning while copying":
            # Planning fails while the copy's statement runs: the copy is
            # cancelled, at once, and is no failure of its own.
            def slow_copy(bulk: BulkConnection, computed: str, cycle_id: int) -> None:
                bulk.execute("SELECT pg_sleep(60)")
                copy(bulk, computed, cycle_id)

            def fail_while_copying(self: CycleQuery, relation: str) -> str:
                sleeping = "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
                deadline = time.monotonic() + 20
                while not query(universe, sleeping)[0]["n"] and time.monotonic() < deadline:
                    time.sleep(0.05)
                return "SELECT nonsense"

            monkeypatch.setattr(backends, "_store_assignments", slow_copy)
            monkeypatch.setattr(CycleQuery, "summary", fail_while_copying)
        elif failing == "planning, cancel refused":
            # ... and the driver refuses the cancel: the copy still rolls back,
            # and the error the user sees is planning's.
            def slow_copy(bulk: BulkConnection, computed: str, cycle_id: int) -> None:
                time.sleep(0.5)
                copy(bulk, computed, cycle_id)

            def refuse(self: BulkConnection) -> None:
                cancels.append("refused")
                raise RuntimeError("INVALID_STATE: AdbcConnectionCancel refused")

            monkeypatch.setattr(backends, "_store_assignments", slow_copy)
            monkeypatch.setattr(BulkConnection, "cancel", refuse)
        elif failing == "copy":
            monkeypatch.setattr(
                backends,
                "_store_assignments",
                lambda bulk, computed, cycle_id: copy(bulk, "nonsense", cycle_id),
            )
        started = time.monotonic()
        with pytest.raises(Exception, match="nonsense") as raised:
            run(universe, tiny, "2027-H1", tmp_path, engine="database")
        assert time.monotonic() - started < 30  # a cancelled pg_sleep(60) did not run out
        assert getattr(raised.value, "__notes__", []) == []  # abandoning is no second failure
        assert cancels == (["refused"] if failing == "planning, cancel refused" else [])
        assert stored_when_closed == [0]  # nothing committed, nothing to take back
        assert query(universe, "SELECT status FROM cycle") == [{"status": "failed"}]
    assert work_tables(universe) == []


@pytest.mark.postgres
@pytest.mark.parametrize("universe", ["postgresql"], indirect=True)
def test_postgresql_drops_the_work_tables_a_killed_cycle_left_behind(
    universe: str, tiny: Catalog, tmp_path: Path
) -> None:
    first = run(universe, tiny, "2027-H1", tmp_path, engine="database").cycle.id
    with BulkConnection(Database(universe)) as bulk:
        bulk.execute(f"UPDATE cycle SET status = 'running' WHERE id = {first}")
        for cycle_id in (first, 424242):  # one running elsewhere, one long gone
            bulk.execute(f"CREATE TABLE harmonia_cycle_{cycle_id} (customer_id integer)")
    run(universe, tiny, "2027-H1", tmp_path, engine="database")
    assert work_tables(universe) == [f"harmonia_cycle_{first}"]


@pytest.mark.postgres
@pytest.mark.parametrize("universe", ["postgresql"], indirect=True)
def test_a_postgresql_role_that_may_not_create_tables_is_told_what_to_grant(
    universe: str, tiny: Catalog, tmp_path: Path
) -> None:
    """PostgreSQL 15 no longer lets every role create tables in public; the
    in-database cycle needs to (its work table), the embedded engine does not."""
    import uuid

    from sqlalchemy.engine import make_url

    role = f"harmonia_reader_{uuid.uuid4().hex[:8]}"
    with BulkConnection(Database(universe)) as bulk:
        bulk.execute(f"CREATE ROLE {role} LOGIN")
        bulk.execute(f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {role}")
        bulk.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        bulk.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        bulk.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
    as_role = make_url(universe).set(username=role).render_as_string(hide_password=False)
    try:
        with pytest.raises(ConfigError, match=f"GRANT CREATE ON SCHEMA .* TO {role}"):
            run(as_role, tiny, "2027-H1", tmp_path, engine="database")
        assert run(as_role, tiny, "2027-H1", tmp_path, engine="duckdb").cycle.customers > 0
    finally:
        with BulkConnection(Database(universe)) as bulk:
            bulk.execute(f"DROP OWNED BY {role}")
            bulk.execute(f"DROP ROLE {role}")


# --- pull-through ---------------------------------------------------------------------------------

#: 2027-H2 after data/h2 arrived: C01's potential moved 5 % (under the 10 %
#: threshold), C02's 29 %; C05 got calls in 2027-Q1 and Q3 (consistency 0.75);
#: C06 answered the questionnaire again (adoption high). Everyone else's inputs
#: are what the first cycle saw: trx in 2027-Q3 repeats each H1 total, and where
#: a call in 2026-Q4 leaves the window (2027-Q1..Q4 now) one in 2027-Q3/Q4 replaces it.
PULLED = {"C01", "C03", "C04", "C07", "C08", "C09", "C10"}
EXPECTED_H2 = {
    "C01": "champion",
    "C02": "grow",
    "C03": "develop",
    "C04": "develop",
    "C05": "develop",  # re-ruled: maintain -> develop
    "C06": "maintain",
    "C07": "maintain",
    "C08": "maintain",
    "C09": "maintain",
    "C10": "monitor",
}


def _second_cycle(url: str, plugins: Catalog, tmp_path: Path, **options: Any) -> tuple[Any, Any]:
    first = run(url, plugins, "2027-H1", tmp_path, **options)
    load(url, plugins, tiny_market.DATA / "h2", country="NL")
    second = run(url, plugins, "2027-H2", tmp_path, **options)
    return first, second


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_pull_through_carries_unchanged_customers_and_re_rules_changed_ones(
    universe: str, tiny: Catalog, tmp_path: Path, engine: str
) -> None:
    first, second = _second_cycle(universe, tiny, tmp_path, engine=engine)
    assert second.cycle.previous_cycle_id == first.cycle.id
    found = assignments(universe, second.cycle.id)
    origins = {customer: row["origin"] for customer, row in found.items()}
    assert {c for c, origin in origins.items() if origin == "pulled-through"} == PULLED
    assert {c for c, origin in origins.items() if origin == "rules"} == {"C02", "C05", "C06"}
    assert {c: row["final_segment"] for c, row in found.items()} == EXPECTED_H2
    assert found["C01"]["inputs"]["potential"] == 84.0  # the new value, within the threshold
    assert found["C05"]["inputs"]["consistency"] == 0.75
    pulled = {row["segment"]: row["pulled_through"] for row in second.summary}
    assert pulled == {"champion": 1, "grow": 0, "develop": 2, "maintain": 3, "monitor": 1}


def test_pull_through_keeps_the_previous_final_segment_when_the_rules_now_disagree(
    universe: str, tiny: Catalog, tmp_path: Path
) -> None:
    run(universe, tiny, "2027-H1", tmp_path)
    load(universe, tiny, tiny_market.DATA / "h2", country="NL")
    # The global team raises the bar for develop between the two cycles.
    rule_set = tiny.rule_sets["tiny-core"]
    rules = tuple(
        attrs.evolve(rule, when="potential_q = 2 AND consistency >= 0.75")
        if rule.id == "develop"
        else rule
        for rule in rule_set.segment.rules
    )
    stricter = attrs.evolve(
        rule_set, version="2", segment=attrs.evolve(rule_set.segment, rules=rules)
    )
    plugins = tiny_catalog_with(harmonia_segmentation_rules=lambda: [stricter])
    second = run(universe, plugins, "2027-H2", tmp_path)
    found = assignments(universe, second.cycle.id)
    for customer in ("C03", "C04"):  # unchanged: the rules say maintain, the cycle keeps develop
        row = found[customer]
        assert (row["segment"], row["final_segment"], row["origin"]) == (
            "maintain",
            "develop",
            "pulled-through",
        )
    assert (found["C05"]["segment"], found["C05"]["origin"]) == ("develop", "rules")
    differs = {row["segment"]: row["differs_from_rules"] for row in second.summary}
    assert differs["develop"] == 2
    assert second.cycle.rule_set_version == "2"


def test_pull_through_disabled_by_the_country_profile_re_rules_everyone(
    universe: str, tiny: Catalog, tmp_path: Path
) -> None:
    from harmonia import PullThrough

    profile = attrs.evolve(tiny.country_profiles["NL"], pull_through=PullThrough(enabled=False))
    plugins = tiny_catalog_with(harmonia_country_profiles=lambda: [profile])
    _, second = _second_cycle(universe, plugins, tmp_path)
    found = assignments(universe, second.cycle.id)
    assert {row["origin"] for row in found.values()} == {"rules"}
    assert all(row["final_segment"] == row["segment"] for row in found.values())
    assert {c: row["final_segment"] for c, row in found.items()} == EXPECTED_H2


def test_a_cycle_for_an_earlier_period_has_no_previous_cycle(
    universe: str, tiny: Catalog, tmp_path: Path
) -> None:
    later = run(universe, tiny, "2027-H2", tmp_path)
    earlier = run(universe, tiny, "2027-H1", tmp_path)
    assert later.cycle.previous_cycle_id is None
    assert earlier.cycle.previous_cycle_id is None


# --- mistakes a user can make ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"country": "XX"}, NotFoundError, "no country profile XX"),
        ({"therapy_area": "oncology"}, NotFoundError, "no rule set for therapy area 'oncology'"),
        ({"period": "2027-H3"}, ConfigError, "'2027-H3' is not a period"),
        ({"engine": "nosuch"}, ConfigError, "unknown engine 'nosuch'"),
        ({"engine": "spark"}, ConfigError, "does not know where the market's data is"),
    ],
)
def test_cycle_mistakes_are_clear_errors(
    harmonia_database: str,
    tiny: Catalog,
    tmp_path: Path,
    options: dict,
    error: type,
    message: str,
) -> None:
    arguments = {"country": "NL", "therapy_area": "cardiology", "period": "2027-H1", **options}
    with pytest.raises(error, match=message):
        run_cycle(Database(harmonia_database), tiny, directory=tmp_path, **arguments)


# --- explain --------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_explain_replays_the_rules_on_the_stored_inputs(h1_cycles: tuple, engine: str) -> None:
    universe, _, results = h1_cycles
    result = results[engine]
    explanation = explain_assignment(Database(universe), result.cycle.id, "C03")
    assert explanation.agrees
    assert explanation.identifiers == [("TINY", "10000032")]
    assert explanation.source_ids == [("csv", "C03")]
    segment, tier = explanation.traces
    assert (segment.dimension, segment.segment, segment.rule_id) == (
        "segment",
        "develop",
        "develop",
    )
    assert [(rule.id, rule.result) for rule in segment.rules] == [
        ("gp", False),
        ("champion", False),
        ("grow", False),
        ("develop", True),
    ]
    assert (tier.segment, tier.rule_id) == ("C", "no_trx")
    harmonia_id = str(explanation.customer.id)
    by_harmonia_id = explain_assignment(Database(universe), result.cycle.id, harmonia_id)
    assert by_harmonia_id.source_ids == [("csv", "C03")]


def test_explain_command_text_and_json(cli_universe: Callable, tmp_path: Path) -> None:
    run = cli_universe(
        "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--out", str(tmp_path)
    )
    assert run.exit_code == 0, run.output
    text = cli_universe("explain", "--cycle", "1", "--customer", "C05")
    assert text.exit_code == 0, text.output
    assert "Eva Smit (HCP, cardiology, T1)" in text.output
    assert "segment: maintain (fallback)" in text.output
    assert "potential_q = 2 AND consistency >= 0.5" in text.output
    assert "final segment maintain (from the rules)" in text.output
    document = json.loads(
        cli_universe("explain", "--cycle", "1", "--customer", "C05", "--json").stdout
    )
    assert document["engine_and_python_agree"] is True
    assert document["final_segment"] == "maintain" and document["origin"] == "rules"
    assert document["inputs"]["consistency"] == 0.25
    assert [d["dimension"] for d in document["dimensions"]] == ["segment", "tier"]


def test_explain_an_unknown_customer_or_cycle_is_a_clear_error(
    cli_universe: Callable, tmp_path: Path
) -> None:
    out = str(tmp_path / "out")
    cli_universe("cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--out", out)
    for args, message in (
        (("--cycle", "1", "--customer", "C99"), "no customer 'C99' in cycle 1"),
        (("--cycle", "9", "--customer", "C01"), "no cycle 9"),
    ):
        result = cli_universe("explain", *args)
        assert result.exit_code != 0 and message in result.output
        assert "Traceback" not in result.output


def test_explain_asks_which_customer_an_id_of_two_meanings_names(
    cli_universe: Callable, harmonia_database: str, tmp_path: Path
) -> None:
    """A CRM that numbers its customers 1, 2, 3 ... gives source ids that are also
    harmonia ids: explain refuses to guess and --system says which is meant."""
    cli_universe(
        "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--out", str(tmp_path)
    )
    eva = query(harmonia_database, "SELECT customer_id FROM crosswalk WHERE source_id = 'C05'")
    eva_id = eva[0]["customer_id"]
    other_id = 1 if eva_id != 1 else 2
    with BulkConnection(Database(harmonia_database)) as bulk:
        bulk.execute(
            "INSERT INTO crosswalk (system, source_id, customer_id, batch_id) "
            f"VALUES ('crm', '{other_id}', {eva_id}, 1)"
        )
    both = cli_universe("explain", "--cycle", "1", "--customer", str(other_id))
    assert both.exit_code != 0 and "Traceback" not in both.output
    assert f"'{other_id}' names several customers of cycle 1" in both.output
    assert f"crm customer_id {other_id} is customer {eva_id}" in both.output
    assert "--system (crm or harmonia)" in both.output
    for system, expected in (("crm", eva_id), ("harmonia", other_id)):
        chosen = cli_universe(
            "explain", "--cycle", "1", "--customer", str(other_id), "--system", system, "--json"
        )
        assert chosen.exit_code == 0, chosen.output
        assert json.loads(chosen.stdout)["customer"]["id"] == expected
    for args, message in (
        (("C05", "--system", "crm"), "no customer 'C05' (--system crm) in cycle 1"),
        (
            ("C05", "--system", "CSV"),
            "no source system is called 'CSV' (known: crm, csv; or harmonia)",
        ),
        (("C05", "--system", "harmonia"), "a harmonia id is a number"),
        (("²",), "no customer '²' in cycle 1"),
        (("9" * 30,), f"no customer '{'9' * 30}' in cycle 1"),
    ):
        wrong = cli_universe("explain", "--cycle", "1", "--customer", *args)
        assert wrong.exit_code != 0 and "Traceback" not in wrong.output
        assert message in wrong.output


# --- cycle list / show / diff / sql ---------------------------------------------------------------


def test_cycle_list_show_and_diff(cli_universe: Callable, tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    first = cli_universe(
        "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--out", out
    )
    assert first.exit_code == 0, first.output
    cli_universe("load", str(tiny_market.DATA / "h2"), "--country", "NL")
    second = cli_universe(
        "cycle", "run", "-c", "nl", "-t", "cardiology", "-p", "2027-H2", "--out", out, "--json"
    )
    document = json.loads(second.stdout)
    assert document["cycle"]["id"] == 2 and document["cycle"]["previous_cycle_id"] == 1
    assert {w["output"] for w in document["written"]} == {"target_list", "segment_summary"}

    listed = json.loads(cli_universe("cycle", "list", "--json").stdout)
    assert [(c["id"], c["period"], c["status"], c["customers"]) for c in listed] == [
        (2, "2027-H2", "draft", 10),
        (1, "2027-H1", "draft", 10),
    ]
    assert cli_universe("cycle", "list", "--country", "FR", "--json").stdout.strip() == "[]"
    table = cli_universe("cycle", "list").output
    assert "2027-H2" in table and "cardiology" in table

    shown = json.loads(cli_universe("cycle", "show", "2", "--json").stdout)
    assert shown["snapshot"]["rule_set"]["name"] == "tiny-core"
    segments = shown["summary"]["segments"]
    assert (segments[0]["segment"], segments[0]["customers"]) == ("champion", 1)
    # Counts are JSON numbers, whichever engine summed them.
    assert all(isinstance(row["contacts"], int) for row in segments), segments[0]
    assert all(isinstance(row["pulled_through"], int) for row in segments), segments[0]
    text = cli_universe("cycle", "show", "2").output
    assert "pull-through on (threshold 0.1)" in text and "test-tiny 1.0" in text

    matrix = json.loads(cli_universe("cycle", "diff", "1", "2", "--json").stdout)
    assert matrix["counts"]["maintain"] == {"maintain": 4, "develop": 1}
    assert (matrix["stayed"], matrix["moved"], matrix["entered"], matrix["left"]) == (9, 1, 0, 0)
    assert matrix["before_segments"] == ["champion", "grow", "develop", "maintain", "monitor"]
    diff = cli_universe("cycle", "diff", "1", "2").output
    assert "9 stayed, 1 moved, 0 new in 2, 0 gone since 1" in diff


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "trino", "spark", "sqlite"])
def test_cycle_sql_compiles_for_other_engines_and_parses_back(
    harmonia_cli: Callable, tiny: Catalog, dialect: str
) -> None:
    result = harmonia_cli(
        "cycle", "sql", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--dialect", dialect
    )
    assert result.exit_code == 0, result.output
    statement = result.stdout.strip().removesuffix(";")
    parsed = sqlglot.parse_one(statement, read=dialect)
    assert isinstance(parsed, sqlglot.exp.Query)
    assert "potential_q" in statement and "tiny-profile" in statement


@pytest.mark.parametrize(
    ("sink", "message"),
    [
        ("csv:foo=bar", "sink csv has no option foo"),
        ("csv:delimiter=abc", "delimiter='abc' is not allowed"),
        ("csv:decimal=x", "decimal='x' is not allowed"),
        ("parquet:compression=zstd", "sink parquet has no option compression"),
    ],
)
def test_sink_options_are_checked_before_the_cycle_runs(
    cli_universe: Callable, tmp_path: Path, sink: str, message: str
) -> None:
    result = cli_universe(
        "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--out", str(tmp_path),
        "--sink", sink,
    )  # fmt: skip
    assert result.exit_code == 1 and message in result.output
    assert "no cycles" in cli_universe("cycle", "list").output.lower()


def test_a_cycle_of_a_market_without_customers_is_refused(
    harmonia_cli: Callable, tiny: Catalog, tmp_path: Path
) -> None:
    result = harmonia_cli("cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1")
    assert result.exit_code == 1 and "no customers of NL in the database" in result.output


def test_an_unknown_dialect_is_an_error_listing_the_known_ones(
    harmonia_cli: Callable, tiny: Catalog
) -> None:
    result = harmonia_cli(
        "cycle", "sql", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--dialect", "nosuch"
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "unknown SQL dialect 'nosuch'" in result.output and "trino" in result.output


def test_an_output_folder_that_is_a_file_is_an_error_not_a_traceback(
    cli_universe: Callable, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = cli_universe(
        "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--out", str(blocker)
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "cannot use this path" in result.output and "a-file" in result.output


def test_cycle_sql_run_in_duckdb_gives_the_cycles_assignments(
    cli_universe: Callable, harmonia_database: str
) -> None:
    result = cli_universe(
        "cycle", "sql", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--dialect", "duckdb"
    )
    database = Database(harmonia_database)
    with BulkConnection(database) as bulk:
        tables = {
            name: bulk.read(f"SELECT * FROM {name}")
            for name in (
                "customer",
                "customer_redirect",  # who is merged, and who objects: the cycle reads them
                "objection",
            )
        }
        # Persons' golden values, read over their rows (none here: typed, as SQLite gives
        # an empty read no columns).
        tables["golden_value"] = input_schema("golden_value").empty_table()
        for name in ("metric", "response", "answer"):  # facts, wherever the store keeps them
            tables[name] = facts_of(database).read(bulk, f"SELECT * FROM {name}")
        crosswalk = bulk.read("SELECT customer_id, source_id FROM crosswalk").to_pylist()
    source_ids = {row["customer_id"]: row["source_id"] for row in crosswalk}
    connection = duckdb.connect()
    for name, table in tables.items():
        connection.register(name, table)
    relation = connection.sql(result.stdout.strip().removesuffix(";"))
    columns, rows = relation.columns, relation.fetchall()
    found = {
        source_ids[row[columns.index("customer_id")]]: dict(zip(columns, row, strict=True))
        for row in rows
    }
    assert set(found) == set(EXPECTED_H1)
    for customer, (segment, rule, tier, tier_rule, inputs) in EXPECTED_H1.items():
        row = found[customer]
        assert (row["segment"], row["segment_rule"], row["tier"], row["tier_rule"]) == (
            segment,
            rule,
            tier,
            tier_rule,
        ), customer
        values, _ = filled_inputs(json.loads(row["inputs"]))
        assert values == dict(zip(FEATURES, inputs, strict=True)), customer


def test_other_sinks_and_outputs(cli_universe: Callable, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    result = cli_universe(
        "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--out", str(tmp_path),
        "--sink", "parquet:name=everyone", "--output", "assignments", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (written,) = json.loads(result.stdout)["written"]
    assert written["sink"] == "parquet" and written["location"].endswith(
        "everyone-assignments.parquet"
    )
    table = pq.read_table(written["location"])
    assert table.num_rows == 10 and "segment_rule" in table.column_names


def test_a_named_sink_writes_each_output_to_its_own_file(
    cli_universe: Callable, tmp_path: Path
) -> None:
    result = cli_universe(
        "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--out", str(tmp_path),
        "--sink", "csv:name=mylist", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    locations = sorted(Path(w["location"]).name for w in json.loads(result.stdout)["written"])
    assert locations == ["mylist-segment_summary.csv", "mylist-target_list.csv"]


def test_a_rule_set_snapshot_explains_a_cycle_after_the_pack_moved_on(h1_cycles: tuple) -> None:
    _, tiny, results = h1_cycles
    snapshot = json.loads(results["duckdb"].cycle.snapshot)["rule_set"]
    from harmonia.definitions import structure

    assert structure(snapshot, RuleSet, where="snapshot") == tiny.rule_sets["tiny-core"]
