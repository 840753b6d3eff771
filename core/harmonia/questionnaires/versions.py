"""Questionnaire versions: their order, which answers compare, and how a version links.

See the module documentation of :mod:`harmonia.questionnaires.model` (Versions)
for the rules; the plugin catalog checks every installed version against the
one it follows, and scoring leaves answers that do not compare unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import attrs

from harmonia.errors import Problem
from harmonia.questionnaires.model import ProfileDimension, Questionnaire


def version_key(version: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key of version strings: ``1 < 2 < 10``, ``1 < 1.1``, numbers before words."""
    parts = re.split(r"[.\-_]", version)
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts)


@attrs.frozen
class Comparability:
    """Whether answers to ``version`` score a dimension comparably, and why (not)."""

    version: str
    comparable: bool
    reason: str
    dimension: ProfileDimension | None = None


def comparable_versions(
    versions: Iterable[Questionnaire], dimension: str
) -> dict[str, Comparability]:
    """For every version: may its answers score ``dimension``, and with which definition?

    The newest version declaring the dimension is the reference. An older
    version is comparable when it is reached from the reference through the
    chain of ``previous`` links (every link installed), each reference item
    maps through that chain to an item of the older version, one to one, and
    the older version's own dimension scores exactly those items with the
    same levels (in the same order) and the same method. Its answers are then
    scored with its own definition (its option scores and bands).
    """
    by_version = {q.version: q for q in versions}
    ordered = sorted(by_version.values(), key=lambda q: version_key(q.version), reverse=True)
    reference = next((q for q in ordered if q.dimension(dimension) is not None), None)
    if reference is None:
        return {
            v: Comparability(v, False, f"no version declares dimension {dimension!r}")
            for v in by_version
        }
    result = {
        reference.version: Comparability(
            reference.version, True, "the reference version", reference.dimension(dimension)
        )
    }
    for older, verdict in _walk_back(reference, dimension, by_version):
        result[older] = verdict
    for version in by_version:
        if version not in result:
            result[version] = Comparability(
                version, False, _unlinked(by_version[version], reference, dimension)
            )
    return result


def _walk_back(
    reference: Questionnaire, dimension: str, by_version: dict[str, Questionnaire]
) -> Iterator[tuple[str, Comparability]]:
    """The verdict on each older version along the chain of ``previous`` links."""
    wanted = reference.dimension(dimension)
    assert wanted is not None
    mapping: dict[str, str | None] = {item: item for item in wanted.items}
    current, seen = reference, {reference.version}
    while current.previous is not None and current.previous.version not in seen:
        older = by_version.get(current.previous.version)
        if older is None:
            return
        seen.add(older.version)
        mapping = {
            ref: None if mine is None else current.counterpart(mine, older)
            for ref, mine in mapping.items()
        }
        reason = _incomparable(reference, wanted, older, mapping)
        own = older.dimension(dimension)
        if reason is None:
            yield (
                older.version,
                Comparability(
                    older.version, True, f"its items map to version {reference.version}'s", own
                ),
            )
        else:
            yield older.version, Comparability(older.version, False, reason)
        current = older


def _incomparable(
    reference: Questionnaire,
    wanted: ProfileDimension,
    older: Questionnaire,
    mapping: dict[str, str | None],
) -> str | None:
    """Why ``older``'s answers cannot score ``wanted`` comparably (None when they can)."""
    lost = [ref for ref, old in mapping.items() if old is None]
    if lost:
        return (
            f"item(s) {', '.join(lost)} of version {reference.version} have no counterpart "
            f"in version {older.version}"
        )
    own = older.dimension(wanted.name)
    if own is None:
        return f"version {older.version} has no dimension {wanted.name!r}"
    mapped = [old for old in mapping.values() if old is not None]
    if len(set(mapped)) != len(mapped) or set(own.items) != set(mapped):
        return (
            f"version {older.version} scores {wanted.name!r} from {', '.join(own.items)}, "
            f"not from the counterparts {', '.join(mapped)}"
        )
    if own.levels != wanted.levels:
        return f"version {older.version} has levels {list(own.levels)}, not {list(wanted.levels)}"
    if own.method != wanted.method:
        return f"version {older.version} combines by {own.method}, not {wanted.method}"
    return None


def _unlinked(version: Questionnaire, reference: Questionnaire, dimension: str) -> str:
    if version_key(version.version) > version_key(reference.version):
        return f"version {version.version} does not declare dimension {dimension!r}"
    return (
        f"version {version.version} is not linked to version {reference.version} through "
        "previous versions (or a version in between is not installed)"
    )


def version_problems(newer: Questionnaire, older: Questionnaire) -> Iterator[Problem]:
    """What is wrong with how ``newer`` maps its items to ``older``, its previous version."""
    link = newer.previous
    if link is None or link.version != older.version:
        return
    for new_id, old_id in link.items.items():
        if older.item(old_id) is None:
            yield Problem(
                f"previous.items.{new_id}",
                f"{old_id!r} is not an item of version {older.version}",
            )
    for index, item_id in enumerate(link.unmapped):
        if older.item(item_id) is None:
            yield Problem(
                f"previous.unmapped[{index}]",
                f"version {older.version} has no item {item_id!r}: nothing to unmap",
            )
    for index, item in enumerate(newer.items):
        old_id = newer.counterpart(item.id, older)
        old = older.item(old_id) if old_id else None
        if old is not None and old.type != item.type:
            how = "is mapped to" if item.id in link.items else "keeps the id of"
            yield Problem(
                f"items[{index}].type",
                f"{item.id!r} {how} version {older.version}'s {old.type} item {old.id!r} but is "
                f"a {item.type} item: list it in previous.unmapped if it is a new question",
            )
