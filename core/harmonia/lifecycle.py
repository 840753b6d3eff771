"""A cycle's lifecycle: the states it moves through and the moves allowed.

::

    running ──> draft ──> feedback ──> review ──> approved ──> published
       │          │   (field refinement opted in)                 ▲
       │          └──────────────── (opted out) ───────────────────┘
       └──> failed                      any of draft … published ──> superseded

``running``: the engine is computing it. ``draft``: its result is stored and
nobody has looked at it yet. ``feedback``: reps refine the frozen snapshot
within the market's policy. ``review``: reps are done; managers decide what
is still open. ``approved``: every request has a decision or an expiry.
``published``: the final segmentation went out and the next cycle's
pull-through starts from it. ``failed``: the run died (or was killed: the
store's sweep marks it). ``superseded``: a newer cycle of the same market,
area and period replaced it.

This module is the one place that knows the moves; the engine, the store's
sweep and the refinement area ask it. It imports nothing of harmonia but
its errors.
"""

from __future__ import annotations

from harmonia.errors import ConfigError

RUNNING = "running"
DRAFT = "draft"
FEEDBACK = "feedback"
REVIEW = "review"
APPROVED = "approved"
PUBLISHED = "published"
FAILED = "failed"
SUPERSEDED = "superseded"

STATES = (RUNNING, DRAFT, FEEDBACK, REVIEW, APPROVED, PUBLISHED, FAILED, SUPERSEDED)

#: States whose stored result is whole: diff, explain, plans and pull-through read them.
COMPLETED = (DRAFT, FEEDBACK, REVIEW, APPROVED, PUBLISHED)

#: States in which a cycle still changes (a newer run of its scope supersedes it).
OPEN = (DRAFT, FEEDBACK, REVIEW, APPROVED)

#: (from, to) -> the command that makes the move, as users type it.
MOVES: dict[tuple[str, str], str] = {
    (RUNNING, DRAFT): "harmonia cycle run",
    (RUNNING, FAILED): "harmonia cycle run (it died)",
    (DRAFT, FEEDBACK): "harmonia cycle open-feedback",
    (FEEDBACK, REVIEW): "harmonia cycle close-feedback",
    (REVIEW, APPROVED): "harmonia cycle approve",
    (APPROVED, PUBLISHED): "harmonia cycle publish",
    (DRAFT, PUBLISHED): "harmonia cycle publish",
    **{(state, SUPERSEDED): "a newer cycle of the same scope" for state in COMPLETED},
}

#: Moves only markets that opted in to field refinement make, and the one only the others do.
FIELD_ONLY = {(DRAFT, FEEDBACK), (FEEDBACK, REVIEW), (REVIEW, APPROVED), (APPROVED, PUBLISHED)}
OPT_OUT_ONLY = {(DRAFT, PUBLISHED)}


def next_states(current: str, *, field_refinement: bool) -> list[str]:
    """The states a cycle in ``current`` may move to, for a market that opted in or not."""
    return [
        to
        for (start, to) in MOVES
        if start == current and allowed(current, to, field_refinement=field_refinement)
    ]


def allowed(current: str, target: str, *, field_refinement: bool) -> bool:
    move = (current, target)
    if move not in MOVES:
        return False
    if move in FIELD_ONLY and not field_refinement:
        return False
    return not (move in OPT_OUT_ONLY and field_refinement)


def check_move(
    current: str, target: str, *, field_refinement: bool, cycle: int | str = "?"
) -> None:
    """Refuse a move the lifecycle does not allow, saying what the cycle can do instead."""
    if allowed(current, target, field_refinement=field_refinement):
        return
    where = f"cycle {cycle}"
    possible = next_states(current, field_refinement=field_refinement)
    nexts = [MOVES[(current, state)] for state in possible if state != SUPERSEDED]
    if (current, target) in FIELD_ONLY and not field_refinement:
        raise ConfigError(
            f"the market does not involve the field (field_refinement = 'opt-out'): "
            f"a cycle goes from draft straight to published, not {current} -> {target}",
            where=where,
            fix="publish it with `harmonia cycle publish`",
        )
    if (current, target) in OPT_OUT_ONLY:
        raise ConfigError(
            "the market refines its cycles in the field: a draft is not published before "
            "its feedback and review",
            where=where,
            fix="open feedback (`harmonia cycle open-feedback`), then close it, approve and publish",
        )
    raise ConfigError(
        f"a {current} cycle cannot become {target}",
        where=where,
        fix=f"next: {', '.join(nexts)}" if nexts else f"a {current} cycle does not change any more",
    )
