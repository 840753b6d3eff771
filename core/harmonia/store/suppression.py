"""The suppression list: erased people must not come back with the next load.

An erasure (GDPR Art. 17) removes every id the sources knew a person by, so
a reload of an old file would create them again as a new customer. The
erasure therefore keeps, per source id (system and id) and per national
identifier (scheme and value), a keyed hash: HMAC-SHA256 under the
workspace key, a random secret the workspace makes once. The list names
nobody (a hash cannot be turned back, nor guessed from a list of ids without
the key); the loader hashes incoming rows the same way, in SQL over the
whole batch, and quarantines those it finds.

The key lives **outside** the database it protects, in a key file (0600, in
a 0700 folder; see :func:`key_path`): ``HARMONIA_KEY_FILE`` names it, else it
is ``secrets/<store file>.key`` beside a SQLite store, or
``~/.config/harmonia/secrets/<host>_<port>_<database>.key`` (under
``XDG_CONFIG_HOME`` when set) for PostgreSQL. The database keeps only the
key's fingerprint (``workspace_secret``, name ``suppression_key_id``: an
HMAC of a constant under the key), so a copy of the store without the file,
or with another key, refuses to check the list and says why, instead of
letting erased people back or hashing under a new key. A store from before
kept the key itself (name ``suppression``): its first use moves it to the
file, leaves the fingerprint, and says so.

Rotation: a keyed hash cannot be re-keyed without the ids it hides, and an
erased person's ids are gone; so the key is moved, never changed in place:
move the file (keep its 0600 mode) and point ``HARMONIA_KEY_FILE`` at it.
Keep it with the store's backups: a store restored without it cannot check
the list (it says so) until the file is back.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable
from hashlib import sha256
from pathlib import Path

from sqlalchemy import bindparam, text
from sqlmodel import Session

from harmonia.errors import ConfigError
from harmonia.sql import hmac_sql, literal
from harmonia.store.database import Database

#: The ``workspace_secret`` row that held the key itself, before it moved to a file.
KEY_NAME = "suppression"
#: The ``workspace_secret`` row holding the key's fingerprint (never the key).
KEY_ID_NAME = "suppression_key_id"
#: Names the key file, instead of the default place (see :func:`key_path`).
KEY_FILE_VARIABLE = "HARMONIA_KEY_FILE"

_log = logging.getLogger(__name__)

#: Runs a query and returns its rows (the caller's connection and transaction).
Read = Callable[[str], list[tuple]]
#: Runs a statement in the caller's transaction.
Write = Callable[[str], object]

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


def key_path(database: Database) -> Path:
    """Where the store's suppression key file is (see the module's docstring)."""
    given = os.environ.get(KEY_FILE_VARIABLE)
    if given:
        return Path(given).expanduser()
    store = database.sqlite_path
    if store is not None:
        store = store.resolve()
        return store.parent / "secrets" / f"{store.name}.key"
    url = database.parsed
    name = re.sub(
        r"[^A-Za-z0-9.-]", "_", f"{url.host or 'local'}_{url.port or 5432}_{url.database}"
    )
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "harmonia" / "secrets" / f"{name}.key"


def fingerprint(key: bytes) -> str:
    """What the database keeps of the key: identifies it, reveals nothing of it."""
    return hmac.new(key, b"harmonia suppression key id", sha256).hexdigest()[:32]


def workspace_key(
    database: Database, read: Read, write: Write, *, create: bool = False
) -> bytes | None:
    """The suppression list's key, from its file; ``None`` when the store has none yet
    (made at random with ``create``). ``read`` and ``write`` run SQL in the caller's
    transaction: the fingerprint (or the move of an older store's key) commits with it.

    Refuses, saying why, a store whose key file is missing or holds another key.
    """
    rows = dict(
        read(
            f"SELECT name, value FROM workspace_secret WHERE name IN "
            f"({literal(KEY_NAME)}, {literal(KEY_ID_NAME)})"
        )
    )
    path = key_path(database)
    if KEY_NAME in rows:  # a store from before: its first use moves the key out
        key = bytes.fromhex(rows[KEY_NAME])
        _write_key(path, key)
        write(f"DELETE FROM workspace_secret WHERE name = {literal(KEY_NAME)}")
        write(
            "INSERT INTO workspace_secret (name, value) "
            f"VALUES ({literal(KEY_ID_NAME)}, {literal(fingerprint(key))})"
        )
        _log.warning(
            "moved the suppression list's key out of the database into %s (mode 0600): "
            "keep it with the store's backups; a copy of the store without it cannot check "
            "erased people",
            path,
        )
        return key
    if KEY_ID_NAME in rows:
        key = _read_key(path, database)
        if fingerprint(key) != rows[KEY_ID_NAME]:
            raise ConfigError(
                f"the key file {path} holds another key than the one this store's suppression "
                "list was hashed under",
                where=database.display_url,
                fix=f"put this store's key file back (or point {KEY_FILE_VARIABLE} at it); "
                "with another key, erased people would not be recognised",
            )
        return key
    if not create:
        return None
    key = _read_key(path, database) if path.is_file() else secrets.token_bytes(32)
    _write_key(path, key)
    write(
        "INSERT INTO workspace_secret (name, value) "
        f"VALUES ({literal(KEY_ID_NAME)}, {literal(fingerprint(key))})"
    )
    return key


def session_key(database: Database, session: Session, *, create: bool = False) -> bytes | None:
    """:func:`workspace_key` in a session's transaction."""
    connection = session.connection()
    return workspace_key(
        database,
        lambda sql: [tuple(row) for row in connection.exec_driver_sql(sql).fetchall()],
        connection.exec_driver_sql,
        create=create,
    )


def _read_key(path: Path, database: Database) -> bytes:
    try:
        found = path.read_text(encoding="ascii").strip()
        return bytes.fromhex(found)
    except FileNotFoundError:
        raise ConfigError(
            f"the suppression list's key file {path} is missing: without it this store cannot "
            "tell an erased person from a new one (GDPR Art. 17), so nothing is loaded or erased",
            where=database.display_url,
            fix=f"copy the store's key file there (or point {KEY_FILE_VARIABLE} at it); a "
            "store copied without its key cannot check its list",
        ) from None
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"cannot read the suppression list's key file {path}: {error}",
            where=database.display_url,
            fix="restore the file from the store's backups (64 hexadecimal digits)",
        ) from None


def _write_key(path: Path, key: bytes) -> None:
    """The key file, readable by its owner only; an existing file must hold the same key."""
    if path.is_file():
        if path.read_text(encoding="ascii").strip() != key.hex():
            raise ConfigError(
                f"{path} holds another key than this store's",
                fix=f"move that file away, or point {KEY_FILE_VARIABLE} at another path",
            )
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(key.hex() + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(fresh, path)


def suppress(
    database: Database,
    session: Session,
    source_ids: Iterable[tuple[str, str]],
    identifiers: Iterable[tuple[str, str]],
) -> int:
    """Add an erased person's source ids and identifiers to the list; returns how many are new."""
    key = session_key(database, session, create=True)
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
