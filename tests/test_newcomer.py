"""Small things a newcomer trips on (issue 17, point 8), each through the CLI as typed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import tiny_market

from harmonia.plugin.catalog import Catalog
from harmonia.store.facts import copy_store

README = Path(__file__).parents[1] / "README.md"


@pytest.fixture
def cli_universe(
    harmonia_cli: Callable,
    tiny: Catalog,
    harmonia_database: str,
    sqlite_h1: Path,
    wide_terminal: None,
) -> Callable:
    """``harmonia_cli`` on a SQLite database holding the tiny market's 2027-H1 data."""
    copy_store(sqlite_h1, Path(harmonia_database.removeprefix("sqlite:///")))
    return harmonia_cli


def test_plugins_alone_lists_the_packs(harmonia_cli: Callable, tiny: Catalog) -> None:
    alone = harmonia_cli("plugins")
    assert alone.exit_code == 0, alone.output
    assert alone.output == harmonia_cli("plugins", "list").output
    assert "tiny" in alone.output and "test-tiny 1.0" in alone.output


def test_the_readme_example_harmonia_toml_is_what_the_workspace_reads(
    harmonia_cli: Callable, tiny: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = README.read_text().split("### harmonia.toml", 1)[1]
    example = re.search(r"```toml\n(.*?)```", section, re.S)
    assert example is not None, "the README's harmonia.toml section has no example"
    (tmp_path / "harmonia.toml").write_text(example.group(1))
    (tmp_path / "market").mkdir()
    monkeypatch.chdir(tmp_path / "market")  # found in a parent folder too
    from harmonia import workspace

    found = workspace.find()
    assert found.database and found.engine == "database" and found.output == "out"
    assert [sink.name for sink in found.sinks] == ["csv", "xlsx"]
    assert found.sinks[0].options == {"delimiter": ";", "name": "fr-onco"}
    # A required pack that is not installed at that version: every command says so.
    (tmp_path / "harmonia.toml").write_text(
        example.group(1).replace('"harmonia-oncology"', '"harmonia-oncology>=99"')
    )
    refused = harmonia_cli("plugins")
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert "harmonia.toml" in refused.output and "harmonia-oncology>=99" in refused.output


@pytest.mark.parametrize("args", [("plugins",), ("cycle", "list"), ("load", "--help")])
def test_a_malformed_harmonia_toml_is_one_clear_error_not_a_traceback(
    harmonia_cli: Callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    (tmp_path / "harmonia.toml").write_text('database = "market.db"\nengine = \n')
    monkeypatch.chdir(tmp_path)
    result = harmonia_cli(*args)
    assert result.exit_code == 1 and result.exception is not None
    assert isinstance(result.exception, SystemExit), result.exception  # not a traceback
    assert f"{tmp_path / 'harmonia.toml'}: 1 problem" in result.output
    assert "line 2, column 10: not valid TOML" in result.output
    assert "fix: correct the TOML syntax" in result.output


def test_explain_labels_each_dimension_and_marks_missing_value_defaults(
    cli_universe: Callable, tmp_path: Path
) -> None:
    """C09 has no potential: its potential quartile 1 is the rule set's default, not data."""
    run = cli_universe(
        "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1", "--out", str(tmp_path)
    )
    assert run.exit_code == 0, run.output
    text = cli_universe("explain", "--cycle", "1", "--customer", "C09")
    assert text.exit_code == 0, text.output
    assert re.search(r"potential_q\s*│\s*1 \(missing: default\)", text.output), text.output
    assert re.search(r"trx_q\s*│\s*2\s*│", text.output)  # data, unmarked
    assert "tier: A (rule top_half)" in text.output
    assert re.search(r"rule\s*┃\s*when\s*┃\s*tier\s*┃", text.output)  # not "segment"
    assert "segment: maintain (fallback)" in text.output
    document = json.loads(
        cli_universe("explain", "--cycle", "1", "--customer", "C09", "--json").stdout
    )
    assert document["inputs"]["potential_q"] == 1 and "(missing)" not in document["inputs"]
    assert document["inputs_from_missing_policy"] == ["potential_q"]
    assert [(d["dimension"], d["label"]) for d in document["dimensions"]] == [
        ("segment", "segment"),
        ("tier", "tier"),
    ]
    assert document["engine_and_python_agree"] is True
    # A customer with a potential of its own has nothing marked.
    c01 = json.loads(cli_universe("explain", "--cycle", "1", "--customer", "C01", "--json").stdout)
    assert c01["inputs_from_missing_policy"] == []


def test_cycle_diff_compares_tiers_too(cli_universe: Callable, tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    for period in ("2027-H1", "2027-H2"):
        if period == "2027-H2":
            cli_universe("load", str(tiny_market.DATA / "h2"), "--country", "NL")
        ran = cli_universe(
            "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", period, "--out", out
        )
        assert ran.exit_code == 0, ran.output
    tiers = cli_universe("cycle", "diff", "1", "2", "--dimension", "tier")
    assert tiers.exit_code == 0, tiers.output
    assert "tiers: cycle 1 (rows) -> cycle 2 (columns)" in " ".join(tiers.output.split())
    document = json.loads(cli_universe("cycle", "diff", "1", "2", "--json").stdout)
    assert document["dimension"] == "segment"  # the default, as before
    assert set(document["dimensions"]) == {"segment", "tier"}  # tiny-core has no needs
    tier = document["dimensions"]["tier"]
    assert set(tier["before_segments"]) | set(tier["after_segments"]) <= {"A", "B", "C"}
    assert sum(n for row in tier["counts"].values() for n in row.values()) == 10
    assert tier["stayed"] + tier["moved"] == 10
    assert "also: --dimension tier" in cli_universe("cycle", "diff", "1", "2").output
    needs = cli_universe("cycle", "diff", "1", "2", "-d", "needs")
    assert needs.exit_code != 0 and "Traceback" not in needs.output
    assert "do not both assign a needs" in needs.output


def test_long_jobs_log_their_progress_when_stderr_is_not_a_terminal(
    harmonia_cli: Callable, tiny: Catalog
) -> None:
    """A pipe, a file, a scheduler's log: timestamped lines instead of a live bar, with
    the rows each step reaches; stdout stays the JSON."""
    loaded = harmonia_cli(
        "load", str(tiny_market.DATA / "h1" / "customers.csv"), "-c", "NL", "--json",
        env={"HARMONIA_PROGRESS": "auto"},
    )  # fmt: skip
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.stdout)[0]["rows_loaded"] == 10
    lines = loaded.stderr.splitlines()
    assert any(
        re.fullmatch(r"\d\d:\d\d:\d\d loading 1/1: customers\.csv: checking rows 1 to 10", line)
        for line in lines
    ), lines
    quiet = harmonia_cli(
        "load", str(tiny_market.DATA / "h1" / "metrics.csv"), "-c", "NL",
        env={"HARMONIA_PROGRESS": "off"},
    )  # fmt: skip
    assert quiet.exit_code == 0 and "checking rows" not in quiet.stderr
