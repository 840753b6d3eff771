"""Crash safety: who runs a load or a cycle, and cleaning up after one that died.

Every running load batch and cycle records its owner (``host:pid:start``,
``start`` the process's start time, so a pid the system gave to another
process after a ``kill -9`` is not taken for the owner). A
process killed mid-run (``kill -9``, a power cut, a closed laptop) leaves its
batch or cycle ``running``; the next command that opens the store finds the
owner gone and cleans up: an unfinished load batch becomes ``abandoned`` (its
facts files are removed: a reader never saw them, since only a ``loaded``
batch is visible), an unfinished cycle ``failed`` (its assignments removed).
Files of batches the catalogue does not know as loaded or running are
removed too, and the folders the embedded engine (DuckDB) spilled into, named
after their process (:func:`spill_beside`), whose process is gone. What was
cleaned up is returned, for the command to say so.

An owner on another host cannot be checked from here: its runs are left as
they are.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
from pathlib import Path

import attrs
from sqlmodel import func, select

from harmonia.compute import spill_into
from harmonia.errors import ConfigError
from harmonia.store import assignments as stored
from harmonia.store.database import Database
from harmonia.store.facts import facts_of
from harmonia.store.models import Cycle, LoadBatch
from harmonia.store.transitions import move_cycle


def this_owner() -> str:
    """``host:pid:start`` of this process (``host:pid`` where the start time is unknown)."""
    pid = os.getpid()
    start = _start_time(pid)
    return f"{socket.gethostname()}:{pid}" + (f":{start}" if start else "")


def owner_pid(owner: str | None) -> tuple[int, str | None] | None:
    """(pid, start time or None) of an owner on this host; None for another host's or none.

    Reads both ``host:pid:start`` and the older ``host:pid``.
    """
    if not owner:
        return None
    here = socket.gethostname()
    rest, _, start = owner.rpartition(":")
    host, _, pid = rest.rpartition(":")
    if host == here and pid.isdigit() and start.isdigit():
        return int(pid), start
    host, _, pid = owner.rpartition(":")
    return (int(pid), None) if host == here and pid.isdigit() else None


def owner_alive(owner: str | None) -> bool | None:
    """Whether the process ``owner`` runs: True, False, or None when it cannot be known here."""
    if not owner:
        return False  # written before owners were recorded: nothing runs it now
    found = owner_pid(owner)
    if found is None:
        return None
    pid, start = found
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    # The pid reused by another process since the owner died: the owner is gone.
    if start is not None and _start_time(pid) not in (start, None):
        return False
    return not _zombie(pid)


def _start_time(pid: int) -> str | None:
    """When the process started (clock ticks after boot, /proc/<pid>/stat field 22),
    or None where /proc is not available."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            # fields after the command's ")" start at field 3
            return stat.read().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def _zombie(pid: int) -> bool:
    """A killed child its parent has not reaped yet is dead for our purposes."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return False


@attrs.frozen
class Recovered:
    """What opening the store cleaned up after runs that died."""

    abandoned_batches: tuple[int, ...] = ()
    failed_cycles: tuple[int, ...] = ()
    removed_batch_files: tuple[int, ...] = ()
    #: Cycles whose assignment inputs file was left without its rows (a run killed
    #: between the file and its rows, or during a failed cycle's clean-up).
    removed_cycle_files: tuple[int, ...] = ()
    #: Objectors whose assignment rows went but whose inputs were still in files (the
    #: command that recorded the objection died before removing them).
    erased_inputs: tuple[int, ...] = ()
    #: Folders DuckDB spilled into whose process died (:func:`spill_beside`).
    removed_spill_folders: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(
            self.abandoned_batches
            or self.failed_cycles
            or self.removed_batch_files
            or self.removed_cycle_files
            or self.erased_inputs
            or self.removed_spill_folders
        )

    def messages(self) -> list[str]:
        said = []
        if self.abandoned_batches:
            said.append(
                "load batch(es) "
                + ", ".join(map(str, self.abandoned_batches))
                + " stopped before they finished (the process died): marked abandoned, "
                "nothing of them is visible; load those files again"
            )
        if self.failed_cycles:
            said.append(
                "cycle(s) "
                + ", ".join(map(str, self.failed_cycles))
                + " stopped before they finished (the process died): marked failed, "
                "their partial results removed; run them again"
            )
        if self.removed_batch_files:
            said.append(
                "removed the leftover facts files of batch(es) "
                + ", ".join(map(str, self.removed_batch_files))
            )
        if self.removed_cycle_files:
            said.append(
                "removed the leftover assignment inputs files of failed cycle(s) "
                + ", ".join(map(str, self.removed_cycle_files))
            )
        if self.erased_inputs:
            said.append(
                "removed the assignment inputs of objecting customer(s) "
                + ", ".join(map(str, self.erased_inputs))
                + " from the cycles' files (the command that recorded the objection died first)"
            )
        if self.removed_spill_folders:
            said.append(
                "removed the embedded engine's spill folder(s) "
                + ", ".join(self.removed_spill_folders)
                + " (their process died)"
            )
        return said


def recover(database: Database, workspace: Path | None = None) -> Recovered:
    """Mark the runs whose owner died, and remove what they left; see the module docstring.

    ``workspace``: the folder a store on a server spills into (:func:`spill_beside`).
    """
    with database.session() as session:
        # The highest id first: a batch that opens while the catalogue is read
        # is above it, and its files are left alone. Then the running batches
        # before the loaded ones, so that one committing in between is in
        # either list (the other order would miss it and sweep its files).
        known_up_to = session.exec(select(func.max(LoadBatch.id))).one() or 0
        cycles_up_to = session.exec(select(func.max(Cycle.id))).one() or 0
        batches = session.exec(select(LoadBatch).where(LoadBatch.status == "running")).all()
        cycles = session.exec(select(Cycle).where(Cycle.status == "running")).all()
        dead_batches = [b for b in batches if owner_alive(b.owner) is False]
        dead_cycles = [c for c in cycles if owner_alive(c.owner) is False]
        for batch in dead_batches:
            batch.status = "abandoned"
            session.add(batch)
        session.commit()
        alive = [b.id for b in batches if b not in dead_batches]
        loaded = session.exec(select(LoadBatch.id).where(LoadBatch.status == "loaded")).all()
    # Its rows, then its inputs file; a run killed meanwhile is still running, and redone.
    stored.forget(database, [c.id for c in dead_cycles if c.id is not None])
    with database.session() as session:
        kept = session.exec(select(Cycle.id).where(Cycle.status != "failed")).all()
    for cycle in dead_cycles:
        assert cycle.id is not None
        # Through the lifecycle, so the move is recorded with who and why.
        with contextlib.suppress(ConfigError):  # another sweep moved it first
            move_cycle(
                database,
                cycle.id,
                "failed",
                actor="recovery",
                note=f"its run ({cycle.owner}) died",
                expected="running",
            )
    facts = facts_of(database)
    abandoned = [b.id for b in dead_batches if b.id is not None]
    facts.abandon(abandoned)
    removed = facts.sweep(
        committed=[i for i in loaded if i is not None],
        running=[i for i in alive if i],
        known_up_to=known_up_to,
    )
    failed = tuple(c.id for c in dead_cycles if c.id is not None)
    cycle_files = stored.sweep(database, [i for i in kept if i is not None], cycles_up_to)
    erased = stored.finish_erasures(database)
    return Recovered(
        erased_inputs=erased,
        abandoned_batches=tuple(abandoned),
        failed_cycles=failed,
        removed_batch_files=tuple(i for i in removed if i not in abandoned),
        removed_cycle_files=tuple(i for i in cycle_files if i not in failed),
        removed_spill_folders=_sweep_spills(database, workspace),
    )


#: The embedded engine's spill folders are named after the store, then this, then
#: their process's owner and a number: ``harmonia.db.tmp-<host>_<pid>_<start>-<n>``.
SPILL_SUFFIX = ".tmp-"


def spill_beside(database: Database, workspace: Path | None = None) -> None:
    """Let this process's DuckDB connections spill beside the store: beside its file on
    SQLite, in ``workspace`` (default: the current folder) for a store on a server."""
    spill_into(f"{_spill_base(database, workspace)}{this_owner().replace(':', '_')}")


def _spill_base(database: Database, workspace: Path | None) -> Path:
    path = database.sqlite_path
    beside = path if path and str(path) != ":memory:" else (workspace or Path()) / "harmonia"
    return beside.absolute().with_name(beside.name + SPILL_SUFFIX)


def _sweep_spills(database: Database, workspace: Path | None) -> tuple[str, ...]:
    """Remove the spill folders beside the store whose process is gone; their names."""
    base = _spill_base(database, workspace)
    removed = []
    for folder in map(Path, sorted(glob.glob(f"{glob.escape(str(base))}*"))):
        owner, _, number = folder.name.removeprefix(base.name).rpartition("-")
        if folder.is_dir() and number.isdigit() and owner_alive(_spill_owner(owner)) is False:
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():  # a read-only folder keeps it: nothing to say then
                removed.append(folder.name)
    return tuple(removed)


def _spill_owner(encoded: str) -> str:
    """``host:pid:start`` (or ``host:pid``) back from a spill folder's ``host_pid_start``:
    read from the right, since a host name may itself hold ``_``."""
    head, _, last = encoded.rpartition("_")
    host, _, pid = head.rpartition("_")
    return f"{host}:{pid}:{last}" if host and pid.isdigit() else f"{head}:{last}"
