"""``harmonia rules``: the installed rule sets, checked and shown."""

from __future__ import annotations

from pathlib import Path

import click

from harmonia.cli import app, echo_json
from harmonia.cli.lazy import LazyGroup
from harmonia.cli.render import stdout, table


@click.group(cls=LazyGroup)
def rules() -> None:
    """Segmentation rule sets of the installed therapy areas."""


@rules.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_rule_sets(as_json: bool) -> None:
    """List rule sets with their therapy area, version, dimensions and pack."""
    rule_sets = app().packs.rule_sets()
    records = [
        {
            "name": r.name,
            "therapy_area": r.therapy_area,
            "version": r.version,
            "features": [f.name for f in r.features],
            "dimensions": {name: list(d.segments) for name, d in r.dimensions.items()},
            "pack": str(r.provenance) if r.provenance else None,
        }
        for r in rule_sets
    ]
    if as_json:
        echo_json(records)
        return
    rows = [
        (
            r["name"],
            r["therapy_area"],
            r["version"],
            "\n".join(f"{name}: {', '.join(s)}" for name, s in r["dimensions"].items()),
            r["pack"],
        )
        for r in records
    ]
    stdout.print(
        table(None, ["rule set", "area", "version", "dimensions", "pack"], rows, show_lines=True)
    )


@rules.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Show a rule set: its features and each dimension's rules in order."""
    rule_set = app().packs.rule_set(name)
    stdout.print(
        f"[bold]{rule_set.name}[/] v{rule_set.version} ({rule_set.therapy_area}) {rule_set.description}"
    )
    features = [
        (
            f.name,
            f.kind,
            f.type,
            getattr(f, "metric", None)
            or getattr(f, "column", None)
            or f"{getattr(f, 'questionnaire', '')}/{getattr(f, 'dimension', '')}",
            f.description,
        )
        for f in rule_set.features
    ]
    stdout.print(table("features", ["name", "kind", "type", "from", "description"], features))
    for dimension_name, dimension in rule_set.dimensions.items():
        rows = [
            (rule.id, rule.when, rule.segment) for _, rule in dimension.all_rules(dimension_name)
        ]
        rows.append(("fallback", "(nothing above matched)", dimension.fallback))
        stdout.print(
            table(
                f"{dimension_name}: {', '.join(dimension.outcomes)}",
                ["rule", "when", "segment"],
                rows,
            )
        )


@rules.command("check")
@click.argument("files", nargs=-1, type=click.Path(exists=True))
def check(files: tuple[str, ...]) -> None:
    """Check rule set files (or, without files, every installed rule set).

    Reports every problem with its path, e.g. `segment.rules[2].when`.
    """
    from harmonia.errors import DefinitionError

    packs = app().packs
    if not files:
        count = len(packs.rule_sets())
        rejected = packs.rejected_rule_sets()
        for problem in rejected:
            stdout.print(f"[red]{problem}")
        stdout.print(f"{count} rule set(s) valid, {len(rejected)} rejected.")
        if rejected:
            raise SystemExit(1)
        return
    try:
        checks = packs.check_rule_set_files([Path(file) for file in files])
    except DefinitionError as error:
        raise click.ClickException(error.render()) from None
    for check in checks:
        for problem in check.problems:
            stdout.print(f"[red]{check.name}: {problem}")
        if not check.problems:
            stdout.print(f"{check.name}: valid")
    if any(check.problems for check in checks):
        raise SystemExit(1)
