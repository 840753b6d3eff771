"""Opening the harmonized database: URL resolution, engine setup, migrations.

The default is one SQLite file (``./harmonia.db``); PostgreSQL takes the
same code through the same URL setting. The schema is created and upgraded
by alembic migrations only: a new database is migrated to the latest
revision on first use, an older one must be upgraded explicitly
(``harmonia db upgrade``) so a shared database never changes behind its
users' backs.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from harmonia.errors import ConfigError, causes
from harmonia.store.url import resolve_url

#: The newest migration's revision. Kept here so that opening a database does
#: not import alembic and read every migration script (a test holds it equal
#: to alembic's head).
SCHEMA_REVISION = "0800"
SUPPORTED = ("sqlite", "postgresql")


class Database:
    """A harmonized database at a URL: engine, sessions, migrations, dialect."""

    def __init__(self, url: str | None = None):
        self.url = resolve_url(url)
        try:
            self.parsed: URL = make_url(self.url)
        except Exception as error:
            raise ConfigError(
                f"{self.url!r} is not a database URL: {error}",
                fix="use a path to a SQLite file, or postgresql://user@host:port/database",
            ) from None
        if self.dialect not in SUPPORTED:
            raise ConfigError(
                f"harmonia stores its data in SQLite or PostgreSQL, not {self.dialect}",
                where=self.display_url,
                fix="use a SQLite file or a postgresql:// URL; to run rules inside another "
                "engine, compile them with `harmonia cycle sql --dialect NAME`",
            )

    @property
    def dialect(self) -> str:
        return self.parsed.get_backend_name()

    @property
    def display_url(self) -> str:
        """The URL without its password, for messages."""
        return self.parsed.render_as_string(hide_password=True)

    @property
    def sqlite_path(self) -> Path | None:
        return Path(self.parsed.database or "") if self.dialect == "sqlite" else None

    @cached_property
    def engine(self) -> Engine:
        if self.dialect == "sqlite":
            path = self.sqlite_path
            if path and path.parent and not path.parent.exists():
                raise ConfigError(
                    f"the folder {path.parent} of the database does not exist",
                    fix="create it, or point --database elsewhere",
                )
            # NullPool: a pysqlite connection must be closed, not pooled, while the
            # bulk path (ADBC, its own copy of SQLite) has the file open; see
            # SQLITE_HANDLES below.
            engine = create_engine(self.url, connect_args={"timeout": 60}, poolclass=NullPool)
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "connect", lambda *_: SQLITE_HANDLES.opened(path, "pysqlite"))
            event.listen(engine, "close", lambda *_: SQLITE_HANDLES.closed(path, "pysqlite"))
            return engine
        return create_engine(self.url, pool_pre_ping=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    # -- migrations ------------------------------------------------------------

    def _alembic_config(self):
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", "harmonia.store:migrations")
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return config

    def head_revision(self) -> str:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic_config()).get_current_head() or ""

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def _known(self, revision: str) -> bool:
        """Whether this harmonia has the migration ``revision`` (a newer harmonia's it has not)."""
        from alembic.script import ScriptDirectory

        try:
            return (
                ScriptDirectory.from_config(self._alembic_config()).get_revision(revision)
                is not None
            )
        except Exception:  # alembic raises its own errors for ids it cannot resolve
            return False

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema (creating it in an empty database)."""
        from alembic import command

        config = self._alembic_config()
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def ensure_schema(self) -> None:
        """Create the schema in a new database; refuse an outdated one.

        Called before any command touches the data.
        """
        current = self.checked_revision()
        if current is None:
            with self.engine.connect() as connection:
                tables = inspect(connection).get_table_names()
            if tables:
                raise ConfigError(
                    "this database has tables but no harmonia schema version",
                    where=self.display_url,
                    fix="point --database at an empty database or a harmonia database",
                )
            self.upgrade()
            return
        if current != SCHEMA_REVISION:
            raise ConfigError(
                f"the database schema is at revision {current}, this harmonia needs "
                f"{SCHEMA_REVISION}",
                where=self.display_url,
                fix="run `harmonia db upgrade` (back the database up first)",
            )

    def checked_revision(self) -> str | None:
        """The schema revision, as :meth:`current_revision`, with user-facing errors.

        A database that cannot be opened, or whose schema a newer harmonia wrote,
        is a :class:`ConfigError` naming it and what to do.
        """
        try:
            current = self.current_revision()
        except Exception as error:
            if self.sqlite_path is not None and (
                disk_full_error(error, self) or _almost_full(self.sqlite_path.parent)
            ):
                # SQLite cannot create its journal (-shm) on a full disk: "disk I/O error".
                raise full_disk(self.display_url, "no space left on device") from None
            if self.sqlite_path is not None and self.sqlite_path.is_file():
                # The file is there: SQLite could not open its journal beside it.
                raise ConfigError(
                    f"cannot open the database: {str(error).splitlines()[0]}",
                    where=self.display_url,
                    fix="SQLite keeps its journal (-wal, -shm files) beside the database, even "
                    "to read it: run this where you may write the file's folder, or copy the "
                    "file to a folder you may write and point --database at the copy",
                ) from None
            raise ConfigError(
                f"cannot open the database: {error.__class__.__name__}: {error}".split("\n")[0],
                where=self.display_url,
                fix="check the URL or path (a SQLite file, or a PostgreSQL database that "
                "exists: CREATE DATABASE), that the server runs and that you may connect",
            ) from None
        if current is not None and current != SCHEMA_REVISION and not self._known(current):
            raise ConfigError(
                f"the database schema is at revision {current}, newer than this harmonia "
                f"knows ({SCHEMA_REVISION})",
                where=self.display_url,
                fix="upgrade harmonia (pip install -U harmonia) to the version that wrote it",
            )
        return current


#: What the drivers say when the store may be read but not written: SQLite (a
#: read-only file, or a folder where it cannot create its journal), PostgreSQL
#: (a read-only transaction or standby, a role without the privilege).
_READ_ONLY = re.compile(
    r"readonly database|read-only|unable to open database file|permission denied",
    re.IGNORECASE,
)


def read_only_error(error: BaseException, database: Database) -> ConfigError | None:
    """The user's view of a write the store refused because it is read-only, else None."""
    for seen in causes(error):
        if not isinstance(seen, OSError) and _READ_ONLY.search(str(seen)):
            reason = str(seen).strip().splitlines()[0]
            reason = reason.split(") ", 1)[-1] if reason.startswith("(") else reason
            return ConfigError(
                f"the database cannot be written ({reason}); this write was refused and not stored",
                where=database.display_url,
                fix="run this where you may write the database file and its folder "
                "(SQLite writes a journal beside the file), or point --database at a "
                "writable copy; reading commands (list, show, explain) work as they are",
            )
    return None


#: What the drivers and the system say when the disk is full (SQLite's
#: SQLITE_FULL, DuckDB's and Python's ENOSPC, a quota, a file size limit).
_DISK_FULL = re.compile(
    r"database or disk is full|no space left on device|disk quota exceeded|file too large",
    re.IGNORECASE,
)
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)

#: Below this much free space, SQLite's vague "disk I/O error" on opening is a full disk.
_ALMOST_FULL = 1 << 20


def disk_full_error(error: BaseException, database: Database) -> ConfigError | None:
    """The user's view of a write that failed because the disk is full, else None."""
    for seen in causes(error):
        if (isinstance(seen, OSError) and seen.errno in _FULL_ERRNOS) or (
            match := _DISK_FULL.search(str(seen))
        ):
            reason = os.strerror(seen.errno) if isinstance(seen, OSError) else match.group(0)
            return full_disk(database.display_url, reason)
    return None


def full_disk(where: str, reason: str) -> ConfigError:
    """A full disk: what it means for the store, and what to do."""
    return ConfigError(
        f"the disk is full ({reason.lower()}): what this command was writing was not kept, "
        "the store is as it was before",
        where=where,
        fix="free disk space, or move the store (its file and its .facts folder) to a disk "
        "with room, then run the command again",
    )


def _almost_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < _ALMOST_FULL
    except OSError:
        return False


class SqliteHandles:
    """Which copy of SQLite has which database file open in this process.

    Why: the ORM reaches SQLite through Python's ``sqlite3`` and the bulk path
    through ADBC, which links its own copy of SQLite. POSIX file locks belong
    to the process, so when one copy closes the file it silently drops the
    locks the other holds, and a WAL database loses writes ("How To Corrupt
    An SQLite Database File", section 2.2.1). The two must therefore never
    have the same file open at the same time; this ledger makes a violation
    an immediate error instead of silent corruption.
    """

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], int] = {}

    def opened(self, path: Path | None, library: str) -> None:
        key = str(Path(path or "").resolve())
        for (other_path, other_library), count in self._open.items():
            if other_path == key and other_library != library and count:
                raise RuntimeError(
                    f"internal error: {library} opening {key} while {other_library} has it open "
                    "(two SQLite libraries on one file corrupt it); close one first"
                )
        self._open[(key, library)] = self._open.get((key, library), 0) + 1

    def closed(self, path: Path | None, library: str) -> None:
        key = (str(Path(path or "").resolve()), library)
        self._open[key] = max(0, self._open.get(key, 0) - 1)


SQLITE_HANDLES = SqliteHandles()


def _sqlite_pragmas(connection, _record) -> None:
    """WAL lets the bulk writer and readers work side by side; FKs keep the ORM honest."""
    cursor = connection.cursor()
    # Larger pages write bulk loads faster; it only takes on a new, empty file.
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
