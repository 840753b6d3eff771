"""``harmonia questionnaire export | import``: FHIR R4 interchange of questionnaires.

``export`` writes an installed questionnaire as a FHIR Questionnaire (or as
the TOML a pack ships), or the stored responses to it as a Bundle of
QuestionnaireResponses. ``import`` reads a FHIR Questionnaire (a Bundle of
them) and writes the harmonia TOML definition a therapy-area pack ships, or
only validates it. Both join the ``questionnaire`` group of
:mod:`harmonia.cli.questionnaire`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import click

from harmonia.cli import app, echo_json
from harmonia.cli.render import escape, stdout
from harmonia.errors import ConfigError

_OUT = click.Path(dir_okay=False, path_type=Path)


# --- export ----------------------------------------------------------------------------


@click.command("export")
@click.argument("questionnaire_id", metavar="ID")
@click.option("--version", "-v", help="The version to export (default: the newest).")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["fhir", "toml"]),
    default="fhir",
    show_default=True,
    help="FHIR R4 JSON, or the harmonia TOML a pack ships.",
)
@click.option("--out", "-o", type=_OUT, help="The file to write (default: standard output).")
@click.option(
    "--base-url",
    default="https://harmonia.dev/fhir/Questionnaire/",  # harmonia.fhir.extensions.QUESTIONNAIRE_BASE
    show_default=True,
    help="Canonical URL base: the questionnaire's url is this + its id.",
)
@click.option(
    "--responses",
    is_flag=True,
    help="Export the stored responses to the questionnaire (all its versions, or --version) "
    "as a FHIR Bundle of QuestionnaireResponses instead.",
)
@click.option(
    "--customer",
    "customers",
    multiple=True,
    metavar="ID",
    help="With --responses: only this customer (its id in --system; repeatable).",
)
@click.option("--territory", help="With --responses: only customers of this territory.")
@click.option("--country", "-c", help="With --responses: only customers of this country.")
@click.option(
    "--system",
    help="With --responses: the source system whose customer ids to write (default: the one "
    "each response was loaded with).",
)
def export(
    questionnaire_id: str,
    version: str | None,
    format_: str,
    out: Path | None,
    base_url: str,
    responses: bool,
    customers: tuple[str, ...],
    territory: str | None,
    country: str | None,
    system: str | None,
) -> None:
    """Export a questionnaire as FHIR R4 JSON (or TOML), or its responses as FHIR.

    \b
    harmonia questionnaire export oncology-profile --out oncology-profile.json
    harmonia questionnaire export oncology-profile --version 1 --format toml
    harmonia questionnaire export oncology-profile --responses --customer C0000001

    Scores travel in the itemWeight extension, translations in the
    translation extension, skip logic as enableWhen; the therapy area and the
    profile dimensions in harmonia's own extensions, so that importing the
    file gives back the same questionnaire.
    """
    if responses:
        if format_ != "fhir":
            raise ConfigError("responses export as FHIR only", where="--format")
        filters = {"territory": territory, "country": country, "system": system}
        _export_responses(questionnaire_id, version, customers, filters, out, base_url)
        return
    if customers or territory or country or system:
        raise click.UsageError("--customer, --territory, --country and --system need --responses")
    chosen, text = app().questionnaires.export(
        questionnaire_id, version, format=format_, base_url=base_url
    )
    _write(out, text)
    _done(out, f"{chosen.id} version {chosen.version}")


def _export_responses(
    questionnaire_id: str,
    version: str | None,
    customers: tuple[str, ...],
    filters: dict[str, str | None],
    out: Path | None,
    base_url: str,
) -> None:
    count, text = app().questionnaires.export_responses(
        questionnaire_id,
        version,
        customers=customers,
        territory=filters["territory"],
        country=filters["country"],
        system=filters["system"],
        base_url=base_url,
    )
    if not count:
        asked = ", ".join(f"{k} {v}" for k, v in filters.items() if v)
        if customers:
            asked = ", ".join(filter(None, [f"customer {', '.join(customers)}", asked]))
        click.secho(
            f"warning: no stored responses to {questionnaire_id}"
            + (f" for {asked}" if asked else "")
            + " (check the ids: source ids of --system, or harmonia ids)",
            fg="yellow",
            err=True,
        )
    _write(out, text)
    _done(out, f"{count} responses to {questionnaire_id}")


def _write(out: Path | None, text: str) -> None:
    if out is None:
        click.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


def _done(out: Path | None, what: str) -> None:
    if out is not None:  # on stderr: stdout may be the document itself
        click.echo(f"wrote {what} to {out}", err=True)


# --- import ----------------------------------------------------------------------------


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--therapy-area", "-t", help="The therapy area (when the file does not name one).")
@click.option(
    "--dimensions",
    "spec_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A TOML file with what FHIR does not say: [[dimensions]] (items named by linkId or "
    "harmonia id, bands), and optionally id, therapy_area, version, languages.",
)
@click.option("--id", "questionnaire_id", help="The harmonia id (default: from the url).")
@click.option("--version", "-v", help="The version (default: the file's, else 1).")
@click.option(
    "--language",
    "-l",
    "languages",
    multiple=True,
    help="Keep these languages, the first as the base (default: the file's language and "
    "every translation in it). Repeatable.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write <id>-v<version>.toml here, ready for a pack; without it, only validate.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def import_(
    file: Path,
    therapy_area: str | None,
    spec_file: Path | None,
    questionnaire_id: str | None,
    version: str | None,
    languages: tuple[str, ...],
    out: Path | None,
    as_json: bool,
) -> None:
    """Import a FHIR R4 Questionnaire (or a Bundle of them) as a harmonia definition.

    \b
    harmonia questionnaire import phq-9.json --therapy-area psychiatry \\
        --dimensions phq-9-dimensions.toml --out my_pack/questionnaires

    Reads items, options and their scores (itemWeight, ordinalValue),
    translations, skip logic, help, units and bounds. A questionnaire exported
    by harmonia carries everything else; for one written elsewhere, give the
    therapy area and the profile dimensions. Every problem is listed at once;
    what could not be carried over is reported as a note.
    """
    results = app().questionnaires.import_fhir(
        file,
        spec_file=spec_file,
        therapy_area=therapy_area,
        questionnaire_id=questionnaire_id,
        version=version,
        languages=languages,
        out=out,
    )
    if as_json:
        echo_json([attrs.asdict(result) for result in results])
        return
    for result in results:
        _render_import(attrs.asdict(result))


def _render_import(result: dict[str, Any]) -> None:
    what = (
        f"{result['id']} version {result['version']} ({result['therapy_area']}): "
        f"{result['items']} items, languages {', '.join(result['languages'])}, dimensions "
        f"{', '.join(result['dimensions']) or 'none'}"
    )
    where = f" -> {result['file']}" if result["file"] else " (valid; --out DIR writes it)"
    stdout.print(f"[green]ok[/] {escape(what)}{escape(where)}")
    for note in result["notes"]:
        stdout.print(f"  [yellow]note[/] {escape(note)}")
