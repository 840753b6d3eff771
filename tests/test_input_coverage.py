"""A cycle that cannot work says so before it runs (issue 17, point 3): the coverage of
every feature's input and every peer group, reported by ``cycle run`` and refused under
the market's threshold. Through the CLI as a user types it, on the French bad-input
corpus: specialties outside the rule set's levels, no potential metric."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from helpers import write

import harmonia_fr
import harmonia_oncology
from harmonia import load_definitions
from harmonia.definitions import CountryProfile
from harmonia.plugin.manager import PluginManager
from harmonia.testing import module_pack

# French conventions: ';' and decimal commas. Specialties as a French CRM writes them,
# which oncology-core's levels do not know; trx loaded, potential never.
CUSTOMERS = """\
customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;id_scheme;id_value
F01;FR;HCP;Anne;Martin;oncologie médicale;75001;Paris;T1;;
F02;FR;HCP;Bruno;Bernard;oncologie médicale;75002;Paris;T1;;
F03;FR;HCP;Chloé;Thomas;hématologie;69001;Lyon;T1;;
F04;FR;HCP;David;Petit;pneumologie;69002;Lyon;T2;;
F05;FR;HCP;Emma;Robert;radiothérapie;13001;Marseille;T2;;
F06;FR;HCP;Félix;Richard;medical_oncology;13002;Marseille;T2;;
"""

METRICS = """\
customer_id;therapy_area;metric;period;value
F01;oncology;trx;2027-Q1;12,5
F02;oncology;trx;2027-Q1;3
F03;oncology;trx;2027-Q1;7
F06;oncology;trx;2027-Q2;4
"""


def _france(threshold: float | None) -> list[CountryProfile]:
    """The French profile, with ``min_input_coverage`` set when given."""
    (profile,) = load_definitions(
        CountryProfile, Path(harmonia_fr.__file__).parent / "country.toml"
    )
    if threshold is None:
        return [profile]
    parameters = {**profile.parameters, "min_input_coverage": threshold}
    return [attrs.evolve(profile, parameters=parameters)]


@pytest.fixture(params=[None, 0.5], ids=["default", "threshold"])
def france(
    request: pytest.FixtureRequest,
    harmonia_cli: Callable,
    register_pack: Callable,
    harmonia_plugins: PluginManager,
    tmp_path: Path,
    wide_terminal: None,
) -> tuple[Callable, float | None]:
    """The CLI with oncology and the French profile (with or without a threshold), the
    corpus loaded."""
    threshold = request.param
    register_pack(harmonia_oncology)
    french = module_pack(
        "fr",
        harmonia_country_profiles=lambda: _france(threshold),
        harmonia_refinement_policies=harmonia_fr.harmonia_refinement_policies,
        harmonia_identifier_schemes=harmonia_fr.harmonia_identifier_schemes,
    )
    register_pack(french, name="fr")
    data = tmp_path / "corpus"
    write(data / "customers.csv", CUSTOMERS)
    write(data / "metrics.csv", METRICS)
    loaded = harmonia_cli("load", str(data), "--country", "FR")
    assert loaded.exit_code == 0, loaded.output
    return harmonia_cli, threshold


def test_a_cycle_reports_its_input_coverage_and_refuses_under_the_markets_threshold(
    france: tuple[Callable, float | None], tmp_path: Path
) -> None:
    cli, threshold = france
    args = ("cycle", "run", "-c", "FR", "-t", "oncology", "-p", "2027-H1")
    result = cli(*args, "--out", str(tmp_path / "out"))
    if threshold is None:
        # The default warns, by feature and peer group, and runs.
        assert result.exit_code == 0, result.output
        assert "specialty among the rule set's levels" in result.output
        warned = " ".join(result.stderr.split())
        assert (
            "input coverage: specialty (specialty among the rule set's levels): "
            "1 of 6 customers (17%)" in warned
        )
        assert "potential_decile (metric potential): 0 of 6 customers (0%)" in warned
        assert "trx_decile: 2 peer group(s) without any input" in warned
        assert "FR / pneumologie" in warned
        # The same counts inside the database (SQLite in steps) as in DuckDB.
        again = cli(*args, "-e", "database", "--out", str(tmp_path / "again"), "--json")
        document = json.loads(again.stdout)
        rows = {(row["feature"], row["peer_group"]): row for row in document["input_coverage"]}
        assert rows["potential_decile", None]["covered"] == 0
        assert rows["potential_decile", None]["customers"] == 6
        assert rows["trx_decile", None]["covered"] == 4
        assert rows["trx_decile", "FR / oncologie médicale"]["share"] == 1.0
        assert rows["customer_type", None]["share"] == 1.0
        assert any("potential_decile" in warning for warning in document["warnings"])
        return
    # The market asks for half: refused before anything is computed, in one message.
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "the cycle is refused" in result.output
    assert "potential_decile (metric potential): 0 of 6 customers (0%)" in result.output
    assert "parameters.min_input_coverage" in result.output
    assert not (tmp_path / "out").exists()
    cycles = json.loads(cli("cycle", "list", "--json").stdout)
    assert [c["status"] for c in cycles] == ["failed"]


def test_a_response_to_a_version_the_cycle_does_not_score_covers_nothing() -> None:
    """Review: coverage counted a response to any version, scoring only the installed ones."""
    import duckdb
    from helpers import tiny_catalog

    from harmonia.engine.coverage import _input
    from harmonia.engine.query import CycleQuery
    from harmonia.engine.spec import resolve

    spec = resolve(tiny_catalog(), "NL", "cardiology", "2027-H1")
    query = CycleQuery(spec, cycle_id=1)
    (feature,) = [f for f in spec.rule_set.features if getattr(f, "questionnaire", None)]
    _, _, (table, condition) = _input(query, feature)
    scored = spec.questionnaires[feature.questionnaire][0].version
    start, _ = query.response_window
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE response AS SELECT * FROM (VALUES (1, ?, ?, ?), (2, ?, 'retired', ?)) "
        "t(customer_id, questionnaire, version, answered_at)",
        [feature.questionnaire, scored, start, feature.questionnaire, start],
    )
    covered = connection.sql(f"SELECT customer_id FROM {table} WHERE {condition}").fetchall()
    assert covered == [(1,)]
