"""Nothing implausible is accepted in silence (issue 17, point 2): what cannot be data
is quarantined with its reason, what is unexpected loads with a warning by name and
count. Through the CLI as a user types it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import write

from harmonia.definitions import MetricBounds, RuleSet
from harmonia.ingest.plausibility import FUTURE_HORIZON_MONTHS, Expectations
from harmonia.plugin.catalog import Catalog

CUSTOMERS = """\
customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;id_scheme;id_value
C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;;
C02;NL;HCP;Bram;Jansen;cardiology;1012;Amsterdam;T1;;
"""


@pytest.fixture
def customers(harmonia_cli: Callable, tiny: Catalog, tmp_path: Path) -> Callable:
    loaded = harmonia_cli("load", str(write(tmp_path / "customers.csv", CUSTOMERS)), "-c", "NL")
    assert loaded.exit_code == 0, loaded.output
    return harmonia_cli


def reasons_by_row(cli: Callable) -> dict[int, list[str]]:
    return {
        row["row"]: row["reasons"] for row in json.loads(cli("quarantine", "list", "--json").stdout)
    }


def test_metrics_that_cannot_be_data_are_quarantined_with_their_reason(
    customers: Callable, tmp_path: Path, wide_terminal: None
) -> None:
    path = write(
        tmp_path / "metrics.csv",
        """\
        customer_id;therapy_area;metric;period;value
        C01;cardiology;potential;2026-H1;12,5
        C01;cardiology;potential;2026-H2;-3
        C02;cardiology;potential;2099-Q4;5
        C02;cardiology;trx;2026-Q1;1e309
        C02;cardiology;trx;2026-Q2;-1e400
        C02;cardiology;trx;2026-Q3;-2
        """.replace("        ", ""),
    )
    result = customers("load", str(path), "-c", "NL", "--json")
    assert result.exit_code == 0, result.output
    (summary,) = json.loads(result.stdout)
    assert (summary["rows_loaded"], summary["rows_quarantined"]) == (2, 4)
    assert reasons_by_row(customers) == {
        3: ["value '-3' is below the minimum 0 that tiny-core declares for metric 'potential'"],
        4: [
            "period '2099-Q4' is in the future: data describes periods that start by "
            f"{Expectations().last_month_text} ({FUTURE_HORIZON_MONTHS} months from today)"
        ],
        5: ["value '1e309' is out of range: no metric is that large"],
        6: ["value '-1e400' is out of range: no metric is that large"],
    }  # trx has no declared bounds: -2 loads (row 7)


def test_names_no_installed_pack_declares_load_with_a_warning_by_name_and_count(
    customers: Callable, tmp_path: Path, wide_terminal: None
) -> None:
    path = write(
        tmp_path / "metrics.csv",
        """\
        customer_id;therapy_area;metric;period;value
        C01;cardiology;potential;2026-H1;1
        C01;cardiology;nosuchmetric;2026-H1;1
        C02;cardiology;nosuchmetric;2026-H1;2
        C02;oncology;potential;2026-H1;3
        """.replace("        ", ""),
    )
    as_json = customers("load", str(path), "-c", "NL", "--json")
    (summary,) = json.loads(as_json.stdout)
    assert summary["rows_loaded"] == 4
    assert summary["warnings"] == [
        "therapy area 'oncology': 1 row loaded, but no installed pack segments it "
        "(installed: cardiology); install its pack, or check the spelling",
        "metric 'nosuchmetric' of cardiology: 2 rows loaded, but no installed rule set reads "
        "it (cardiology reads: calls, potential, trx); check the spelling",
    ]
    # Loaded again, rows in another order (the same content is skipped as already
    # loaded, from any path): still said.
    header, *rows = path.read_text().splitlines(keepends=True)
    again = write(tmp_path / "metrics-again.csv", header + "".join(reversed(rows)))
    table = customers("load", str(again), "-c", "NL")
    assert "metric 'nosuchmetric' of cardiology: 2 rows loaded" in table.output
    assert "therapy area 'oncology': 1 row loaded" in table.output


def test_answers_dated_ahead_are_quarantined_or_warned_about(
    customers: Callable, tmp_path: Path, wide_terminal: None
) -> None:
    soon = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    path = write(
        tmp_path / "responses.csv",
        f"""\
        customer_id;questionnaire;version;respondent;answered_at;question;answer
        C01;tiny-profile;1;rep1;2026-05-10;usage;lots
        C02;tiny-profile;1;rep1;2099-06-01;usage;some
        C01;tiny-profile;1;rep2;{soon};usage;some
        """.replace("        ", ""),
    )
    result = customers("load", str(path), "-c", "NL", "--json")
    (summary,) = json.loads(result.stdout)
    assert (summary["rows_loaded"], summary["rows_quarantined"]) == (2, 1)
    (reasons,) = reasons_by_row(customers).values()
    assert reasons[0] == (
        f"answered_at '2099-06-01' is in the future: answers are dated "
        f"{FUTURE_HORIZON_MONTHS} months from today at the latest"
    )
    assert summary["warnings"] == [
        f"1 answer dated after today ({dt.date.today().isoformat()}), the latest {soon}: "
        "check the dates (an answer describes what was said)"
    ]


def test_a_pack_declares_metric_bounds_and_nonsense_bounds_are_a_definition_problem(
    tiny: Catalog,
) -> None:
    (rule_set,) = tiny.rule_sets.values()
    assert rule_set.metrics == (
        MetricBounds("potential", min=0),
        MetricBounds("trx", description="prescriptions written in the period"),
    )
    assert rule_set.metric_names == ("calls", "potential", "trx")
    expected = Expectations.of(tiny)
    assert expected.bounds[("cardiology", "potential")].declared_by == "tiny-core"
    import attrs

    wrong: RuleSet = attrs.evolve(
        rule_set, metrics=(MetricBounds("share", min=1, max=0), MetricBounds("share"))
    )
    problems = [str(problem) for problem in wrong.problems()]
    assert "metrics[0]: min 1 is above max 0" in problems
    assert any("metrics" in problem and "share" in problem for problem in problems[:-1])


@pytest.mark.parametrize(
    ("today", "last"),
    [(dt.date(2026, 12, 7), "2027-12"), (dt.date(2027, 1, 31), "2028-01")],
)
def test_the_horizon_counts_months_from_today(today: dt.date, last: str) -> None:
    expected = Expectations(today=today)
    assert expected.last_month_text == last
    assert expected.latest_moment.startswith(f"TIMESTAMP '{last}-")


def test_metrics_are_checked_where_no_installed_pack_declares_bounds() -> None:
    import pyarrow as pa

    from harmonia.compute import duckdb_connection
    from harmonia.ingest.checks import MACROS, CheckContext
    from harmonia.ingest.metrics import metrics_sql

    raw = pa.table(
        {
            "_row": [2, 3],
            "customer_id": ["C01", "C01"],
            "therapy_area": ["cardiology", "cardiology"],
            "metric": ["potential", "potential"],
            "period": ["2026-H1", "2099"],
            "value": ["-1", "1"],
        }
    )
    duck = duckdb_connection()
    duck.execute(MACROS)
    duck.register("raw", raw)
    checked = duck.sql(metrics_sql(CheckContext(countries=frozenset({"NL"})))).fetchall()
    reasons = [row[-1] for row in sorted(checked)]
    assert reasons[0] == [] and "is in the future" in reasons[1][0]
