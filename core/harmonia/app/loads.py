"""Loading data into the store, and the rows it quarantined (``harmonia load``,
``harmonia quarantine``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from harmonia.errors import ConfigError, Interrupted

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia
    from harmonia.ingest import LoadResult
    from harmonia.ingest.loader import Loader
    from harmonia.plugin.types import DataSource
    from harmonia.store.models import LoadBatch

#: Called as ``progress(files_done, what_is_happening)`` while a load runs.
Progress = Callable[[int, str], None]


@attrs.frozen
class LoadJob:
    """One source to read with its options: a file, or a named source."""

    source: DataSource
    options: Mapping[str, str]

    @property
    def location(self) -> str:
        return self.options.get("path", self.source.name)


@attrs.frozen
class QuarantinedRow:
    """A rejected row as the quarantine keeps it: where it came from, what it held, why."""

    id: int
    batch: int
    kind: str
    location: str
    row: int | None
    record: dict[str, Any]
    reasons: list[str]
    resolved_by_batch: int | None


@attrs.frozen
class Exported:
    """One kind's rejected rows written to a file to fix and load again."""

    kind: str
    rows: int
    path: Path


def _paths(paths: Any) -> list[Path]:
    """Files and folders to load: one path, or several (text or ``Path``)."""
    if isinstance(paths, str | Path):
        return [Path(paths)]
    try:
        return [Path(path) for path in paths]
    except TypeError:
        raise ConfigError(
            f"cannot load {paths!r}: give a path or a list of paths",
            fix="app.loads.plan([Path('data/customers.csv')])",
        ) from None


def _options(options: Any, name: str) -> dict[str, str]:
    """Options as the CLI's ``--option name=value`` gives them: names and values as text."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ConfigError(
            f"{name} must be a mapping of option names to values, not {type(options).__name__}",
            fix=f'{name}={{"sheet": "Targets"}}',
        )
    problems = [key for key in options if not isinstance(key, str) or not key]
    if problems:
        raise ConfigError(f"option names must be text: {problems!r}", fix="name each option")
    bad = {key: value for key, value in options.items() if not isinstance(value, str | int | float)}
    if bad:
        raise ConfigError(
            f"option values must be text or numbers: {bad!r}",
            fix="give each option one value, as on the command line (--option name=value)",
        )
    return {key: str(value) for key, value in options.items()}


class Loads:
    """``app.loads``: plan and run loads, read and export the quarantine."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    def plan(
        self,
        paths: Sequence[Path] = (),
        *,
        source: str | None = None,
        options: Mapping[str, str] | None = None,
        given: Mapping[str, str] | None = None,
    ) -> list[LoadJob]:
        """What a load will read: each file with the source that reads it
        (customers first), or the named source.

        ``given`` are the options the user set (``options`` may add the ones a
        command fills in); a source that does not declare one of them, or a
        value outside its choices, is refused before anything runs.
        """
        from harmonia.ingest import plan_files

        paths = _paths(paths)
        options = _options(options, "options")
        # From Python every option is the caller's; the CLI says which the user typed.
        checked = options if given is None else _options(given, "given")
        sources = self.app.catalog.data_sources
        if source:
            if paths:
                raise ConfigError("give either files or --source, not both")
            jobs = [LoadJob(sources.get_or_fail(source), options)]
        elif paths:
            jobs = [
                LoadJob(found, {**options, "path": str(path)})
                for found, path in plan_files(sources.values(), paths)
            ]
        else:
            raise ConfigError(
                "nothing to load", fix="give files or folders to load, or --source NAME"
            )
        for job in jobs:
            job.source.check_options(checked)
        return jobs

    def run(
        self,
        jobs: Sequence[LoadJob],
        *,
        country: str | None = None,
        system: str | None = None,
        decimal: str | None = None,
        progress: Progress | None = None,
    ) -> list[LoadResult]:
        """Load every job; each batch is stored or quarantined row by row."""
        from harmonia.ingest import Loader

        if isinstance(jobs, LoadJob) or not all(isinstance(job, LoadJob) for job in jobs):
            raise ConfigError(
                "app.loads.run takes the list of jobs app.loads.plan returns",
                fix="app.loads.run(app.loads.plan([Path('data')]), country='FR')",
            )
        report = progress or (lambda done, stage: None)
        results: list[LoadResult] = []
        job = jobs[0] if jobs else None
        stored: list[LoadResult] = []
        loader: Loader | None = None
        opened_before = 0  # how many batches the loader had opened before this job
        try:
            loader = Loader(
                self.app.database,
                self.app.catalog,
                country=country.upper() if country else None,
                system=system,
                decimal=decimal,
                actor=self.app.actor,
            )
            for job in jobs:
                stored = []
                opened_before = len(loader.batches_opened)
                name = Path(job.location).name
                loader.on_stage = lambda stage, name=name: report(0, f"{name}: {stage}")
                stored.extend(loader.run(job.source, dict(job.options)))
                results.extend(stored)
                self._refresh_golden(stored, loader.on_stage)
                report(1, "")
        except BaseException as error:
            if job is None or not interrupted(error):
                raise
            kept = [result.batch_id for result in stored]
            unsure: list[int] = []
            if loader is not None:  # committed, its result not yet here: stored all the same
                from sqlalchemy.exc import SQLAlchemyError

                opened = [b for b in loader.batches_opened[opened_before:] if b not in kept]
                try:
                    kept += loader.committed(opened)
                except SQLAlchemyError:  # unreachable, locked: the interruption is the news
                    unsure = opened
            raise _interrupted(
                job.location, kept, [result.batch_id for result in results], unsure
            ) from None
        return results

    def _refresh_golden(
        self, results: Sequence[LoadResult], on_stage: Callable[[str], None]
    ) -> None:
        """The golden records of the persons each committed customers batch gave or
        changed a source record of (a golden record never lags behind a load), and of
        any earlier batch whose refresh was cut short (``load_batch.golden_owed``)."""
        if any(result.kind == "customers" for result in results):
            on_stage("golden records")
            self.app.master.refresh_owed_golden()

    def batches(
        self, *, country: str | None = None, kind: str | None = None, limit: int | None = None
    ) -> list[LoadBatch]:
        """Load batches, newest first: where each came from, its kind, status and what
        it brought (rows read, loaded, quarantined), who loaded it and when."""
        from sqlmodel import select

        from harmonia.store.models import LoadBatch

        query = select(LoadBatch).order_by(LoadBatch.id.desc())  # type: ignore[union-attr]
        if country:
            query = query.where(LoadBatch.country == country.upper())
        if kind:
            query = query.where(LoadBatch.kind == kind)
        if limit:
            query = query.limit(limit)
        with self.app.existing_database.session() as session:
            return list(session.exec(query).all())

    def quarantined(
        self,
        *,
        batch: int | None = None,
        kind: str | None = None,
        include_resolved: bool = False,
        limit: int | None = None,
    ) -> list[QuarantinedRow]:
        """Rejected rows in load order (only those no later load fixed, unless asked)."""
        from sqlmodel import select

        from harmonia.store.models import Quarantine

        with self.app.existing_database.session() as session:
            query = select(Quarantine).order_by(Quarantine.batch_id, Quarantine.row_number)
            if batch is not None:
                query = query.where(Quarantine.batch_id == batch)
            if kind:
                query = query.where(Quarantine.kind == kind)
            if not include_resolved:
                query = query.where(Quarantine.resolved_batch_id.is_(None))
            if limit:
                query = query.limit(limit)
            rows = list(session.exec(query).all())
        return [
            QuarantinedRow(
                id=row.id or 0,
                batch=row.batch_id,
                kind=row.kind,
                location=row.location,
                row=row.row_number,
                record=json.loads(row.record),
                reasons=json.loads(row.reasons),
                resolved_by_batch=row.resolved_batch_id,
            )
            for row in rows
        ]

    def export_quarantine(
        self,
        directory: Path,
        *,
        batch: int | None = None,
        kind: str | None = None,
        include_resolved: bool = False,
        country: str | None = None,
    ) -> list[Exported]:
        """Write rejected rows as canonical CSV, one file per kind, to fix and load again.

        The files are in the market's conventions (the delimiter of ``country``'s
        profile, else of the country the rows were loaded for). Each row keeps
        its ``quarantine_id``: when the fixed file loads, the rows that now pass
        mark their quarantine entries resolved. A line that could not be read
        keeps its text in ``original_line``, its columns filled in from it as
        far as they go; it loads once a person has checked them and emptied
        ``original_line``.
        """
        import pyarrow as pa

        from harmonia.files import write_table_csv
        from harmonia.plugin.types import RECORD_KINDS
        from harmonia.store.models import unreadable_line

        rows = self.quarantined(batch=batch, kind=kind, include_resolved=include_resolved)
        # An erased person's row keeps nothing to fix (GDPR Art. 17): not exported.
        rows = [row for row in rows if not row.record.get("erased")]
        delimiter = self._export_delimiter(country, {row.batch for row in rows})
        by_kind: dict[str, list[QuarantinedRow]] = {}
        for row in rows:
            by_kind.setdefault(row.kind, []).append(row)
        directory.mkdir(parents=True, exist_ok=True)
        exported = []
        for name, kind_rows in by_kind.items():
            data: dict[str, list[Any]] = {"quarantine_id": [row.id for row in kind_rows]}
            data |= {
                column: [row.record.get(column) for row in kind_rows]
                for column in RECORD_KINDS[name].column_names
            }
            data["reasons"] = ["; ".join(row.reasons) for row in kind_rows]
            original = [unreadable_line(row.record) for row in kind_rows]
            if any(text is not None for text in original):
                data["original_line"] = original
            path = directory / f"{name}.csv"
            write_table_csv(pa.table(data), path, delimiter=delimiter)
            exported.append(Exported(name, len(kind_rows), path))
        self.app.privacy.wrote("quarantine export", [e.path for e in exported])
        return exported

    def _export_delimiter(self, country: str | None, batches: set[int]) -> str:
        """The delimiter of the market whose rows these are (``,`` when none or several)."""
        if country is None and batches:
            from sqlmodel import select

            from harmonia.store.models import LoadBatch

            with self.app.existing_database.session() as session:
                countries = set(
                    session.exec(
                        select(LoadBatch.country).where(LoadBatch.id.in_(sorted(batches)))  # type: ignore[union-attr]
                    ).all()
                )
            country = countries.pop() if len(countries) == 1 else None
        if country is None:
            return ","
        profile = self.app.catalog.country_profiles.get_or_fail(
            country.upper(), fix="install the country's pack, or export without --country"
        )
        return profile.csv.delimiter


def interrupted(error: BaseException) -> bool:
    """Whether ``error`` is the user's Ctrl-C: Python's, or DuckDB's query interrupted by it."""
    return isinstance(error, KeyboardInterrupt) or (
        isinstance(error, RuntimeError) and "interrupted" in str(error).lower()
    )


def _interrupted(
    location: str, stored: list[int], before: list[int], unsure: list[int]
) -> Interrupted:
    """What an interrupted load kept: whole batches only (a batch commits at once);
    ``stored``: the ids of the batches of ``location``, ``before``: of earlier files,
    ``unsure``: of batches of ``location`` the store could not say it committed."""
    said = [f"batch(es) {_ids(stored)} were stored"] if stored else []
    if unsure:
        said.append(f"batch(es) {_ids(unsure)} may have been stored (the store could not be asked)")
    what = (
        f"of {location}, {' and '.join(said)}; nothing after them"
        if said
        else f"nothing from {location} was stored"
    )
    before = [batch_id for batch_id in before if batch_id not in stored]
    earlier = f" (batch(es) {_ids(before)} of earlier files were)" if before else ""
    return Interrupted(
        f"interrupted: {what}{earlier}",
        fix="load it again when you are ready (rows already stored are not stored twice; "
        "golden records a stored batch still owes are refreshed then)",
    )


def _ids(batch_ids: list[int]) -> str:
    return ", ".join(str(batch_id) for batch_id in batch_ids)
