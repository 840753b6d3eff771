"""``harmonia plugins``: what is installed and what it provides."""

from __future__ import annotations

import click

from harmonia.cli import app, app_of_run, echo_json
from harmonia.cli.lazy import LazyGroup
from harmonia.cli.render import stdout, table


@click.group(cls=LazyGroup, invoke_without_command=True)
@click.pass_context
def plugins(ctx: click.Context) -> None:
    """Installed packs: countries, therapy areas, sources, sinks, policies.

    Alone, it lists them (as `harmonia plugins list`).
    """
    # A newcomer types `harmonia plugins` first: show the list, not a usage error.
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_packs)


@plugins.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include the built-in packs.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_packs(show_all: bool, as_json: bool) -> None:
    """List packs with their version, the hooks they implement and what they provide."""
    from rich.markup import escape

    report = app().packs.report(builtin=show_all)
    if as_json:
        echo_json(report.to_json())
        app_of_run().mark_shown(report.warnings)
        return
    records, conflicts = report.packs, report.conflicts
    rows = [
        (
            record["name"],
            f"{record['distribution']} {record['version']}",
            ", ".join(hook.removeprefix("harmonia_") for hook in record["hooks"]) or "-",
            "\n".join(f"{kind}: {', '.join(names)}" for kind, names in record["provides"].items())
            or ("[red]" + record["error"] if record["error"] else "-"),
        )
        for record in records
    ]
    if not rows:
        stdout.print(
            "No packs installed" + ("" if show_all else " (--all shows the built-ins)") + "."
        )
    else:
        stdout.print(
            table(None, ["pack", "distribution", "hooks", "provides"], rows, show_lines=True)
        )
    for conflict in conflicts:
        stdout.print(f"[red]conflict: {escape(conflict)}")
    if report.warnings:
        # The whole of every problem: elsewhere the CLI only points here.
        stdout.print(f"\n[yellow]Problems with installed packs ({len(report.warnings)}):")
        for warning in report.warnings:
            stdout.print(f"[yellow]- {escape(warning)}")
    app_of_run().mark_shown(report.warnings)
