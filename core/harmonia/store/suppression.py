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
keys' fingerprints (``workspace_secret``, name ``suppression_key_id``: an
HMAC of a constant under each key), so a copy of the store without the file,
or with another key, refuses to check the list and says why, instead of
letting erased people back or hashing under a new key. A store from before
kept the key itself (name ``suppression``): its first use moves it to the
file, leaves the fingerprint, and says so.

Rotation (``harmonia privacy rotate-key``): a keyed hash cannot be re-keyed
without the ids it hides, and an erased person's ids are gone, so a rotation
adds a new current key to the file (first line) under which every later
entry is hashed, and keeps the older keys only to check the entries hashed
before. The key file moves like any file: keep its 0600 mode and point
``HARMONIA_KEY_FILE`` at it. Keep it with the store's backups: a store
restored without it cannot check the list (it says so) until it is back.
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


def workspace_keys(
    database: Database, read: Read, write: Write, *, create: bool = False
) -> list[bytes]:
    """The suppression list's keys from the key file, the current one first (older ones
    check the entries hashed before a rotation); none when the store has none yet (one
    made at random with ``create``). ``read`` and ``write`` run SQL in the caller's
    transaction: the fingerprints (or the move of an older store's key) commit with it.

    Refuses, saying why, a store whose key file is missing or lacks one of its keys.
    """
    rows = dict(
        read(
            f"SELECT name, value FROM workspace_secret WHERE name IN "
            f"({literal(KEY_NAME)}, {literal(KEY_ID_NAME)})"
        )
    )
    path = key_path(database)
    if KEY_NAME in rows:  # a store from before: its first use moves the key out
        keys = [bytes.fromhex(rows[KEY_NAME])]
        _write_keys(path, keys)
        write(f"DELETE FROM workspace_secret WHERE name = {literal(KEY_NAME)}")
        _set_fingerprints(write, keys, known=False)
        _log.warning(
            "moved the suppression list's key out of the database into %s (mode 0600): "
            "keep it with the store's backups; a copy of the store without it cannot check "
            "erased people",
            path,
        )
        return keys
    if KEY_ID_NAME in rows:
        keys = _read_keys(path, database)
        missing = set(rows[KEY_ID_NAME].split(",")) - {fingerprint(k) for k in keys}
        if missing:
            raise ConfigError(
                f"the key file {path} lacks a key this store's suppression list was hashed "
                f"under ({len(missing)} of them)",
                where=database.display_url,
                fix=f"put this store's key file back (or point {KEY_FILE_VARIABLE} at it); "
                "with another key, erased people would not be recognised",
            )
        if ",".join(map(fingerprint, keys)) != rows[KEY_ID_NAME]:  # a rotation cut short
            _set_fingerprints(write, keys, known=True)
        return keys
    if not create:
        return []
    keys = _read_keys(path, database) if path.is_file() else [secrets.token_bytes(32)]
    _write_keys(path, keys)
    _set_fingerprints(write, keys, known=False)
    return keys


def rotate(database: Database, session: Session) -> str:
    """Make a new current key (older entries stay checked under the old ones); returns
    the new key's fingerprint. A store without a key yet adopts the keys of an existing
    key file first (it may be shared, see :func:`key_path`): a rotation never drops one."""
    keys = session_keys(database, session, create=True)
    fresh = [secrets.token_bytes(32), *keys]
    _write_keys(key_path(database), fresh, replace=True)
    _set_fingerprints(session.connection().exec_driver_sql, fresh, known=True)
    return fingerprint(fresh[0])


def session_keys(database: Database, session: Session, *, create: bool = False) -> list[bytes]:
    """:func:`workspace_keys` in a session's transaction."""
    connection = session.connection()
    return workspace_keys(
        database,
        lambda sql: [tuple(row) for row in connection.exec_driver_sql(sql).fetchall()],
        connection.exec_driver_sql,
        create=create,
    )


def _set_fingerprints(write: Write, keys: list[bytes], *, known: bool) -> None:
    value = literal(",".join(map(fingerprint, keys)))
    if known:
        write(f"UPDATE workspace_secret SET value = {value} WHERE name = {literal(KEY_ID_NAME)}")
    else:
        write(
            f"INSERT INTO workspace_secret (name, value) VALUES ({literal(KEY_ID_NAME)}, {value})"
        )


def _read_keys(path: Path, database: Database) -> list[bytes]:
    try:
        keys = [bytes.fromhex(line) for line in path.read_text(encoding="ascii").split()]
    except FileNotFoundError:
        raise ConfigError(
            f"the suppression list's key file {path} is missing: without it this store cannot "
            "tell an erased person from a new one (GDPR Art. 17), so nothing is loaded or erased",
            where=database.display_url,
            fix=f"copy the store's key file there (or point {KEY_FILE_VARIABLE} at it); a "
            "store copied without its key cannot check its list",
        ) from None
    except (OSError, ValueError) as error:
        keys, problem = [], str(error)
    else:
        problem = "it holds no key"
    if not keys:
        raise ConfigError(
            f"cannot read the suppression list's key file {path}: {problem}",
            where=database.display_url,
            fix="restore the file from the store's backups (one key of 64 hexadecimal "
            "digits a line, the current one first)",
        )
    _warn_if_readable(path)
    return keys


def _warn_if_readable(path: Path) -> None:
    """Warn (not refuse: the erased stay out either way) when others than the owner may
    read the key file or list its folder (a file restored from a backup, or copied
    with ``cp``, is often 0644)."""
    import stat

    for place, wanted in ((path, 0o600), (path.parent, 0o700)):
        mode = stat.S_IMODE(place.stat().st_mode)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            _log.warning(
                "the suppression list's key file %s can be read by others than its owner "
                "(%s is %04o): with the key, anyone holding the list could test ids against "
                "it; harmonia goes on, but run chmod %o %s",
                path,
                place,
                mode,
                wanted,
                place,
            )


def _write_keys(path: Path, keys: list[bytes], *, replace: bool = False) -> None:
    """The key file, readable by its owner only, one key a line, the current one first;
    an existing file must hold the same keys (``replace``: every one of them, among
    others: a key may be shared with another store and exists nowhere else).

    Durable before the caller commits (the database may then drop its only other
    copy, or trust fingerprints of keys only the file holds): the file and its folder
    are fsynced after the rename.
    """
    text = "".join(f"{key.hex()}\n" for key in keys)
    if path.is_file():
        held = path.read_text(encoding="ascii").split()
        if not replace and held != text.split():
            raise ConfigError(
                f"{path} holds other keys than this store's",
                fix=f"move that file away, or point {KEY_FILE_VARIABLE} at another path",
            )
        if set(held) - set(text.split()):
            raise ConfigError(
                f"{path} holds keys this change would drop; nothing was changed",
                fix="keep every key the file holds (another store sharing the file may "
                "need them); restore the file from the store's backups if it was edited",
            )
        if not replace:
            return
    made = _make_folder(path.parent)
    fresh = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(fresh, path)
    for folder in made:
        _fsync_folder(folder)


def _make_folder(folder: Path) -> list[Path]:
    """Make the key file's folder (0700) and its missing parents; returns the folders
    whose entries must be made durable, innermost first: the folder, and the parents
    of the folders made."""
    missing = []
    at = folder
    while not at.exists():
        missing.append(at)
        at = at.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return [folder, *(made.parent for made in missing)]


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def suppress(
    database: Database,
    session: Session,
    source_ids: Iterable[tuple[str, str]],
    identifiers: Iterable[tuple[str, str]],
) -> int:
    """Add an erased person's source ids and identifiers to the list, hashed under the
    current key (one already there under any key is not added); returns how many are new."""
    keys = session_keys(database, session, create=True)
    texts = {source_text(*pair): "source" for pair in source_ids}
    texts |= {identifier_text(*pair): "identifier" for pair in identifiers}
    connection = session.connection()
    every = {_hash(key, message) for key in keys for message in texts}
    known = {
        row[0]
        for row in connection.execute(
            text("SELECT hash FROM suppression WHERE hash IN :hashes").bindparams(
                bindparam("hashes", expanding=True)
            ),
            {"hashes": sorted(every) or [""]},
        )
    }
    new = [
        {"h": _hash(keys[0], message), "k": kind}
        for message, kind in sorted(texts.items())
        if not any(_hash(key, message) in known for key in keys)
    ]
    if new:
        connection.execute(
            text("INSERT INTO suppression (hash, kind, at) VALUES (:h, :k, CURRENT_TIMESTAMP)"),
            new,
        )
    return len(new)


def suppressed_sql(keys: list[bytes], hashed: str) -> str:
    """SQL (DuckDB): whether the text ``hashed`` is on the list (staged as ``suppressed``)
    under any of the keys."""
    return (
        "("
        + " OR ".join(f"{hmac_sql(hashed, key)} IN (SELECT hash FROM suppressed)" for key in keys)
        + ")"
    )


def _hash(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), sha256).hexdigest()
