"""Reusing a cycle's features: the exact key of everything they were computed from.

A cycle run again on the same inputs derives the same features. The embedded
engine keeps them beside the facts (:mod:`harmonia.store.feature_cache`) and
reuses them only under a key that names everything they came from, in two
parts, ``<inputs>-<records>``:

* **inputs**, known before anything is read: the SQL that derives the features
  and counts the input coverage (every definition, parameter and period the
  features depend on is in its text), the slices of the facts it reads,
  DuckDB's version, and each fact file the cycle's snapshot reads, by its path,
  size, modification time and inode (a file is replaced whole, never changed
  in place: a load adds files, an erasure replaces them);
* **records**, the records that SQL reads (customers, golden values,
  identifiers, merges, objections) as the cycle read them: per table, its rows
  and the sum of their hashes.

A changed rule changes neither (rules apply to the features); a changed
feature, questionnaire or parameter, a new load, an erasure, an objection or
a merge changes one. Where no entry has the same inputs (a first cycle, a new
load), the facts are read beside the records as always; where one has, the
facts are read only if the records differ from it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from harmonia.engine.coverage import input_coverage_sql
from harmonia.sql import literal
from harmonia.store import feature_cache
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database
from harmonia.store.facts import FACT_TABLES, facts_of

if TYPE_CHECKING:
    import pyarrow as pa

    from harmonia.engine.query import CycleQuery

#: Changes when what an entry holds, or how its key is made, changes.
FORMAT = 1

#: zstd at its fastest level: the same CPU as snappy, DuckDB's default, half the bytes
#: (1M customers' features: 15.6 MB instead of 28.8 MB).
_PARQUET = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1"

#: The steps that are not the features': the previous cycle's, the rules'.
_AFTER_FEATURES = ("previous", "ruled")


@attrs.frozen
class Reuse:
    """The features a cycle may reuse: its key's first part, and what the second hashes."""

    database: Database
    query: CycleQuery
    batches: tuple[int, ...] | None
    #: The fact and record inputs the features and the coverage read.
    facts: tuple[str, ...]
    records: tuple[str, ...]
    #: The fact files read, each by path, size, modification time and inode.
    files: str
    inputs: str
    #: The entries' generation when the key was made: an erasure or an objection
    #: meanwhile starts a new one, and then nothing read before it is kept.
    generation: str = ""

    @classmethod
    def of(
        cls, database: Database, query: CycleQuery, batches: Sequence[int] | None
    ) -> Reuse | None:
        """None where the store keeps no features (its facts are not files)."""
        import duckdb

        if feature_cache.folder(database) is None:
            return None
        queries = query.input_queries()
        steps, _ = query.assignment_steps(inputs_as_columns=True)
        read = [sql for name, sql in steps.items() if name not in _AFTER_FEATURES]
        read.append(input_coverage_sql(query))
        named = set(re.findall(r"\w+", " ".join(read).lower()))
        facts = tuple(name for name in queries if name in FACT_TABLES)
        records = tuple(
            name
            for name in queries
            if name in named and name not in FACT_TABLES and name != "assignment"
        )
        read += [queries[name] for name in facts]
        snapshot = None if batches is None else tuple(batches)
        files = _files(database, facts, snapshot)
        digest = hashlib.sha256(f"{FORMAT} duckdb {duckdb.__version__}\n".encode())
        digest.update("\n".join([*read, files]).encode())
        generation = feature_cache.generation(database)
        return cls(
            database, query, snapshot, facts, records, files, digest.hexdigest()[:32], generation
        )

    def likely(self) -> bool:
        """Whether an entry has these inputs (only the records can still differ)."""
        return feature_cache.any_starting(self.database, f"{self.inputs}-")

    def key(self, connection: Any) -> str:
        """The whole key, the records hashed as ``connection`` holds them."""
        digest = hashlib.sha256()
        for name in self.records:
            ((rows, total),) = connection.execute(
                f"SELECT COUNT(*), SUM(hash({name})::HUGEINT) FROM {name}"
            ).fetchall()
            digest.update(f"{name} {rows} {total}\n".encode())
        return f"{self.inputs}-{digest.hexdigest()[:32]}"

    def find(self, key: str) -> Path | None:
        return feature_cache.find(self.database, key)

    def features(self, entry: Path) -> str:
        """DuckDB SQL: the kept features of ``entry``."""
        return f"SELECT * FROM read_parquet({literal(str(entry / feature_cache.FEATURES))})"

    def coverage(self, entry: Path) -> pa.Table:
        import pyarrow.parquet as pq

        return pq.read_table(entry / feature_cache.COVERAGE)

    def save(self, key: str, connection: Any, computed: str, coverage: pa.Table) -> None:
        """Keep the features of the computed assignments ``computed`` and the coverage
        counted on the same inputs, unless a fact file was replaced since the key was
        made (an erasure meanwhile: the rows are not those of the key)."""
        import pyarrow.parquet as pq

        if _files(self.database, self.facts, self.batches) != self.files:
            return

        def write(folder: Path) -> None:
            target = literal(str(folder / feature_cache.FEATURES))
            connection.execute(
                f"COPY ({self.query.features_of(computed)}) TO {target} ({_PARQUET})"
            )
            pq.write_table(coverage, folder / feature_cache.COVERAGE)

        feature_cache.save(self.database, key, write, self.generation)


def _files(database: Database, facts: Sequence[str], batches: Sequence[int] | None) -> str:
    """The fact files of ``facts`` a reader of ``batches`` reads, one line each."""
    stored = facts_of(database)
    lines = []
    with BulkConnection(database, write=False) as bulk:
        for table in facts:
            for path in stored.visible_files(bulk, table, batches):
                stat = path.stat()
                lines.append(
                    f"{table} {path.relative_to(stored.root)} {stat.st_size} "
                    f"{stat.st_mtime_ns} {stat.st_ino}"
                )
    return "\n".join(lines)
