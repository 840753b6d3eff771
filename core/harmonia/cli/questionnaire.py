"""``harmonia questionnaire``: the profiling questionnaires packs provide.

``list``, ``show`` and ``validate`` live here; the FHIR interchange commands
(``export``, ``import``) live in :mod:`harmonia.cli.questionnaire_interchange`,
imported when one runs. The operations are ``app().questionnaires``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harmonia.cli import app, echo_json
from harmonia.cli.lazy import LazyGroup
from harmonia.cli.render import escape, stdout, table
from harmonia.errors import ConfigError

if TYPE_CHECKING:
    from harmonia.questionnaires import Item, ProfileDimension, Questionnaire


@click.group(
    cls=LazyGroup,
    lazy={
        "export": "harmonia.cli.questionnaire_interchange:export",
        "import": "harmonia.cli.questionnaire_interchange:import_",
    },
)
def questionnaire() -> None:
    """Profiling questionnaires: their definitions, scoring and interchange."""


# --- list ----------------------------------------------------------------------------


@questionnaire.command("list")
@click.option("--therapy-area", "-t", help="Only this therapy area's questionnaires.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_questionnaires(therapy_area: str | None, as_json: bool) -> None:
    """List installed questionnaire versions: languages, items, dimensions and pack."""
    records = [
        _summary(q)
        for q in app().questionnaires.versions()
        if therapy_area is None or q.therapy_area == therapy_area
    ]
    if as_json:
        echo_json(records)
        return
    if not records:
        stdout.print("No questionnaires installed: therapy-area packs provide them.")
        return
    rows = [
        (
            r["id"],
            r["version"],
            r["therapy_area"],
            ", ".join(r["languages"]),
            r["items"],
            ", ".join(r["dimensions"]) or "-",
            r["pack"] or "-",
        )
        for r in records
    ]
    columns = ["id", "version", "therapy area", "languages", "items", "dimensions", "pack"]
    stdout.print(table(None, columns, [tuple(map(_plain, row)) for row in rows]))


def _summary(q: Questionnaire) -> dict[str, Any]:
    provenance = q.provenance
    return {
        "id": q.id,
        "version": q.version,
        "therapy_area": q.therapy_area,
        "title": q.title.get(q.languages[0]) if q.languages else None,
        "languages": list(q.languages),
        "items": len(q.items),
        "dimensions": [d.name for d in q.dimensions],
        "previous": q.previous.version if q.previous else None,
        "pack": provenance.pack if provenance else None,
        "distribution": provenance.distribution if provenance else None,
        "pack_version": provenance.version if provenance else None,
    }


def _plain(value: Any) -> Any:
    return escape(value) if isinstance(value, str) else value


# --- show ----------------------------------------------------------------------------


@questionnaire.command("show")
@click.argument("questionnaire_id", metavar="ID")
@click.option("--version", "-v", "version", help="The version to show (default: the newest).")
@click.option("--language", "-l", help="The language of the texts (default: the first declared).")
@click.option("--json", "as_json", is_flag=True, help="Print the definition as JSON.")
def show(questionnaire_id: str, version: str | None, language: str | None, as_json: bool) -> None:
    """Show a questionnaire: items, options and scores, skip logic, dimensions and bands.

    \b
    harmonia questionnaire show oncology-profile --language fr
    """
    from harmonia.definitions import unstructure

    questionnaires = app().questionnaires
    chosen = questionnaires.resolve(questionnaire_id, version)
    language = _language(chosen, language)
    verdicts = questionnaires.comparability(chosen)
    if as_json:
        echo_json({**unstructure(chosen), "comparability": verdicts})
        return
    _render_header(chosen, language)
    _render_items(chosen, language)
    for dimension in chosen.dimensions:
        _render_dimension(chosen, dimension, verdicts.get(dimension.name, {}))


def _language(q: Questionnaire, language: str | None) -> str:
    if language is None:
        return q.languages[0]
    if language not in q.languages:
        raise ConfigError(
            f"{q.id} {q.version} is not written in {language!r} (languages: "
            f"{', '.join(q.languages)})",
            where="--language",
        )
    return language


def _render_header(q: Questionnaire, language: str) -> None:
    from harmonia.questionnaires import text_in

    pack = f", pack {q.provenance}" if q.provenance else ""
    previous = f", follows version {q.previous.version}" if q.previous else ""
    stdout.print(f"[bold]{escape(text_in(q.title, language) or q.id)}[/]")
    stdout.print(
        f"{escape(q.id)} version {escape(q.version)}, therapy area {escape(q.therapy_area)}, "
        f"languages {', '.join(q.languages)}{previous}{escape(pack)}"
    )
    if q.description:
        stdout.print(f"[dim]{escape(q.description)}[/]")


def _render_items(q: Questionnaire, language: str) -> None:
    from harmonia.questionnaires import text_in

    titles = {group.id: text_in(group.title, language) for group in q.groups}
    rows = []
    for number, item in enumerate(q.items, start=1):
        question = escape(text_in(item.text, language) or "")
        if item.help:
            question += f"\n[dim]{escape(text_in(item.help, language) or '')}[/]"
        rows.append(
            (
                str(number),
                escape(item.id),
                escape(titles.get(item.group or "", "") or "-"),
                item.type + ("\nrequired" if item.required else ""),
                question,
                _answers(item, language),
                escape(_skip_logic(item)),
            )
        )
    columns = ["#", "item", "group", "type", "question", "answers (score)", "asked when"]
    stdout.print(table(None, columns, rows, show_lines=True))


def _answers(item: Item, language: str) -> str:
    from harmonia.questionnaires import NUMERIC_TYPES, text_in

    if item.options:
        return "\n".join(
            f"{escape(o.code)}: {escape(text_in(o.text, language) or '')}"
            + ("" if o.score is None else f" ({o.score:g})")
            for o in item.options
        )
    if item.type in NUMERIC_TYPES:
        low = "" if item.min is None else f"{item.min:g}"
        high = "" if item.max is None else f"{item.max:g}"
        unit = item.unit_text(language)
        span = f"{low} to {high}" if low and high else (f">= {low}" if low else f"<= {high}")
        shown = "any number" if not (low or high) else span
        return escape(shown + (f" {unit}" if unit else "") + " (the number)")
    if item.type == "boolean":
        return "true (1), false (0)"
    return {"date": "a date (YYYY-MM-DD)", "text": "free text"}.get(item.type, item.type)


def _skip_logic(item: Item) -> str:
    from harmonia.questionnaires import describe_conditions

    return describe_conditions(item) if item.enable_when else "always"


def _render_dimension(
    q: Questionnaire, dimension: ProfileDimension, verdicts: dict[str, dict[str, Any]]
) -> None:
    stdout.print(
        f"\n[bold]dimension {escape(dimension.name)}[/]: {dimension.method} of "
        f"{escape(', '.join(dimension.items))}; missing answers: {dimension.missing}"
    )
    if dimension.description:
        stdout.print(f"[dim]{escape(dimension.description)}[/]")
    rows = []
    for band in dimension.band_ranges():
        if band.high is None:
            scores = f">= {band.low:g}"
        else:
            scores = f"{band.low:g} to {'' if band.high_inclusive else 'below '}{band.high:g}"
        rows.append((escape(band.level), scores))
    stdout.print(table(None, ["level", "scores"], rows))
    for version, verdict in verdicts.items():
        if version == q.version:
            continue
        state = "comparable" if verdict["comparable"] else "[yellow]not comparable[/]"
        stdout.print(
            f"  answers to version {escape(version)}: {state} ({escape(verdict['reason'])})"
        )


# --- validate ------------------------------------------------------------------------


@questionnaire.command("validate")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
@click.pass_context
def validate(ctx: click.Context, files: tuple[Path, ...], as_json: bool) -> None:
    """Check questionnaire definition files; every problem is shown with its path.

    A version whose previous version is among the files (or installed) is
    also checked against it. Exits with status 1 when any file has problems.

    \b
    harmonia questionnaire validate questionnaires/*.toml
    """
    verdicts = app().questionnaires.validate(files)
    if as_json:
        echo_json({"ok": all(v["ok"] for v in verdicts), "files": verdicts})
    else:
        for verdict in verdicts:
            _render_verdict(verdict)
    if not all(verdict["ok"] for verdict in verdicts):
        ctx.exit(1)


def _render_verdict(verdict: dict[str, Any]) -> None:
    where = escape(verdict["file"])
    if verdict["ok"]:
        found = ", ".join(
            f"{q['id']} {q['version']} ({q['items']} items)" for q in verdict["questionnaires"]
        )
        stdout.print(f"[green]ok[/] {where}: {escape(found)}")
        return
    count = len(verdict["problems"])
    stdout.print(f"[red]{count} problem{'s' if count != 1 else ''}[/] in {where}:")
    for problem in verdict["problems"]:
        path = f"{problem['path']}: " if problem["path"] else ""
        stdout.print(f"  - {escape(path + problem['message'])}")


# --- coverage (shown by `harmonia cycle run` and `cycle show`) ---------------------------


def render_coverage(rows: list[dict[str, Any]]) -> None:
    """A cycle's profile coverage (see :func:`harmonia.questionnaires.coverage.coverage_rows`)."""
    if not rows:
        return
    names = sorted({row["questionnaire"] for row in rows})
    title = f"profile coverage ({', '.join(names)}) of {rows[0]['customers']:,} customers"
    columns = ["dimension", "scored", "incomplete", "not comparable", "stale only", "unanswered"]
    keys = ["scored", "incomplete", "not_comparable", "stale_only", "unanswered"]
    shown = [
        (
            escape(
                row["dimension"]
                if len(names) == 1
                else f"{row['questionnaire']}/{row['dimension']}"
            ),
            *(row[key] for key in keys),
        )
        for row in rows
    ]
    stdout.print(table(escape(title), columns, shown))
