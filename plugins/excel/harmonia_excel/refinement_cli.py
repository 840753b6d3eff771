"""``harmonia refinement workbook`` and ``harmonia refinement submit``: the XLSX round trip."""

from __future__ import annotations

import json
from pathlib import Path

import click

from harmonia import current_app


def _writer_options(cycle_id: int):
    app = current_app()
    cycle = app.refinement.cycle(cycle_id)
    policy = app.refinement.policy(cycle)
    snapshot = json.loads(cycle.snapshot)
    return app, cycle, policy, snapshot


def jobs_option(verb: str):
    return click.option(
        "--jobs",
        "-j",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help=f"Processes {verb} workbooks side by side (up to the machine's cores).",
    )


@click.command(name="workbook")
@click.argument("cycle_id", type=int)
@click.option("--territory", help="The territory (default: every territory of the cycle).")
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="The workbook (.xlsx) for one territory, or a folder for every territory's.",
)
@click.option("--system", help="The source system whose customer ids the workbook shows.")
@jobs_option("writing")
def workbook(
    cycle_id: int, territory: str | None, out: Path, system: str | None, jobs: int
) -> None:
    """Write reps' refinement workbooks: the proposal, the moves the policy allows,
    the reasons in the country's language."""

    from harmonia_excel.refinement import RefinementWorkbook, write_workbooks

    app, cycle, policy, snapshot = _writer_options(cycle_id)
    if snapshot.get("feedback_opened_at") is None or cycle.status != "feedback":
        raise click.UsageError(f"cycle {cycle_id} is {cycle.status}, not open for feedback")
    # One query for every territory's rows.
    proposal = app.refinement.proposal(cycle_id, territory, system=system)
    language = snapshot.get("country", {}).get("language", "en")
    if territory and not proposal.num_rows:
        raise click.UsageError(f"territory {territory!r} has no customer in cycle {cycle_id}")
    written = write_workbooks(
        proposal,
        lambda name: out if territory else out / f"refinement-{cycle_id}-{name}.xlsx",
        meta=RefinementWorkbook(
            cycle=cycle_id,
            territory="",
            opened_at=snapshot["feedback_opened_at"],
            system="",
            dimensions=tuple(policy.dimensions),
        ),
        orders=app.refinement.orders(cycle),
        moves=policy.moves,
        reasons=policy.every_reason(),
        language=language,
        jobs=jobs,
    )
    app.privacy.wrote("refinement workbook", written)  # an erasure names them
    for path in written[:20]:
        click.echo(f"workbook -> {path}")
    if len(written) > 20:
        click.echo(f"... {len(written)} workbooks in {out}")


@click.command(name="submit")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--as", "person", metavar="PERSON", help="Who submits (default: HARMONIA_ACTOR).")
@click.option("--json", "as_json", is_flag=True, help="Print the requests as JSON.")
@jobs_option("reading")
def submit(files: tuple[Path, ...], person: str | None, as_json: bool, jobs: int) -> None:
    """Read filled refinement workbooks back: each changed cell is a request, checked
    against the policy; a workbook of another round or territory is refused whole,
    and then nothing of any file given is submitted."""
    from harmonia import InputError
    from harmonia_excel.refinement import read_workbooks

    app = current_app()
    person = person or app.actor
    # Every file is read and checked before any is submitted: one wrong workbook
    # in a folder of them leaves the store as it was.
    read = []
    for path, (meta, requests) in zip(files, read_workbooks(files, jobs), strict=True):
        try:
            app.refinement.check_round(meta.cycle, meta.opened_at, meta.territory, person)
        except InputError as error:
            raise InputError(error.what, where=str(path), fix=error.fix) from None
        read.append((path, meta, requests))
    everything = []
    for path, meta, requests in read:
        for request in requests:
            request["requester"] = person
        submitted = app.refinement.submit(meta.cycle, requests).requests if requests else []
        everything.extend(submitted)
        if as_json:
            continue
        counts: dict[str, int] = {}
        for request in submitted:
            counts[request["status"]] = counts.get(request["status"], 0) + 1
        shown = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        click.echo(f"{path}: {len(requests)} changes ({shown or 'none'})")
        for request in submitted:
            if request["status"] != "accepted":
                click.echo(f"  row {request['_row']}: {request['status']}: {request['message']}")
    if as_json:
        click.echo(json.dumps(everything, indent=2, default=str, ensure_ascii=False))
