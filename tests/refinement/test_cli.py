"""The refinement from the command line: a field cycle from draft to published."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import field_market

from harmonia.plugin.catalog import Catalog


def _drafted(cli: Callable[..., Any], tmp_path: Path) -> str:
    """The Belgian universe and field force loaded and its 2027-H1 cycle run: its id."""
    data = field_market.write_universe(tmp_path / "data")
    field_market.write_field_force(tmp_path / "force")
    assert cli("load", str(data), "--country", "BE").exit_code == 0
    assert cli("load", str(tmp_path / "force"), "--country", "BE").exit_code == 0
    ran = cli(
        "cycle", "run", "-c", "BE", "-t", "cardiology", "-p", "2027-H1",
        "--out", str(tmp_path / "out"), "--json",
    )  # fmt: skip
    return str(json.loads(ran.output)["cycle"]["id"])


def test_a_cycle_is_refined_and_published_from_the_command_line(
    harmonia_cli: Callable[..., Any], field: Catalog, tmp_path: Path, wide_terminal: None
) -> None:
    cli = harmonia_cli
    cycle = _drafted(cli, tmp_path)
    early = cli("cycle", "publish", cycle)
    assert early.exit_code == 1 and "not published before its feedback" in early.output
    assert "draft -> feedback" in cli("cycle", "open-feedback", cycle).output
    asked = cli(
        "refinement", "request", cycle, "C02", "--segment", "champion",
        "--reason", "new information", "--as", "rita", "--json",
    )  # fmt: skip
    assert asked.exit_code == 0, asked.output
    (request,) = json.loads(asked.output)
    assert request["status"] == "pending"
    other = cli(
        "refinement", "request", cycle, "C06", "--segment", "develop", "--reason", "access",
        "--as", "rita",
    )  # fmt: skip
    assert "not yours (T1)" in other.output and "rejected" in other.output
    busy = cli(
        "refinement", "request", cycle, "C01", "--goal", "900", "--reason", "access",
        "--as", "rita",
    )  # fmt: skip
    assert busy.exit_code == 0 and "rejected" in busy.output
    # 11 planned, C02's pending move to champion 3 more (it is counted while open): 14 - 6 + 900
    assert "calls planned for territory T1 would be 908 against a capacity of 880" in " ".join(
        busy.output.split()
    )
    goal = cli(
        "refinement", "request", cycle, "C03", "--goal", "2", "--reason", "access", "--as", "dora",
    )  # fmt: skip
    assert goal.exit_code == 0 and "accepted" in goal.output
    twice = cli(
        "refinement", "request", cycle, "C04", "--goal", "2", "--tier", "A", "--reason", "access",
    )  # fmt: skip
    assert twice.exit_code == 2 and "exactly one of" in twice.output
    kept = cli(
        "refinement", "request", cycle, "C05", "--keep", "T1", "--reason", "access",
        "--as", "rita", "--json",
    )  # fmt: skip
    (keep,) = json.loads(kept.output)
    assert (keep["action"], keep["old_value"], keep["territory"], keep["status"]) == (
        "keep", "T2", "T1", "pending",
    )  # fmt: skip
    queue = cli("refinement", "queue", cycle, "--as", "dora")
    assert "T1" in queue.output and "new information" in queue.output
    refused = cli("refinement", "decide", cycle, str(request["id"]), "--accept", "--as", "tom")
    assert refused.exit_code == 1 and "tom is not a manager" in refused.output
    decided = cli("refinement", "decide", cycle, str(request["id"]), "--accept", "--as", "dora")
    assert decided.exit_code == 0 and "accepted by dora" in decided.output
    for step in ("close-feedback", "approve"):
        assert cli("cycle", step, cycle).exit_code == 0
    published = cli("cycle", "publish", cycle, "--out", str(tmp_path / "final"), "--json")
    assert json.loads(published.output)["refined"] == 2  # C02's segment, C03's goal
    history = cli(
        "refinement", "history", "--customer", "C02", "--system", "csv",
        "--out", str(tmp_path / "history.csv"), "--json",
    )  # fmt: skip
    (entry,) = json.loads(history.output)
    assert (entry["old_value"], entry["new_value"], entry["decided_by"]) == (
        "grow",
        "champion",
        "dora",
    )
    assert "champion" in (tmp_path / "history.csv").read_text(encoding="utf-8")
    analytics = cli("refinement", "analytics", cycle)
    # C02's segment; C03's goal changes the work, not the customer's result
    assert analytics.exit_code == 0 and "1 of 10 customers changed" in analytics.output
    assert "1 call goals changed: +1 calls planned" in analytics.output
    moves = cli("cycle", "history", cycle)
    assert "approved" in moves.output and "published" in moves.output
    late = cli(
        "refinement", "request", cycle, "C01", "--segment", "grow", "--reason", "access",
        "--as", "rita",
    )  # fmt: skip
    assert late.exit_code == 1 and "is published" in late.output


def test_bad_input_from_the_command_line_is_refused_saying_why_and_kept(
    harmonia_cli: Callable[..., Any],
    field: Catalog,
    harmonia_database: str,
    tmp_path: Path,
    wide_terminal: None,
) -> None:
    """Issue 12's bad input through the command line: a move the policy forbids, a
    reason not in the list, a decision by someone who is not the rep's manager, a
    request outside the window (a workbook of another territory: the excel plugin's
    tests; a request on a published cycle: the test above). Each says what is wrong;
    nothing is applied and every request is kept with its reason."""
    import datetime as dt

    import sqlalchemy as sa

    cli = harmonia_cli
    cycle = _drafted(cli, tmp_path)
    assert cli("cycle", "open-feedback", cycle).exit_code == 0

    def ask(customer: str, *how: str) -> str:
        asked = cli("refinement", "request", cycle, customer, *how, "--as", "rita")
        assert asked.exit_code == 0, asked.output
        return " ".join(asked.output.split())

    jump = ask("C02", "--segment", "monitor", "--reason", "access")
    assert "rejected" in jump and "a move from grow to monitor is 3 steps" in jump
    assert "the policy allows one step up or down" in jump
    unlisted = ask("C03", "--segment", "grow", "--reason", "because")
    assert "rejected" in unlisted and "reason 'because' is not one of the policy's" in unlisted
    assert "new information; access; data error" in unlisted
    waiting = cli(
        "refinement", "request", cycle, "C04", "--tier", "A", "--reason", "data error",
        "--as", "rita", "--json",
    )  # fmt: skip
    (pending,) = json.loads(waiting.output)
    assert pending["status"] == "pending"
    refused = cli("refinement", "decide", cycle, str(pending["id"]), "--accept", "--as", "tom")
    assert refused.exit_code == 1 and "tom is not a manager" in refused.output
    # The round opened 15 days ago: the policy's 14-day window is over.
    opened = (dt.datetime.now(dt.UTC) - dt.timedelta(days=15)).isoformat()
    engine = sa.create_engine(harmonia_database)
    with engine.begin() as connection:
        snapshot = json.loads(
            connection.execute(sa.text(f"SELECT snapshot FROM cycle WHERE id = {cycle}")).scalar()
        )
        snapshot["feedback_opened_at"] = opened
        connection.execute(
            sa.text(f"UPDATE cycle SET snapshot = :snapshot WHERE id = {cycle}"),
            {"snapshot": json.dumps(snapshot)},
        )
    engine.dispose()
    late = ask("C01", "--segment", "grow", "--reason", "access")
    assert "rejected" in late and "the refinement window closed on" in late
    assert "14 days after feedback opened" in late
    kept = json.loads(cli("refinement", "list", cycle, "--json").output)
    assert [(r["new_value"], r["status"], r["rule"]) for r in kept] == [
        ("monitor", "rejected", "policy.moves"),
        ("grow", "rejected", "policy.reason"),
        ("A", "pending", "manager"),  # tom's decision applied nothing
        ("grow", "rejected", "policy.window"),
    ]
