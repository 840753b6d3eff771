"""Loading data into the harmonized database, quarantining what is wrong."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from harmonia.errors import InputError
from harmonia.files import KIND_ORDER, peek_kind
from harmonia.ingest.loader import Loader, LoadResult
from harmonia.plugin.types import DataSource

__all__ = ["LoadResult", "Loader", "plan_files"]


def plan_files(
    sources: Iterable[DataSource], paths: Iterable[Path]
) -> list[tuple[DataSource, Path]]:
    """Each file with the source that reads it, customers first.

    Directories contribute the files in them that some source reads. Files
    load in the order customers, metrics, responses, because metrics and
    responses refer to customers.
    """
    by_suffix = {suffix: source for source in sources for suffix in source.suffixes}
    planned: list[tuple[DataSource, Path]] = []
    for path in paths:
        if not path.exists():
            raise InputError("no such file or directory", where=str(path), fix="check the path")
        candidates = sorted(path.iterdir()) if path.is_dir() else [path]
        for candidate in candidates:
            source = by_suffix.get(candidate.suffix.lower())
            if source is None:
                if path.is_dir():
                    continue
                raise InputError(
                    f"no installed source reads {candidate.suffix or 'files without a suffix'}",
                    where=str(candidate),
                    fix=f"use one of {', '.join(sorted(by_suffix))}, or --source NAME",
                )
            planned.append((source, candidate))
    if not planned:
        raise InputError("no loadable files found", where=", ".join(map(str, paths)))

    def order(item: tuple[DataSource, Path]) -> int:
        kind = peek_kind(item[1])
        return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)

    return sorted(planned, key=order)
