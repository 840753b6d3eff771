"""``harmonia questionnaire workbook``: a rep profiling workbook for one territory."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click

from harmonia import current_app


@click.command(name="workbook")
@click.option(
    "--therapy-area", "-t", required=True, help="The therapy area whose questionnaire reps fill in."
)
@click.option("--country", "-c", required=True, help="The market: its language and its customers.")
@click.option("--territory", required=True, help="The sales territory: one row per customer of it.")
@click.option(
    "--out",
    "-o",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The workbook to write (.xlsx).",
)
@click.option(
    "--questionnaire",
    "questionnaire_id",
    help="The questionnaire, when the therapy area has several (default: its only one).",
)
@click.option("--version", help="The questionnaire version (default: the newest installed).")
@click.option("--language", help="The workbook's language (default: the country's).")
@click.option(
    "--system",
    help="The source system whose customer ids the workbook holds, and that its answers load "
    "back with (default: the one that knows most of the territory's customers).",
)
@click.option(
    "--type",
    "customer_type",
    type=click.Choice(["HCP", "HCO"]),
    help="Only customers of this type (default: both).",
)
@click.option(
    "--respondent",
    help="Who answers, as stored with each response (default: the territory, e.g. FR-T001).",
)
def workbook(
    therapy_area: str,
    country: str,
    territory: str,
    out: Path,
    questionnaire_id: str | None,
    version: str | None,
    language: str | None,
    system: str | None,
    customer_type: str | None,
    respondent: str | None,
) -> None:
    """Write a rep profiling workbook (XLSX) for one territory.

    \b
    harmonia questionnaire workbook --therapy-area oncology --country FR \\
        --territory FR-T001 --out FR-T001.xlsx

    One row per customer of the territory, one column per question of the
    newest questionnaire version, in the country's language: drop-downs
    offer the options, comments carry each question's help. Reps fill it
    in; the analyst loads it back with `harmonia load FILE --country XX
    --system SYSTEM` (the command is written in the workbook), and every
    answer is validated and quarantined like a CSV row.
    """
    from harmonia_excel.territory import territory_customers
    from harmonia_excel.workbook import Target, build

    if out.suffix.lower() != ".xlsx":
        raise click.BadParameter(
            f"{out.name} would be a workbook under another name: end it with .xlsx",
            param_hint="--out",
        )
    app = current_app()
    country = country.upper()
    therapy_area = therapy_area.strip().lower()
    profile = app.catalog.country_profiles.get_or_fail(country)
    questionnaire = _questionnaire(app.catalog, therapy_area, questionnaire_id, version)
    language = _language(language or profile.language, questionnaire.languages)
    found = territory_customers(app.customers, country, territory, system, customer_type)
    command = _load_command(out, country, found.system, app.database_url)
    target = Target(
        country=country,
        territory=territory,
        language=language,
        system=found.system,
        respondent=respondent or territory,
        load_command=command,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    build(questionnaire, found.customers, target).save(out)
    click.echo(
        f"{out}: {len(found.customers)} customers of {territory}, questionnaire "
        f"{questionnaire.id} version {questionnaire.version}, in {language!r}"
    )
    if found.without_id:
        click.echo(f"  {found.without_id} customers have no id in system {found.system}: left out")
    click.echo(f"load it back with: {command}")


def _questionnaire(plugins: Any, therapy_area: str, wanted: str | None, version: str | None) -> Any:
    from harmonia import NotFoundError, version_key

    candidates = [
        q
        for q in plugins.questionnaires.values()
        if q.therapy_area == therapy_area and (wanted is None or q.id == wanted)
    ]
    ids = sorted({q.id for q in candidates})
    if not candidates:
        raise NotFoundError(
            f"no questionnaire{f' {wanted!r}' if wanted else ''} for therapy area {therapy_area!r}",
            fix="install the therapy area's pack (see `harmonia questionnaire list`)",
        )
    if len(ids) > 1:
        raise click.UsageError(
            f"{therapy_area} has several questionnaires: choose one with "
            f"--questionnaire ({', '.join(ids)})"
        )
    if version is not None:
        return plugins.questionnaires.get_or_fail((ids[0], version))
    return max(candidates, key=lambda q: version_key(q.version))


def _language(wanted: str, available: tuple[str, ...]) -> str:
    """The questionnaire language closest to ``wanted`` (pt-BR -> pt), else its first one."""
    if wanted in available:
        return wanted
    primary = wanted.split("-")[0].lower()
    close = [language for language in available if language.split("-")[0].lower() == primary]
    if close:
        return close[0]
    click.secho(
        f"warning: the questionnaire has no {wanted!r} texts; the workbook is in {available[0]!r}",
        fg="yellow",
        err=True,
    )
    return available[0]


def _load_command(out: Path, country: str, system: str, database: str | None) -> str:
    parts = ["harmonia"]
    if database:
        parts += ["--database", database]
    parts += ["load", out.name, "--country", country, "--system", system]
    return shlex.join(parts)
