"""A load of several files reads the next file while the one before it loads
(``app.loads.run``): same rows stored, errors on the file's own turn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
import tiny_market
from helpers import count_rows, query, write

from harmonia.app import Harmonia
from harmonia.app.loads import LoadJob
from harmonia.builtin.sources import read_csv
from harmonia.compute import Interruptible, duckdb_connection
from harmonia.errors import InputError, Interrupted
from harmonia.ingest import Loader
from harmonia.plugin.catalog import Catalog

H1 = tiny_market.DATA / "h1"
FILES = [H1 / "customers.csv", H1 / "metrics.csv", H1 / "responses.csv"]


def logged_jobs(app: Harmonia, paths: list[Path], events: list[str]) -> list[LoadJob]:
    """The jobs of these files, through a CSV source that logs when it reads each one."""
    csv = app.catalog.data_sources.get_or_fail("csv")

    def read(request: Any) -> Any:
        events.append(f"read {Path(request.option('path')).name}")
        yield from read_csv(request)

    logged = attrs.evolve(csv, name="logged", read=read)
    return [LoadJob(logged, {"path": str(path)}) for path in paths]


def stored(url: str) -> dict[str, Any]:
    """What a load left: the facts' rows (by source ids), the batches' counts."""
    return {
        "counts": count_rows(url),
        "metrics": query(
            url,
            "SELECT x.source_id, m.therapy_area, m.metric, m.period, m.value FROM metric m "
            "JOIN crosswalk x ON x.customer_id = m.customer_id ORDER BY 1, 2, 3, 4",
        ),
        "answers": query(
            url,
            "SELECT x.source_id, r.questionnaire, r.respondent, a.question, a.value "
            "FROM response r JOIN answer a ON a.response_id = r.id "
            "JOIN crosswalk x ON x.customer_id = r.customer_id ORDER BY 1, 2, 3, 4, 5",
        ),
        "batches": query(
            url,
            "SELECT kind, status, rows_read, rows_loaded, rows_quarantined FROM load_batch "
            "ORDER BY id",
        ),
    }


def test_the_next_file_is_read_while_the_one_before_it_loads(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    app = Harmonia(database_url, tiny)
    events: list[str] = []
    jobs = logged_jobs(app, FILES, events)

    def progress(done: int, stage: str) -> None:
        if done:
            events.append("file loaded")

    results = app.loads.run(jobs, country="NL", progress=progress)

    # Without reading ahead: read, loaded, read, loaded, read, loaded.
    loaded = [index for index, event in enumerate(events) if event == "file loaded"]
    assert len(loaded) == 3
    assert events.index("read metrics.csv") < loaded[0]
    assert events.index("read responses.csv") < loaded[1]
    assert [result.kind for result in results] == ["customers", "metrics", "responses"]
    one_by_one = f"sqlite:///{tmp_path / 'one-by-one.db'}"
    alone = Harmonia(one_by_one, tiny)
    for path in FILES:  # one job a run: nothing to read ahead
        alone.loads.run(logged_jobs(alone, [path], []), country="NL")
    assert stored(database_url) == stored(one_by_one)


def test_a_file_loaded_before_is_not_read_ahead_and_loads_unchanged(
    harmonia_database: str, tiny: Catalog
) -> None:
    app = Harmonia(harmonia_database, tiny)
    app.loads.run(logged_jobs(app, FILES, []), country="NL")
    before = stored(harmonia_database)
    events: list[str] = []

    results = app.loads.run(logged_jobs(app, FILES, events), country="NL")

    assert events == []  # each file only hashed: the same content, skipped
    assert all(result.skipped for result in results)
    assert stored(harmonia_database) == before


def test_a_bad_file_read_ahead_fails_on_its_turn_after_the_files_before_it_stored(
    harmonia_database: str, tiny: Catalog, tmp_path: Path
) -> None:
    broken = write(tmp_path / "metrics.csv", "customer_id;therapy_area\n\x00\x00\x00;")
    app = Harmonia(harmonia_database, tiny)
    events: list[str] = []
    jobs = logged_jobs(app, [FILES[0], broken, FILES[2]], events)

    with pytest.raises(InputError):
        app.loads.run(jobs, country="NL", progress=lambda done, _: done and events.append("done"))

    assert sorted(events) == ["done", "read customers.csv", "read metrics.csv"]
    assert [row["kind"] for row in stored(harmonia_database)["batches"]] == ["customers"]


def test_a_read_ahead_interrupted_before_it_starts_reads_nothing(
    harmonia_database: str, tiny: Catalog
) -> None:
    app = Harmonia(harmonia_database, tiny)
    events: list[str] = []
    (job,) = logged_jobs(app, [FILES[1]], events)
    loader = Loader(app.database, app.catalog, country="NL")

    with Interruptible() as work:
        work.interrupt()  # the load stopped (Ctrl-C) before its read ahead began
        # DuckDB's interrupt() reaches only a query running then: an idle or new
        # connection would still run the next one to its end.
        with pytest.raises(Interrupted):
            duckdb_connection()
        with pytest.raises(Interrupted):
            loader.read_ahead(job.source, dict(job.options), ())

    assert events == []  # the source was never asked to read the file
    duckdb_connection().close()  # outside the interrupted work, connections open as ever
