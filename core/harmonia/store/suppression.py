"""The suppression list: erased people must not come back with the next load.

An erasure (GDPR Art. 17) removes every id the sources knew a person by, so
a reload of an old file would create them again as a new customer. The
erasure therefore keeps, per source id (system and id) and per national
identifier (scheme and value), a keyed hash: HMAC-SHA256 under the
workspace key, a random secret the workspace makes once. The list names
nobody (a hash cannot be turned back, nor guessed from a list of ids without
the key); the loader hashes incoming rows the same way, in SQL over the
whole batch, and quarantines those it finds.

The key lives in the workspace's own database (``workspace_secret``), so
every load on every engine can check it without configuration: copy the
suppression list elsewhere without it and it reveals no one.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from hashlib import sha256

from sqlalchemy import bindparam, text
from sqlmodel import Session

from harmonia.sql import hmac_sql

#: The ``workspace_secret`` row holding the suppression list's key.
KEY_NAME = "suppression"

#: Why the loader refuses a row of an erased person.
REASON = "erased person; GDPR Art. 17"


def source_text(system: str, source_id: str) -> str:
    """What is hashed for a source id (:func:`source_sql` says it in SQL)."""
    return f"source|{system}|{source_id}"


def identifier_text(scheme: str, value: str) -> str:
    """What is hashed for a national identifier (:func:`identifier_sql` in SQL)."""
    return f"identifier|{scheme}|{value}"


def source_sql(system: str, column: str) -> str:
    """SQL: :func:`source_text` of the ids in ``column`` for ``system`` (a SQL literal)."""
    return f"('source|' || {system} || '|' || {column})"


def identifier_sql(scheme: str, value: str) -> str:
    """SQL: :func:`identifier_text` of the columns ``scheme`` and ``value``."""
    return f"('identifier|' || {scheme} || '|' || {value})"


def workspace_key(session: Session, *, create: bool = False) -> bytes | None:
    """The workspace key; made at random with ``create`` when there is none yet."""
    connection = session.connection()
    found = connection.execute(
        text("SELECT value FROM workspace_secret WHERE name = :n"), {"n": KEY_NAME}
    ).scalar()
    if found is None and create:
        found = secrets.token_hex(32)
        connection.execute(
            text("INSERT INTO workspace_secret (name, value) VALUES (:n, :v)"),
            {"n": KEY_NAME, "v": found},
        )
    return bytes.fromhex(found) if found is not None else None


def suppress(
    session: Session,
    source_ids: Iterable[tuple[str, str]],
    identifiers: Iterable[tuple[str, str]],
) -> int:
    """Add an erased person's source ids and identifiers to the list; returns how many are new."""
    key = workspace_key(session, create=True)
    assert key is not None
    hashed = {_hash(key, source_text(*pair)): "source" for pair in source_ids}
    hashed |= {_hash(key, identifier_text(*pair)): "identifier" for pair in identifiers}
    connection = session.connection()
    known = {
        row[0]
        for row in connection.execute(
            text("SELECT hash FROM suppression WHERE hash IN :hashes").bindparams(
                bindparam("hashes", expanding=True)
            ),
            {"hashes": sorted(hashed) or [""]},
        )
    }
    new = [{"h": h, "k": kind} for h, kind in sorted(hashed.items()) if h not in known]
    if new:
        connection.execute(
            text("INSERT INTO suppression (hash, kind, at) VALUES (:h, :k, CURRENT_TIMESTAMP)"),
            new,
        )
    return len(new)


def suppressed_sql(key: bytes, hashed: str) -> str:
    """SQL (DuckDB): whether the text ``hashed`` is on the list, staged as ``suppressed``."""
    return f"{hmac_sql(hashed, key)} IN (SELECT hash FROM suppressed)"


def _hash(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), sha256).hexdigest()
