"""The strategy commands through click's runner, and the report in a real browser.

The tiny market's 2027-H1 and 2027-H2 cycles (cycle 1 and 2) on SQLite.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import tiny_market
from helpers import write

from harmonia.plugin.catalog import Catalog as Plugins
from harmonia.store.facts import copy_store

#: Where tests keep what a person may want to look at (the report's screenshot).
ARTIFACTS = Path(
    os.environ.get("HARMONIA_TEST_ARTIFACTS", Path(__file__).parents[2] / ".artifacts")
)


@pytest.fixture
def cli(
    harmonia_cli: Callable,
    tiny: Plugins,
    harmonia_database: str,
    sqlite_h1: Path,
    wide_terminal: None,
) -> Callable:
    """``harmonia_cli`` on the tiny market with its 2027-H1 (1) and 2027-H2 (2) cycles."""
    copy_store(sqlite_h1, Path(harmonia_database.removeprefix("sqlite:///")))
    for period in ("2027-H1", "2027-H2"):
        if period == "2027-H2":
            assert (
                harmonia_cli("load", str(tiny_market.DATA / "h2"), "--country", "NL").exit_code == 0
            )
        result = harmonia_cli(
            "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", period, "--out", "out"
        )
        assert result.exit_code == 0, result.output
    return harmonia_cli


def test_indices_table_and_json(cli: Callable) -> None:
    table = cli("strategy", "indices", "2")
    assert table.exit_code == 0, table.output
    assert "potential idx" in table.output and "champion" in table.output
    data = json.loads(cli("strategy", "indices", "2", "--json").output)
    segments = {row["segment"]: row for row in data["segments"]}
    assert sum(row["customers"] for row in data["segments"]) == 10
    assert sum(row["share_potential"] for row in data["segments"]) == pytest.approx(100.0)
    champion = segments["champion"]
    assert champion["potential_index"] == pytest.approx(
        100 * champion["share_potential"] / champion["share_customers"]
    )
    assert {row["territory"] for row in data["territories"]} == {"T1", "T2"}


def test_plan_saves_and_prints_the_pro_forma(cli: Callable, tmp_path: Path) -> None:
    capacity = write(tmp_path / "reps.csv", "territory;reps\nT1;0,008\nT2;0\n")
    result = cli("strategy", "plan", "2", "--capacity", str(capacity))
    assert result.exit_code == 0, result.output
    assert "pro forma" in result.output and "portfolio" in result.output
    assert "plan 1 saved" in result.output
    # T2 has no reps but its customers only need e-mails: no shortfall
    assert "warning" not in result.output
    data = json.loads(cli("strategy", "plan", "2", "--dry-run", "--json").output)
    assert data["plan"] is None and data["cycles"] == [2]
    assert data["pro_forma"]["portfolio"]["customers"] == 10
    assert cli("strategy", "plan", "2", "--budget", "email").exit_code != 0
    # a market, area and period name their usable cycle: the latest completed one here
    scope = ["-c", "nl", "-t", "cardiology", "-p", "2027-H2", "--dry-run", "--json"]
    by_scope = cli("strategy", "plan", *scope)
    assert by_scope.exit_code == 0, by_scope.output
    assert json.loads(by_scope.output)["cycles"] == [2]
    missing = cli("strategy", "plan", "-c", "NL", "-t", "oncology", "-p", "2027-H2")
    assert missing.exit_code == 1
    assert "no oncology cycle of NL 2027-H2 can be planned" in missing.output
    assert cli("strategy", "plan", "2", "-c", "NL").exit_code == 2  # ids or a scope
    assert cli("strategy", "plan", "-c", "NL", "-p", "2027-H2").exit_code == 2


def test_scenario_compares_variants(cli: Callable) -> None:
    result = cli("scenario", "2", "--reps", "+1", "--response-scale", "0.5", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [v["name"] for v in data["variants"]] == ["reps +1", "response x0.5"]
    assert data["variants"][1]["difference"]["revenue"] < 0
    shown = cli("scenario", "2", "--reps", "+1")
    assert "difference from the base" in shown.output
    assert cli("scenario", "2").exit_code == 2  # no variant: a usage error


def test_the_report_renders_in_a_real_browser_without_errors(cli: Callable, tmp_path: Path) -> None:
    activity = write(
        tmp_path / "activity.csv",
        "customer_id;channel;date;contacts\nC01;face_to_face;2027-08-03;2\n"
        "C02;face_to_face;2027-09-01;1\nC99;face_to_face;2027-09-01;1\n",
    )
    sales = write(
        tmp_path / "sales.csv",
        "customer_id;territory;period;value\nC01;;2027-Q3;1500,5\n;T2;2027-H2;300\n",
    )
    what_if = write(
        tmp_path / "what-if.toml",
        '[[variants]]\nname = "wider champions"\n'
        'rules = [{ rule = "champion", when = "potential_q >= 3 AND adoption = \'mid\'" }]\n',
    )
    target = tmp_path / "report.html"
    result = cli(
        "report",
        "2",
        "--out",
        str(target),
        "--reps",
        "+1",
        "--scenario",
        str(what_if),
        "--activity",
        str(activity),
        "--sales",
        str(sales),
        "--system",
        "csv",
    )
    assert result.exit_code == 0, result.output
    html = target.read_text(encoding="utf-8")
    assert "<script src=" not in html  # nothing to fetch: plotly.js is inlined
    for title in (
        "Segment sizes",
        "Migration since the previous cycle",
        "Opportunity indices",
        "Pro forma",
        "Capacity by territory",
        "Scenarios",
        "Actuals against plan",
    ):
        assert title in html
    assert "customer C99 is not a known customer" in html
    errors, plots = _open_in_chromium(target, ARTIFACTS / "report.png")
    assert errors == []
    assert plots >= 6


def _open_in_chromium(page_path: Path, screenshot: Path) -> tuple[list[str], int]:
    """Console errors and the number of drawn charts of a page in headless Chromium."""
    chromium = Path("/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        _unavailable(f"playwright is not installed: {error}")
    if not chromium.exists():
        _unavailable("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            # Offline: any request leaving the file would be an error
            page.route(
                "http*://**", lambda route: (errors.append(route.request.url), route.abort())
            )
            page.goto(page_path.as_uri())
            page.wait_for_selector(".js-plotly-plot .main-svg")
            plots = page.locator(".js-plotly-plot").count()
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return errors, plots


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


def test_a_report_of_a_saved_plan_uses_its_capacity(cli: Callable, tmp_path: Path) -> None:
    capacity = write(tmp_path / "reps.csv", "territory;reps\nT1;0,008\n")
    assert cli("strategy", "plan", "2", "--capacity", str(capacity)).exit_code == 0
    target = tmp_path / "report.html"
    result = cli("report", "2", "--plan", "1", "--out", str(target))
    assert result.exit_code == 0, result.output
    html = target.read_text(encoding="utf-8")
    assert f"Field force: {capacity}" in html
    assert "No scenarios were run" in html
    # the cycle is a draft: the report says so, and that its plan is provisional
    assert "draft (lifecycle)" in html and "cycle 2 is draft, not yet published" in html
    # the calls the store holds for 2027-H2 are the actuals the report shows
    assert "Actuals against plan" in html and "No actuals:" not in html
    wrong = cli("report", "1", "--plan", "1", "--out", str(target))
    assert wrong.exit_code == 1 and "plan 1 plans cycles 2, not cycle 1" in wrong.output
    both = cli("report", "2", "--plan", "1", "--capacity", str(capacity))
    assert both.exit_code == 2


def test_actuals_against_a_saved_plan(cli: Callable, tmp_path: Path) -> None:
    assert cli("strategy", "plan", "2").exit_code == 0
    activity = write(
        tmp_path / "activity.csv",
        "customer_id,channel,date\nC01,face_to_face,2027-08-03\nC01,face_to_face,2027-09-03\n"
        "C01,face_to_face,2027-01-03\nC99,email,2027-09-01\n",
    )
    sales = write(tmp_path / "sales.csv", "customer_id,period,value\nC01,2027-Q3,1500.5\n")
    result = cli(
        "strategy", "actuals", "1", "--activity", str(activity), "--sales", str(sales), "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    champion = next(r for r in data["segments"] if r["segment"] == "champion")
    assert champion["actual_calls"] == 2 and champion["actual_sales"] == pytest.approx(1500.5)
    planned = json.loads(cli("strategy", "plan", "2", "--dry-run", "--json").output)
    expected = next(r for r in planned["pro_forma"]["segments"] if r["segment"] == "champion")
    assert champion["planned_revenue"] == pytest.approx(expected["revenue"])
    assert {(r["row_number"], tuple(r["reasons"])) for r in data["rejected"]} == {
        (4, ("date 2027-01-03 is outside the plan's period 2027-H2",)),
        (5, ("customer C99 is not a known customer",)),
    }
    shown = cli("strategy", "actuals", "1", "--activity", str(activity))
    assert "actuals against plan" in shown.output
    assert cli("strategy", "actuals", "7", "--sales", str(sales)).exit_code == 1


def test_actuals_the_store_holds_are_loaded_like_any_metric(cli: Callable, tmp_path: Path) -> None:
    """Delivered contacts and revenue are metrics: the loader quarantines an unknown
    customer and a period that cannot be data; the plan is compared with the rest."""
    assert cli("strategy", "plan", "2").exit_code == 0
    metrics = write(
        tmp_path / "actuals.csv",
        "customer_id;therapy_area;metric;period;value\n"
        "C01;cardiology;revenue;2027-Q3;1200,5\n"
        "C01;cardiology;revenue;2027-Q4;300\n"
        "C02;cardiology;email_contacts;2027-10;4\n"
        "C01;cardiology;revenue;2027-Q1;999\n"  # H1: not this plan's period
        "C99;cardiology;revenue;2027-Q3;50\n"  # unknown: quarantined
        "C02;cardiology;revenue;2099-Q3;50\n",  # cannot be data: quarantined
    )
    loaded = cli("load", str(metrics), "--kind", "metrics", "--country", "NL", "--json")
    assert loaded.exit_code == 0, loaded.output
    (batch,) = json.loads(loaded.output)
    assert (batch["rows_loaded"], batch["rows_quarantined"]) == (4, 2)
    assert not batch["warnings"]  # the actuals' metric names are expected
    result = cli("strategy", "actuals", "1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    segments = {r["segment"]: r for r in data["segments"]}
    # C01 (champion): 2 calls in 2027-Q3 and 1,500.50 of revenue in H2, from the store
    assert segments["champion"]["actual_calls"] == 2
    assert segments["champion"]["actual_sales"] == pytest.approx(1500.5)
    assert segments["grow"]["actual_contacts"] == 4  # C02's e-mails
    assert data["rejected"] == []
    # a file replaces the stored actuals of its kind only
    sales = write(tmp_path / "sales.csv", "customer_id,period,value\nC01,2027-Q3,10\n")
    data = json.loads(cli("strategy", "actuals", "1", "--sales", str(sales), "--json").output)
    champion = next(r for r in data["segments"] if r["segment"] == "champion")
    assert (champion["actual_calls"], champion["actual_sales"]) == (2, 10)


def test_actuals_of_a_merged_customer_count_for_the_survivor(
    cli: Callable, harmonia_database: str, tmp_path: Path
) -> None:
    from helpers import query

    assert cli("strategy", "plan", "2").exit_code == 0
    ids = {
        row["source_id"]: row["customer_id"]
        for row in query(harmonia_database, "SELECT source_id, customer_id FROM crosswalk")
    }
    metrics = write(
        tmp_path / "actuals.csv",
        "customer_id;therapy_area;metric;period;value\n"
        "C01;cardiology;revenue;2027-Q3;100\nC10;cardiology;revenue;2027-Q4;50\n"
        "C10;cardiology;revenue;2027-Q3;70\n",  # the survivor's own 2027-Q3 wins
    )
    assert cli("load", str(metrics), "--kind", "metrics", "--country", "NL").exit_code == 0
    merged = cli("master", "merge", str(ids["C01"]), str(ids["C10"]))
    assert merged.exit_code == 0, merged.output
    data = json.loads(cli("strategy", "actuals", "1", "--json").output)
    champion = next(r for r in data["segments"] if r["segment"] == "champion")
    assert champion["actual_sales"] == pytest.approx(150.0)  # C10's revenue is C01's now
