"""One load at a time on an embedded store, so that batch ids follow the commits.

Of the Parquet facts a reader sees, the newest batch (the highest id) wins
per key. A batch id is given when its load opens, before its facts are
written and committed; two loads at once could therefore commit in the
other order than their ids (the later load, whose change-only diff already
saw the earlier one's rows, would lose). So a load takes this lock before
its batch opens and keeps it until the batch has committed.

The lock is ``flock`` on a file in the store's facts folder: the system
releases it when its process dies (``kill -9`` included), so a dead load
never blocks the next. PostgreSQL updates its fact tables in place, in the
order of the commits, but an erasure must still not run while a load (or a
golden record's recompute) writes the person's rows: there the lock is a
session advisory lock, which the server releases when the connection ends.
Golden records are recomputed under the lock too (after a load's batch, a
merge, a match's decisions): an erasure waits for them, then removes what
they wrote.
"""

from __future__ import annotations

import contextlib
import errno
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from harmonia.errors import ConfigError
from harmonia.store.database import Database
from harmonia.store.facts import facts_folder

#: How long a load waits for another to finish (SQLite's busy timeout too).
WAIT_SECONDS = 60.0

LOCK_NAME = "load.lock"
#: The PostgreSQL advisory lock's key (per database): "harm" in ASCII.
ADVISORY_KEY = 0x6861726D


@contextlib.contextmanager
def load_lock(
    database: Database,
    *,
    owner: str,
    on_wait: Callable[[str], None] | None = None,
    wait: float | None = None,
    doing: str = "load",
) -> Iterator[None]:
    """Hold the store's load lock; waits up to ``wait`` seconds (default
    :data:`WAIT_SECONDS`) for another load.

    ``owner`` (``host:pid``) is written into the lock file, so a load that
    waits can say whom for. ``on_wait`` is told once when it has to wait.
    ``doing`` names what waits in the timeout's message (an erasure too
    rewrites fact files).
    """
    wait = WAIT_SECONDS if wait is None else wait
    if database.dialect == "postgresql":
        with _advisory_lock(database, on_wait, wait, doing):
            yield
        return
    if database.dialect != "sqlite" or not database.sqlite_path:
        yield
        return
    import fcntl

    path = facts_folder(database.sqlite_path) / LOCK_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+", encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            f"cannot write the store's facts folder: {error.strerror or error}",
            where=str(path.parent),
            fix="make the folder (and the database beside it) writable, or free disk space; "
            "nothing was loaded",
        ) from None

    def take() -> bool:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            return False
        return True

    with handle:
        _wait_for(take, lambda: _holder(path), database, on_wait, wait, doing)
        try:
            with contextlib.suppress(OSError):  # only informational (a full disk refuses it)
                handle.seek(0)
                handle.truncate()
                handle.write(owner)
                handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _advisory_lock(
    database: Database, on_wait: Callable[[str], None] | None, wait: float, doing: str
) -> Iterator[None]:
    """The load lock of a PostgreSQL store: a session advisory lock, on a connection of
    its own (in autocommit: it holds no snapshot), which the server releases when the
    connection ends (a dead process included)."""
    from sqlalchemy import text

    with database.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")

        def take() -> bool:
            return bool(
                connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
                ).scalar()
            )

        def holder() -> str:
            pid = connection.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND objid = :key AND database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())"
                ),
                {"key": ADVISORY_KEY},
            ).scalar()
            return f"server process {pid}" if pid else "another process"

        _wait_for(take, holder, database, on_wait, wait, doing)
        try:
            yield
        finally:
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            except Exception:
                connection.invalidate()  # closing the session releases the lock
                raise


def _wait_for(
    take: Callable[[], bool],
    holder: Callable[[], str],
    database: Database,
    on_wait: Callable[[str], None] | None,
    wait: float,
    doing: str,
) -> None:
    deadline = time.monotonic() + wait
    told = False
    while not take():
        held_by = holder()
        if not told and on_wait is not None:
            on_wait(f"waiting for another load of this store to finish ({held_by})")
            told = True
        if time.monotonic() >= deadline:
            raise ConfigError(
                f"another load is writing to this store ({held_by}) and did not finish "
                f"within {wait:.0f} s; nothing was {doing.rstrip('e')}ed",
                where=str(database.sqlite_path or database.display_url),
                fix=f"wait for it to finish, then {doing} again (one load at a time per store)",
            )
        time.sleep(0.1)


def _holder(path: Path) -> str:
    try:
        owner = path.read_text(encoding="utf-8").strip()
    except OSError:
        owner = ""
    return f"process {owner}" if owner else "another process"
