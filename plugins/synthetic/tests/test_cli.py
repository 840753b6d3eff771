"""``harmonia synthetic write`` through click's runner, on a bare CLI group."""

from __future__ import annotations

import csv
import importlib

import click
import pytest
from click.testing import CliRunner

import harmonia
import harmonia_synthetic
from harmonia import RECORD_KINDS, SourceRequest

# They run the command line: out of the fast lane (tox -e fast), like harmonia's own.
pytestmark = pytest.mark.cli


@pytest.fixture
def cli() -> click.Group:
    (record,) = harmonia_synthetic.harmonia_commands()
    module, _, attribute = record.path.partition(":")
    command = getattr(importlib.import_module(module), attribute)
    return click.Group(name="harmonia", commands={record.name: command})


def run(cli: click.Group, *args: str) -> click.testing.Result:
    result = CliRunner().invoke(cli, ["synthetic", "write", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def read_csv(path, delimiter):
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def test_help_explains_every_option(cli):
    runner = CliRunner()
    assert "Synthetic customer universes" in runner.invoke(cli, ["synthetic", "--help"]).output
    output = runner.invoke(cli, ["synthetic", "write", "--help"]).output
    for option in (
        "--customers",
        "--seed",
        "--country",
        "--therapy-area",
        "--period",
        "--coverage",
    ):
        assert option in output
    for option in ("--error-rate", "--out", "--delimiter", "--decimal", "--chunk-size"):
        assert option in output


def test_french_files_use_semicolons_and_decimal_commas(cli, tmp_path):
    result = run(cli, "--customers", "700", "--chunk-size", "300", "--out", str(tmp_path))
    assert "customers.csv (700 rows)" in result.output
    customers = read_csv(tmp_path / "customers.csv", ";")
    assert customers[0] == list(RECORD_KINDS["customers"].column_names)  # no _row
    assert len(customers) == 701
    assert [row[0] for row in customers[1:4]] == ["C0000001", "C0000002", "C0000003"]
    metrics = read_csv(tmp_path / "metrics.csv", ";")
    assert metrics[0] == list(RECORD_KINDS["metrics"].column_names)
    values = [row[4] for row in metrics[1:]]
    assert any("," in value for value in values) and not any("." in value for value in values)
    assert "0" in values  # whole numbers stay whole: 0, not 0,0
    assert f"metrics.csv ({len(metrics) - 1:,} rows)" in result.output
    assert not list(tmp_path.glob(".synthetic-*"))  # the scratch directory is gone


def test_other_markets_use_commas_and_points(cli, tmp_path):
    run(cli, "--customers", "200", "--country", "us", "--out", str(tmp_path))
    metrics = read_csv(tmp_path / "metrics.csv", ",")
    assert any("." in row[4] for row in metrics[1:])
    assert {row[1] for row in read_csv(tmp_path / "customers.csv", ",")[1:]} == {"US"}


def test_same_seed_gives_byte_identical_files(cli, tmp_path):
    for name, chunk in (("a", "1000"), ("b", "150")):
        run(
            cli,
            "--customers",
            "900",
            "--seed",
            "9",
            "--chunk-size",
            chunk,
            "--out",
            str(tmp_path / name),
        )
    for kind in ("customers", "metrics"):
        assert (tmp_path / "a" / f"{kind}.csv").read_bytes() == (
            tmp_path / "b" / f"{kind}.csv"
        ).read_bytes()


def test_responses_come_from_the_installed_questionnaire(
    cli, tmp_path, monkeypatch, questionnaire, rpps
):
    def source_request(options, country):
        return SourceRequest(
            options=options,
            country=country,
            questionnaires=(questionnaire,),
            identifier_schemes=(rpps,),
        )

    monkeypatch.setattr(harmonia, "source_request", source_request, raising=False)
    result = run(
        cli,
        "--customers",
        "400",
        "--coverage",
        "0.5",
        "--error-rate",
        "0.02",
        "--out",
        str(tmp_path),
    )
    responses = read_csv(tmp_path / "responses.csv", ";")
    assert responses[0] == list(RECORD_KINDS["responses"].column_names)
    assert f"responses.csv ({len(responses) - 1:,} rows)" in result.output
    customers = read_csv(tmp_path / "customers.csv", ";")
    assert {row[9] for row in customers[1:]} >= {"RPPS"}
    shares = [row[6] for row in responses[1:] if row[5] == "share_immunotherapy"]
    assert any("," in share for share in shares) and not any("." in share for share in shares)


def test_explicit_conventions_and_bad_ones(cli, tmp_path):
    run(cli, "--customers", "50", "--delimiter", "|", "--decimal", ".", "--out", str(tmp_path))
    assert read_csv(tmp_path / "customers.csv", "|")[0][0] == "customer_id"
    result = CliRunner().invoke(
        cli,
        [
            "synthetic",
            "write",
            "--customers",
            "5",
            "--delimiter",
            ",",
            "--decimal",
            ",",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code != 0 and "decimal mark" in result.output
    result = CliRunner().invoke(
        cli, ["synthetic", "write", "--period", "2027-Q9", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0 and "is not a period" in result.output
