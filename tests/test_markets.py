"""The global view: one therapy area's cycle in every market, distributions compared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tiny_market
from helpers import write
from hypothesis import given
from hypothesis import strategies as st

from harmonia import CountryProfile, Harmonia, load_definitions
from harmonia.engine.markets import STATISTIC, js_distance
from harmonia.testing import module_pack

#: Markets of the test: three alike, one of general practitioners only, one without data.
ALIKE, ODD, EMPTY = ("NL", "BE", "DK"), "LU", "SE"


def test_the_distance_is_zero_for_equal_shares_and_one_for_disjoint_ones():
    assert js_distance([0.5, 0.5, 0.0], [0.5, 0.5, 0.0]) == 0.0
    assert js_distance([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)
    assert js_distance([0.4, 0.3, 0.3], [0.3, 0.35, 0.35]) == pytest.approx(0.0891, abs=1e-4)


shares = st.lists(st.integers(0, 1000), min_size=2, max_size=8).filter(lambda v: sum(v) > 0)


@given(st.data())
def test_the_distance_agrees_with_scipy(data):
    spatial = pytest.importorskip("scipy.spatial.distance")
    p = data.draw(shares)
    q = data.draw(st.lists(st.integers(0, 1000), min_size=len(p), max_size=len(p)).filter(sum))
    p, q = [v / sum(p) for v in p], [v / sum(q) for v in q]
    assert js_distance(p, q) == pytest.approx(spatial.jensenshannon(p, q, base=2), abs=1e-9)
    assert js_distance(p, q) == pytest.approx(js_distance(q, p))


def _profiles(tmp_path: Path) -> list[CountryProfile]:
    text = (Path(tiny_market.__file__).parent / "country.toml").read_text()
    found = []
    for code in (*ALIKE[1:], ODD, EMPTY):
        path = write(tmp_path / f"{code}.toml", text.replace('"NL"', f'"{code}"'))
        found += load_definitions(CountryProfile, path)
    return found


@pytest.fixture
def app(harmonia_database, register_pack, harmonia_plugins, tmp_path) -> Harmonia:
    register_pack(tiny_market, name="tiny")
    profiles = _profiles(tmp_path)
    register_pack(module_pack("markets", harmonia_country_profiles=lambda: profiles))
    customers = ["customer_id;country;type;specialty;territory"]
    metrics = ["customer_id;therapy_area;metric;period;value"]
    for country in (*ALIKE, ODD):
        specialty = "general_practice" if country == ODD else "cardiology"
        for i in range(8):
            customers.append(f"{country}{i};{country};HCP;{specialty};T1")
            metrics.append(f"{country}{i};cardiology;potential;2026;{10 * (i + 1)}")
    app = Harmonia(harmonia_database, harmonia_plugins.catalog(), actor="test")
    files = [
        write(tmp_path / "customers.csv", "\n".join(customers) + "\n"),
        write(tmp_path / "metrics.csv", "\n".join(metrics) + "\n"),
    ]
    app.loads.run(app.loads.plan(files))
    return app


def test_one_run_covers_every_market_and_flags_the_odd_one(app, tmp_path):
    result = app.markets.run(therapy_area="cardiology", period="2027-H1", directory=tmp_path)
    assert sorted(r.cycle.country for r in result.cycles) == sorted((*ALIKE, ODD))
    assert result.skipped == {EMPTY: "no customers loaded"}
    comparison = result.comparison
    assert comparison.departing == [ODD]
    by_country = {row.country: row for row in comparison.markets}
    assert {by_country[c].distance for c in ALIKE} == {0.0}
    assert by_country[ODD].shares["monitor"] == 1.0 and by_country[ODD].distance == 1.0
    assert comparison.statistic == STATISTIC


def test_compare_reads_the_latest_cycles_and_the_cli_shows_them(app, harmonia_cli, tmp_path):
    app.markets.run(therapy_area="cardiology", period="2027-H1", directory=tmp_path)
    compared = harmonia_cli("markets", "compare", "-t", "cardiology", "-p", "2027-H1", "--json")
    assert compared.exit_code == 0, compared.output
    data = json.loads(compared.output)
    assert data["departing"] == [ODD] and data["threshold"] == 0.1
    assert [m["country"] for m in data["markets"]] == sorted((*ALIKE, ODD))
    strict = harmonia_cli("markets", "compare", "-t", "cardiology", "-p", "2027-H1",
                          "--threshold", "1")  # fmt: skip
    assert "No market departs from the rest" in strict.output
    missing = harmonia_cli("markets", "compare", "-t", "cardiology", "-p", "2031-H1")
    assert missing.exit_code != 0 and "harmonia markets run" in missing.output


def test_the_cli_runs_every_market(harmonia_cli, app, tmp_path):
    result = harmonia_cli("markets", "run", "-t", "cardiology", "-p", "2027-H1",
                          "--out", str(tmp_path / "out"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{EMPTY} skipped: no customers loaded" in result.output
    assert f"{ODD} departs from the rest" in result.output
    unknown = harmonia_cli("markets", "run", "-t", "cardiology", "-c", "XX")
    assert unknown.exit_code != 0 and "no installed country profile XX" in unknown.output


def test_the_report_of_a_cycle_compares_its_markets(app, tmp_path):
    pytest.importorskip("jinja2")
    result = app.markets.run(therapy_area="cardiology", period="2027-H1", directory=tmp_path)
    from harmonia.report.context import ReportContext
    from harmonia.report.render import render_report

    nl = next(r.cycle.id for r in result.cycles if r.cycle.country == "NL")
    html = render_report(ReportContext(app.database, app.catalog, nl))
    assert "Across markets" in html and "departs" in html
    assert "Jensen-Shannon distance" in html
