"""The embedded vectorized engine: one way to open DuckDB for harmonia's work."""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from harmonia.errors import ConfigError, causes

#: DuckDB spills to disk beyond this, so a 10M-customer load or cycle stays
#: within a few GB however large the universe. ``HARMONIA_MEMORY_LIMIT``
#: (``8GB``, ``512MB``) sets another where a machine has more or less to give.
MEMORY_LIMIT = "4GB"
MEMORY_LIMIT_ENV = "HARMONIA_MEMORY_LIMIT"


def memory_limit() -> str:
    """DuckDB's memory limit: :data:`MEMORY_LIMIT_ENV` where set, else :data:`MEMORY_LIMIT`."""
    return os.environ.get(MEMORY_LIMIT_ENV, "").strip() or MEMORY_LIMIT


_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}


def memory_limit_bytes(connection: Any) -> int:
    """The memory limit of the DuckDB ``connection``, in bytes."""
    ((shown,),) = connection.execute("SELECT current_setting('memory_limit')").fetchall()
    number, unit = str(shown).split()  # as DuckDB shows it: '3.7 GiB', '976.5 KiB'
    return int(float(number) * _UNITS[unit])


#: Where the connections opened from now on spill (see :func:`spill_into`); None: where
#: DuckDB would (``.tmp`` in the current folder).
_spill: dict[str, str | None] = {"prefix": None}
_spilled = itertools.count(1)


def spill_into(prefix: str | Path | None) -> None:
    """Let each DuckDB connection opened from now on spill beyond its memory limit into a
    folder of its own, ``<prefix>-<n>``, which DuckDB creates when it first spills and
    removes when the connection closes (what a connection left open leaves, this
    process removes when it exits; what a killed one leaves, the store's recovery).

    Why: DuckDB spills into ``.tmp`` in the current folder by default, wherever the
    command runs (7.5 GB at 10M customers); a folder beside the store is on the disk
    meant for its data. Why one folder per connection: DuckDB before 2.0 names its
    spill files alike in every database, and removes a folder it created whole.
    """
    _spill["prefix"] = None if prefix is None else str(prefix)


def _spill_folder() -> str | None:
    prefix = _spill["prefix"]
    # The folder it was beside may be gone (a test's store): DuckDB could not create it.
    if prefix is None or not os.path.isdir(os.path.dirname(prefix) or "."):
        return None
    return f"{prefix}-{next(_spilled)}"


@atexit.register
def _remove_spills() -> None:
    prefix = _spill["prefix"]
    if prefix is not None:
        for folder in glob.glob(f"{glob.escape(prefix)}-*"):
            shutil.rmtree(folder, ignore_errors=True)


def duckdb_connection() -> Any:
    """A fresh in-memory DuckDB connection with harmonia's limits, spilling where
    :func:`spill_into` says."""
    import duckdb

    limit = memory_limit()
    config = {"memory_limit": limit}
    spill = _spill_folder()
    if spill is not None:
        config["temp_directory"] = spill
    try:
        connection = duckdb.connect(config=config)
    except duckdb.Error as error:  # an in-memory database refuses only a bad setting
        raise ConfigError(
            f"{MEMORY_LIMIT_ENV}={limit} is not a memory size ({error})",
            where="environment",
            fix=f"set it like 8GB or 512MB, or unset it for the default {MEMORY_LIMIT}",
        ) from None
    return connection


def out_of_memory_error(error: BaseException) -> ConfigError | None:
    """The user's view of DuckDB running out of memory during ``error``'s work, else None."""
    import duckdb

    for seen in causes(error):
        if isinstance(seen, duckdb.OutOfMemoryException):
            return ConfigError(
                f"the embedded engine (DuckDB) ran out of memory at its limit of {memory_limit()}: "
                "this command stopped and kept nothing of what it was computing",
                where=MEMORY_LIMIT_ENV,
                fix=f"set {MEMORY_LIMIT_ENV} to a larger size the machine has free (e.g. 8GB) "
                "and run the command again",
            )
    return None


_scratch = threading.local()


def scratch_connection() -> Any:
    """This thread's DuckDB connection for statements that leave nothing behind
    (a ``COPY`` of a registered Arrow table to a file).

    Why: opening a connection costs tens of milliseconds, and a cycle or the demo
    writes dozens of small files. Callers unregister what they register; anything
    that creates tables opens its own connection with :func:`duckdb_connection`.
    """
    connection = getattr(_scratch, "connection", None)
    if connection is None:
        connection = _scratch.connection = duckdb_connection()
    return connection
