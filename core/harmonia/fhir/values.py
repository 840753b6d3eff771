"""Ids and answer values between FHIR (and spreadsheets) and harmonia's canonical text.

Both directions of both interchange formats go through these few functions,
so that an item id or a number means the same whichever way it came in.
"""

from __future__ import annotations

import datetime as dt
import re

from harmonia.files.values import canonical_number, canonical_value

__all__ = [
    "canonical_number",
    "canonical_timestamp",
    "canonical_value",
    "canonical_version",
    "fhir_timestamp",
    "item_name",
    "questionnaire_slug",
]
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_NOT_SLUG = re.compile(r"[^a-z0-9_.-]+")


def item_name(link_id: str) -> str:
    """The harmonia item (or group) id for a FHIR ``linkId``.

    harmonia ids are names usable in rules (``[a-z][a-z0-9_]*``); a linkId may
    be anything (``/44250-9``). The mapping is deterministic, so that responses
    to the questionnaire map the same way: ``/44250-9`` -> ``q_44250_9``, and a
    linkId that already is a name (every linkId harmonia exports) stays as is.
    """
    name = _NOT_NAME.sub("_", str(link_id).lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"q_{name}" if name else "q"
    return name


def questionnaire_slug(reference: str) -> str:
    """The harmonia questionnaire id for a FHIR canonical URL, reference or id.

    ``https://harmonia.dev/fhir/Questionnaire/oncology-profile|2`` ->
    ``oncology-profile``; ``http://loinc.org/q/44249-1`` -> ``44249-1``.
    """
    last = str(reference).split("|", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    slug = _NOT_SLUG.sub("-", last.lower()).strip("-_.")
    return slug or "questionnaire"


def canonical_version(reference: str) -> str | None:
    """The version of a canonical reference (``url|2`` -> ``2``), if it has one."""
    return str(reference).partition("|")[2] or None


def canonical_timestamp(value: str) -> str:
    """A FHIR date or dateTime as the loader reads it: local time, no zone.

    Why: harmonia keeps response times without a zone (a date is what matters
    for a response's age). A time with an offset is converted to UTC, which
    is what :func:`fhir_timestamp` marks on export, so a round trip is exact.
    """
    text = str(value).strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text  # the loader quarantines it with its own reason
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    if len(text) <= 10:
        return parsed.date().isoformat()
    return parsed.replace(microsecond=0).isoformat()


def fhir_timestamp(stored: str) -> str:
    """A stored ``answered_at`` as a FHIR dateTime: the date alone at midnight, else UTC."""
    text = str(stored).strip()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    if parsed.time() == dt.time(0, 0) and parsed.tzinfo is None:
        return parsed.date().isoformat()
    if parsed.tzinfo is None:
        return parsed.replace(microsecond=0).isoformat() + "Z"
    return parsed.isoformat()
