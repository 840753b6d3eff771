"""The harmonized store: URLs, migrations, refusing foreign or outdated databases, SQLite guard."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from adbc_driver_manager import ProgrammingError
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from harmonia.errors import ConfigError
from harmonia.store import Database, resolve_url
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import SqliteHandles
from harmonia.store.models import metadata

TABLES = {
    "affiliation",
    "alembic_version",
    "answer",
    "assignment",
    "assignment_input_erasure",
    "audit_event",
    "crosswalk",
    "customer",
    "customer_attribute_history",
    "customer_merge",
    "customer_redirect",
    "customer_version",
    "fact_files",
    "fact_id_mark",
    "cycle",
    "cycle_input",
    "golden_value",
    "identifier",
    "load_batch",
    "match_pair",
    "metric",
    "objection",
    "plan_goal",
    "quarantine",
    "territory",
    "roster",
    "alignment",
    "refinement_scope",
    "refinement_request",
    "cycle_transition",
    "response",
    "strategy_plan",
    "suppression",
    "workspace_secret",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'new.db'}"
    return request.getfixturevalue("postgres_url")


# --- URLs ---------------------------------------------------------------------------------


def test_resolve_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARMONIA_DATABASE_URL", raising=False)
    assert resolve_url() == "sqlite:///harmonia.db"
    assert resolve_url("shared/h.db") == "sqlite:///shared/h.db"
    assert resolve_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert resolve_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("HARMONIA_DATABASE_URL", "postgresql://u@h/env")
    assert resolve_url() == "postgresql+psycopg://u@h/env"
    assert resolve_url("explicit.db") == "sqlite:///explicit.db"


def test_passwords_never_appear_in_messages() -> None:
    database = Database("postgresql://alice:s3cret@db.example:5432/harmonia")
    assert "s3cret" not in database.display_url and "alice" in database.display_url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/harmonia", "SQLite or PostgreSQL, not mysql"),
        ("sqlite:///{tmp}/missing/folder/h.db", "the folder"),
        ("postgresql://postgres@127.0.0.1:1/none", "cannot open the database"),
    ],
)
def test_a_database_that_cannot_be_used_is_a_config_error(
    tmp_path: Path, url: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        Database(url.format(tmp=tmp_path)).ensure_schema()
    assert raised.value.fix  # every such error says how to fix it
    assert "\n" not in raised.value.what


# --- migrations -------------------------------------------------------------------------------


def test_a_new_database_is_migrated_to_the_latest_revision(empty_url: str) -> None:
    database = Database(empty_url)
    assert database.current_revision() is None
    database.ensure_schema()
    assert database.current_revision() == database.head_revision() != ""
    with database.engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) == TABLES


def test_the_migrations_build_exactly_the_schema_the_models_declare(empty_url: str) -> None:
    database = Database(empty_url)
    database.upgrade()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == [], "the models changed without a migration"


def test_ensure_schema_twice_changes_nothing(empty_url: str) -> None:
    database = Database(empty_url)
    database.ensure_schema()
    database.ensure_schema()
    assert database.current_revision() == database.head_revision()


def test_an_outdated_database_is_refused_until_upgraded(
    harmonia_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    current = Database(harmonia_database).head_revision()
    monkeypatch.setattr("harmonia.store.database.SCHEMA_REVISION", "0099")
    with pytest.raises(ConfigError) as raised:
        Database(harmonia_database).ensure_schema()
    error = raised.value
    assert f"the database schema is at revision {current}, this harmonia needs 0099" in error.what
    assert "harmonia db upgrade" in error.fix and "back the database up" in error.fix


def test_a_database_of_another_application_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(ConfigError, match="has tables but no harmonia schema version") as raised:
        Database(str(path)).ensure_schema()
    assert "empty database or a harmonia database" in raised.value.fix
    with sqlite3.connect(path) as connection:  # and it was left alone
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        assert [name for (name,) in tables] == ["invoices"]


@pytest.mark.postgres
def test_a_postgresql_database_of_another_application_is_refused(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("CREATE TABLE invoices (id serial PRIMARY KEY)")
    with pytest.raises(ConfigError, match="has tables but no harmonia schema version"):
        Database(postgres_url).ensure_schema()


def test_a_database_from_a_newer_harmonia_is_refused_with_the_right_advice(
    harmonia_cli: Callable, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    Database(url).ensure_schema()
    with Database(url).engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    for command in (("db", "upgrade"), ("db", "current"), ("cycle", "list")):
        result = harmonia_cli("--database", url, *command)
        assert result.exit_code == 1, result.output
        assert "newer than this harmonia knows" in result.output
        assert "upgrade harmonia" in result.output and "Traceback" not in result.output


def test_db_upgrade_and_current_commands(
    harmonia_cli: Callable, tmp_path: Path, wide_terminal: None
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    head = Database(url).head_revision()
    current = harmonia_cli("--database", url, "db", "current")
    assert current.exit_code == 0
    assert "revision: none (no harmonia schema yet)" in current.output
    assert f"needed:   {head}" in current.output
    upgraded = harmonia_cli("--database", url, "db", "upgrade")
    assert upgraded.exit_code == 0 and f"empty -> {head}" in upgraded.output
    again = harmonia_cli("--database", url, "db", "upgrade")
    assert f"is up to date (revision {head})" in again.output
    assert f"revision: {head}" in harmonia_cli("--database", url, "db", "current").output


def test_commands_refuse_an_outdated_database_with_the_fix(
    harmonia_cli: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("harmonia.store.database.SCHEMA_REVISION", "0099")
    result = harmonia_cli("cycle", "list")
    assert result.exit_code != 0
    assert "this harmonia needs 0099" in result.output
    assert "harmonia db upgrade" in result.output and "Traceback" not in result.output


# --- two copies of SQLite must never hold one file ------------------------------------------------


def test_the_handle_ledger_refuses_a_second_library_on_an_open_file(tmp_path: Path) -> None:
    handles = SqliteHandles()
    path = tmp_path / "h.db"
    handles.opened(path, "pysqlite")
    handles.opened(path, "pysqlite")  # the same library twice is fine
    handles.opened(tmp_path / "other.db", "adbc")  # another file is fine
    with pytest.raises(RuntimeError, match="two SQLite libraries on one file"):
        handles.opened(path, "adbc")
    handles.closed(path, "pysqlite")
    with pytest.raises(RuntimeError):
        handles.opened(path, "adbc")
    handles.closed(path, "pysqlite")
    handles.opened(path, "adbc")  # every pysqlite handle is closed now


def test_bulk_access_while_the_orm_holds_the_file_is_an_error(harmonia_database: str) -> None:
    database = Database(harmonia_database)
    with database.engine.connect(), pytest.raises(RuntimeError, match="pysqlite has it open"):
        BulkConnection(database)
    with BulkConnection(database) as bulk:  # fine once the ORM connection is closed
        assert bulk.scalar("SELECT COUNT(*) FROM customer") == 0


def test_orm_access_while_a_bulk_connection_is_open_is_an_error(harmonia_database: str) -> None:
    database = Database(harmonia_database)
    with BulkConnection(database), pytest.raises(RuntimeError, match="adbc has it open"):
        database.engine.connect()
    with database.session() as session:  # and works again after the bulk connection closed
        assert session.connection() is not None


def test_a_failed_bulk_transaction_rolls_back_and_releases_the_file(harmonia_database: str) -> None:
    database = Database(harmonia_database)
    with pytest.raises(ZeroDivisionError), BulkConnection(database) as bulk:
        bulk.execute(
            "INSERT INTO audit_event (at, actor, action, subject, details) "
            "VALUES ('2027-01-01', 'me', 'test', 'x', '{}')"
        )
        1 / 0  # noqa: B018
    with database.session() as session:
        assert (
            session.connection().exec_driver_sql("SELECT COUNT(*) FROM audit_event").scalar() == 0
        )


def test_deferred_indexes_come_back_at_the_commit_and_stay_after_a_rollback(
    harmonia_database: str,
) -> None:
    database = Database(harmonia_database)

    def indexes() -> list[tuple[str, str]]:
        with database.engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name IN ('customer', 'identifier') AND sql IS NOT NULL ORDER BY name"
            )
            return [tuple(row) for row in rows]

    before = indexes()
    assert {name for name, _ in before} >= {"ix_customer_country", "ix_identifier_customer_id"}
    with pytest.raises(ZeroDivisionError), BulkConnection(database) as bulk:
        bulk.defer_indexes("customer", "identifier")
        assert not bulk.read(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'identifier' "
            "AND sql IS NOT NULL"
        ).num_rows
        1 / 0  # noqa: B018
    assert indexes() == before
    with BulkConnection(database) as bulk:
        bulk.defer_indexes("customer", "identifier")
        bulk.append(
            "identifier",
            pa.table({"scheme": ["X"], "value": ["1"], "customer_id": [1], "batch_id": [1]}),
        )
    assert indexes() == before


def test_the_schema_revision_constant_is_alembic_head(harmonia_database: str) -> None:
    from harmonia.store import Database
    from harmonia.store.database import SCHEMA_REVISION

    assert Database(harmonia_database).head_revision() == SCHEMA_REVISION


def test_a_bounded_stream_is_typed_by_its_schema(harmonia_database: str) -> None:
    """SQLite's driver types a stream from its first batch: a column NULL there reads as
    integers, and a text after it would fail the stream. Its schema types it right."""
    database = Database(harmonia_database)
    names = [None, None, "a", "", None]
    with BulkConnection(database) as bulk:
        values = " UNION ALL ".join(
            f"SELECT {i} AS n, {'NULL' if name is None else repr(name)} AS name"
            for i, name in enumerate(names)
        )
        schema = pa.schema([("n", pa.int64()), ("name", pa.string())])
        stream = bulk.stream(f"SELECT * FROM ({values}) ORDER BY n", batch_rows=2, schema=schema)
        batches = list(stream)
    assert stream.schema == schema
    assert [batch.num_rows for batch in batches] == [1, 2, 2]
    assert pa.Table.from_batches(batches).column("name").to_pylist() == names


def test_a_typed_stream_casts_to_each_kind_of_type(harmonia_database: str) -> None:
    """SQLite keeps booleans as integers, decimals as reals and dates and timestamps as ISO
    text: a stream typed as them reads them, NULL in its first batch, as its schema's
    types. A type SQLite has no value for is refused naming its column."""
    database = Database(harmonia_database)
    values = {
        "flag": ("1", pa.bool_(), True),
        "count": ("7", pa.int32(), 7),
        "price": ("2.5", pa.decimal128(10, 2), Decimal("2.50")),
        "day": ("'2026-12-07'", pa.date32(), date(2026, 12, 7)),
        "at": ("'2026-12-07 23:01:02'", pa.timestamp("us"), datetime(2026, 12, 7, 23, 1, 2)),
        "data": ("X'0102'", pa.binary(), b"\x01\x02"),
        "label": ("'x'", pa.large_string(), "x"),
    }
    schema = pa.schema([(name, kind) for name, (_, kind, _) in values.items()])
    nulls = ", ".join(f"NULL AS {name}" for name in values)
    given = ", ".join(f"{sql} AS {name}" for name, (sql, _, _) in values.items())
    with BulkConnection(database) as bulk:
        rows = f"SELECT 0 AS n, {nulls} UNION ALL SELECT 1, {given} ORDER BY n"
        stream = bulk.stream(rows, batch_rows=1, schema=schema)
        table = stream.read_all()
        assert stream.schema == schema
        assert table.to_pylist() == [
            dict.fromkeys(values),
            {name: value for name, (_, _, value) in values.items()},
        ]
        with pytest.raises(TypeError, match="column clock as time64"):
            bulk.stream("SELECT 1", batch_rows=1, schema=pa.schema([("clock", pa.time64("us"))]))


def test_a_typed_stream_takes_its_columns_by_name(harmonia_database: str) -> None:
    """A query's columns in another order than the schema's keep their values; one the
    query lacks is refused by name. A keyword is a column name like any other."""
    database = Database(harmonia_database)
    schema = pa.schema([("system", pa.string()), ("source_id", pa.string()), ("order", pa.int64())])
    with BulkConnection(database) as bulk:
        rows = "SELECT 'A1' AS source_id, 'crm' AS system, 1 AS \"order\""
        table = bulk.stream(rows, batch_rows=2, schema=schema).read_all()
        assert table.to_pylist() == [{"system": "crm", "source_id": "A1", "order": 1}]
        with pytest.raises(ProgrammingError, match=r"no such column: query\.system"):
            bulk.stream("SELECT 'A1' AS source_id, 1 AS \"order\"", batch_rows=2, schema=schema)


def test_a_bulk_connection_imports_no_pandas(harmonia_database: str) -> None:
    """ADBC's DB-API module imports pyarrow.dataset and with it pandas (about 0.25 s of
    CPU in every command that reads or writes in bulk, for nothing harmonia uses): bulk
    connections go through the driver manager's own API (harmonia.store.adbc). (Arrow
    arrays built from Python lists import pandas too: the rows here come from SQLite.)"""
    code = (
        "import sys\n"
        "from harmonia.store import Database\n"
        "from harmonia.store.bulk import BulkConnection\n"
        f"with BulkConnection(Database({harmonia_database!r})) as bulk:\n"
        "    name = bulk.stage(bulk.read('SELECT 1 AS n UNION ALL SELECT 2'))\n"
        "    assert bulk.scalar(f'SELECT SUM(n) FROM {name}') == 3\n"
        "print(sorted({'pandas', 'pyarrow.dataset'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_bulk_connection_that_fails_to_open_leaves_no_file_open(tmp_path: Path) -> None:
    """ADBC handles have no finalizer: a BulkConnection failing after it connected
    (here: the file is not a database) must close what it opened, and say so."""
    from harmonia.store.database import SQLITE_HANDLES

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 500)
    database = Database(str(garbage))
    for _ in range(3):
        with pytest.raises(Exception, match="not a database"):
            BulkConnection(database)
    fds = Path("/proc/self/fd")
    still_open = [fd for fd in fds.iterdir() if fd.resolve() == garbage.resolve()]
    assert still_open == []
    assert SQLITE_HANDLES._open.get((str(garbage.resolve()), "adbc"), 0) == 0
