"""A cycle's computed features, kept beside the facts for the next cycle that computes them.

Deriving the features (reading millions of facts, scoring, ranking) is most of
what a cycle costs, and a cycle run again on the same inputs (a changed rule,
after a reload that changed nothing) derives the same rows. The embedded
engine keeps them under a key that names everything they came from
(:mod:`harmonia.engine.reuse` makes it), in ``<database>.facts/features/<key>/``:
the features (``features.parquet``) and the input coverage counted on the same
inputs (``coverage.parquet``). The store only keeps entries; it never judges one.

An entry is written in a folder of its own beside its place and renamed there
once complete, so a reader finds it whole or not at all; a process killed while
writing leaves a partial folder that a later save removes. Only the newest
:data:`KEEP` entries stay. An erasure or an objection forgets every entry:
they hold profiling results of the persons concerned, and starts a new
generation: a cycle that read its inputs before then keeps nothing.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from harmonia.store.database import Database
from harmonia.store.facts import facts_of, sync

#: The folder of the entries, in the facts folder.
FOLDER = "features"

#: Entries kept (the newest): a market's current cycle and a few others'.
KEEP = 4

FEATURES = "features.parquet"
COVERAGE = "coverage.parquet"

_PARTIAL = ".partial-"
_GENERATION = ".generation"


def folder(database: Database) -> Path | None:
    """Where ``database`` keeps the entries; None where its facts are not files."""
    facts = facts_of(database)
    return facts.root / FOLDER if facts.external else None


def find(database: Database, key: str) -> Path | None:
    """The complete entry of ``key``, if kept; marked as used (pruning keeps the newest)."""
    root = folder(database)
    entry = root / key if root is not None else None
    if entry is None or not all((entry / name).is_file() for name in (FEATURES, COVERAGE)):
        return None
    with suppress(OSError):  # a workspace we may only read keeps its order
        os.utime(entry)
    return entry


def any_starting(database: Database, prefix: str) -> bool:
    """Whether an entry's key starts with ``prefix`` (keys are never partial names)."""
    root = folder(database)
    return root is not None and any(root.glob(f"{prefix}*"))


def generation(database: Database) -> str:
    """The entries' generation: a new one each time :func:`forget` removes them all
    ('' before the first)."""
    root = folder(database)
    try:
        return (root / _GENERATION).read_text() if root is not None else ""
    except FileNotFoundError:
        return ""


def save(database: Database, key: str, write: Callable[[Path], None], since: str = "") -> None:
    """Keep the entry ``write`` writes into the folder it is given, as ``key``, unless
    the entries were forgotten since generation ``since`` (what was read before an
    erasure or objection may hold the persons concerned)."""
    root = folder(database)
    if root is None or generation(database) != since:
        return
    partial = root / f".{key}{_PARTIAL}{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir(parents=True)
        write(partial)
        for path in partial.iterdir():
            sync(path)
        if (root / key).exists() and find(database, key) is None:
            shutil.rmtree(root / key)  # damaged (renaming puts an entry in place whole)
        try:
            partial.rename(root / key)
        except OSError:
            if find(database, key) is None:  # not the same entry saved by another process
                raise
        sync(root)
        if generation(database) != since:  # forgotten while this entry was written
            shutil.rmtree(root / key, ignore_errors=True)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    _prune(root)


def forget(database: Database) -> None:
    """Remove every entry (an erasure, an objection), and start a new generation."""
    root = folder(database)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)
        with suppress(OSError):  # a workspace we may only read has nothing to forget
            root.mkdir(parents=True, exist_ok=True)
            (root / _GENERATION).write_text(uuid.uuid4().hex)


def _prune(root: Path) -> None:
    """Keep the newest :data:`KEEP` entries; remove the partial ones of dead processes."""
    entries = []
    for path in root.iterdir():
        if _PARTIAL in path.name:
            pid = path.name.rsplit(_PARTIAL, 1)[1]
            if not (pid.isdigit() and _alive(int(pid))):
                shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir():
            entries.append(path)
    entries.sort(key=lambda path: path.stat().st_mtime_ns, reverse=True)
    for stale in entries[KEEP:]:
        shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
