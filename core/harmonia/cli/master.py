"""``harmonia master``: one customer per person across sources (match, review, merge)."""

from __future__ import annotations

from pathlib import Path

import click

from harmonia.cli import app, echo_json
from harmonia.cli.lazy import LazyGroup
from harmonia.cli.render import stdout, table

_json = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@click.group(cls=LazyGroup)
def master() -> None:
    """Master data: merge the customers that are one person, and undo it.

    A merged id redirects to the survivor: cycles, explanations and
    refinements that name it still find the customer; every source id stays
    in the crosswalk; an unmerge restores both customers exactly.
    """


@master.command("merge")
@click.argument("survivor_id", type=int)
@click.argument("merged_id", type=int)
@click.option("--reason", default="", help="Why (kept in the history).")
@_json
def merge(survivor_id: int, merged_id: int, reason: str, as_json: bool) -> None:
    """Merge MERGED_ID into SURVIVOR_ID (harmonia ids); SURVIVOR_ID stays."""
    result = app().master.merge(survivor_id, merged_id, reason=reason)
    if as_json:
        echo_json(result.to_json())
        return
    stdout.print(f"Merged {result.merged_id} into {result.survivor_id} (merge {result.merge_id}).")


@master.command("unmerge")
@click.argument("merged_id", type=int)
@_json
def unmerge(merged_id: int, as_json: bool) -> None:
    """Undo the merge of MERGED_ID: both customers are again as they were."""
    result = app().master.unmerge(merged_id)
    if as_json:
        echo_json(result.to_json())
        return
    stdout.print(
        f"Unmerged {result.merged_id} from {result.survivor_id} (merge {result.merge_id} undone)."
    )


@master.command("history")
@click.argument("customer_id", type=int)
@_json
def history(customer_id: int, as_json: bool) -> None:
    """The merges a customer took part in, and which were undone."""
    merges = app().master.history(customer_id)
    if as_json:
        echo_json([m.model_dump(exclude={"undo"}) for m in merges])
        return
    if not merges:
        stdout.print(f"Customer {customer_id} was never merged.")
        return
    shown = [
        (m.id, m.merged_id, m.survivor_id, m.actor, m.at, m.undone_at or "", m.reason)
        for m in merges
    ]
    stdout.print(table(None, ["merge", "merged", "into", "by", "at", "undone", "reason"], shown))


@master.command("match")
@click.option("--country", "-c", required=True, help="Country code, e.g. FR.")
@click.option(
    "--merge",
    "apply",
    is_flag=True,
    help="Merge the pairs at or above the country's merge threshold (else only queue them).",
)
@_json
def match(country: str, apply: bool, as_json: bool) -> None:
    """Find customers that are one person across sources (splink on DuckDB).

    Pairs between the country's review and merge thresholds
    (parameters.match_review_threshold and match_merge_threshold in its
    profile) go to the review queue; with --merge, pairs above the merge
    threshold are merged. Rejected pairs are never proposed again.
    """
    from harmonia.cli.render import stages

    with stages(f"Matching customers of {country.upper()}") as stage:
        result = app().master.match(country, apply=apply, on_stage=stage)
    if as_json:
        echo_json(result.to_json())
        return
    stdout.print(
        table(
            f"Match {result.country}",
            [
                "customers",
                "pairs scored",
                "to merge",
                "to review",
                "refused (identifiers)",
                "outranked (reviewed)",
                "merged",
                "seconds",
            ],
            [
                (
                    result.customers,
                    result.compared,
                    result.to_merge,
                    result.to_review,
                    result.conflicting,
                    result.outranked,
                    result.merged,
                    result.seconds,
                )
            ],
        )
    )
    if result.prior:
        stdout.print(
            f"[dim]Prior (two random customers are one person): {result.prior:.3g}, "
            f"{result.prior_from}."
        )
    if result.to_merge and not apply:
        stdout.print("[dim]Run again with --merge to merge the pairs above the merge threshold.")
    if result.to_review:
        stdout.print("[dim]Decide the grey zone: `harmonia master review list` or `review export`.")


@master.group("review", cls=LazyGroup)
def review() -> None:
    """The review queue: pairs in the grey zone, accepted (merged) or rejected by a steward."""


@review.command("list")
@click.option("--country", "-c", help="Only this country.")
@click.option("--limit", "-n", type=int, default=50, show_default=True, help="0: all.")
@_json
def review_list(country: str | None, limit: int, as_json: bool) -> None:
    """Pending pairs, most probable first, both customers side by side."""
    pairs = app().master.pending(country=country, limit=limit or None)
    if as_json:
        echo_json([p.to_json() for p in pairs])
        return
    if not pairs:
        stdout.print("No pair waits for review.")
        return
    rows = [
        (
            p.pair_id,
            f"{p.probability:.3f}",
            _side(p.left),
            _side(p.right),
        )
        for p in pairs
    ]
    stdout.print(table(None, ["pair", "probability", "left", "right"], rows, show_lines=True))


def _side(customer: dict) -> str:
    name = " ".join(filter(None, (customer.get("first_name"), customer.get("last_name"))))
    place = " ".join(filter(None, (customer.get("postal_code"), customer.get("city"))))
    extra = [customer.get(k) for k in ("specialty", "address", "phone", "email")]
    return "\n".join(filter(None, [f"{customer['id']} {name}", place, *extra]))


@review.command("accept")
@click.argument("pair_ids", nargs=-1, type=int, required=True, metavar="PAIR...")
@_json
def review_accept(pair_ids: tuple[int, ...], as_json: bool) -> None:
    """Accept pairs: each is merged into its lower (older) harmonia id."""
    _decided(app().master.decide([(i, "accept") for i in pair_ids]), as_json)


@review.command("reject")
@click.argument("pair_ids", nargs=-1, type=int, required=True, metavar="PAIR...")
@_json
def review_reject(pair_ids: tuple[int, ...], as_json: bool) -> None:
    """Reject pairs: two people; never proposed again."""
    _decided(app().master.decide([(i, "reject") for i in pair_ids]), as_json)


@review.command("export")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--country", "-c", help="Only this country.")
def review_export(path: Path, country: str | None) -> None:
    """Write the pending pairs to an XLSX workbook with a decision column to fill."""
    count = app().master.export_review(path, country=country)
    stdout.print(f"Wrote {count} pending pairs to {path}; fill 'decision', then `review import`.")


@review.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@_json
def review_import(path: Path, as_json: bool) -> None:
    """Apply the decisions of a filled review workbook (all of them, or none)."""
    _decided(app().master.import_review(path), as_json)


def _decided(result, as_json: bool) -> None:
    if as_json:
        echo_json(result.to_json())
        return
    stdout.print(
        f"Accepted and merged {len(result.accepted)} pairs, rejected {len(result.rejected)}."
    )


@master.command("golden")
@click.argument("customer_id", type=int, required=False)
@click.option("--country", "-c", help="Recompute every golden record of this country.")
@_json
def golden(customer_id: int | None, country: str | None, as_json: bool) -> None:
    """A merged customer's golden record: each value with its source and batch.

    With --country, recompute the country's golden records (after its
    survivorship rules changed); merges recompute their own.
    """
    if country:
        written = app().master.golden(country=country)
        stdout.print(f"Wrote {written} golden values for {country.upper()}.")
        return
    if customer_id is None:
        raise click.UsageError("give a customer id, or --country to recompute")
    values = app().master.golden_record(customer_id)
    if as_json:
        echo_json(values)
        return
    if not values:
        stdout.print(f"Customer {customer_id} has no golden record: it was never merged.")
        return
    rows = [(v["attribute"], v["value"], v["system"], v["batch_id"], v["rule"]) for v in values]
    stdout.print(table(None, ["attribute", "value", "source", "batch", "rule"], rows))


@master.command("quality")
@click.option("--country", "-c", help="Only this country.")
@_json
def quality(country: str | None, as_json: bool) -> None:
    """Data quality per source and country: completeness, validity, duplicates, conflicts."""
    report = app().master.quality(country)
    if as_json:
        echo_json(report.to_json())
        return
    if not report.sources:
        stdout.print("No customers loaded.")
        return
    attributes = [k for k in report.sources[0] if k not in _NOT_SHARES]
    stdout.print(
        table(
            "Completeness and validity per source",
            ["country", "source", "records", *attributes, "quarantined", "invalid id"],
            [
                (
                    r["country"],
                    r["system"],
                    r["records"],
                    *(f"{100 * r[a]:.0f}%" for a in attributes),
                    r["quarantined"],
                    r["invalid_identifier"],
                )
                for r in report.sources
            ],
        )
    )
    if report.duplicates:
        stdout.print(
            table(
                "Duplicates",
                ["country", "merged customers", "pairs merged", "to review", "rejected"],
                [
                    (
                        d["country"],
                        d["customers_merged"],
                        d["pairs_merged"],
                        d["to_review"],
                        d["rejected"],
                    )
                    for d in report.duplicates
                ],
            )
        )
    if report.conflicts:
        stdout.print(
            table(
                "Conflicts between sources (merged customers)",
                ["country", "attribute", "merged customers", "sources disagree"],
                [
                    (c["country"], c["attribute"], c["merged_customers"], c["conflicting"])
                    for c in report.conflicts
                ],
            )
        )
    if report.conflict_sources:
        stdout.print(
            table(
                "Who gave the disagreeing values (source and load batch)",
                ["country", "attribute", "source", "batch", "values", "kept in golden"],
                [
                    (
                        c["country"],
                        c["attribute"],
                        c["system"],
                        c["batch_id"],
                        c["values_given"],
                        c["kept"],
                    )
                    for c in report.conflict_sources
                ],
            )
        )


_NOT_SHARES = {"country", "system", "records", "quarantined", "invalid_identifier"}
