"""What the loader knows of a record kind: one record, declared by the kind's own module.

Each kind is one module of this package with everything that is particular
to it: the SQL that checks its rows, its natural keys with the reason a
repeat gets, what it watches for the load's warnings, and its merger into
the store. The loader (:mod:`harmonia.ingest.loader`) runs every kind
through the same steps and knows no kind by name.

====================  ==============================================
``customers``         :mod:`harmonia.ingest.customers`
``metrics``           :mod:`harmonia.ingest.metrics`
``responses``         :mod:`harmonia.ingest.responses`
``territories``       :mod:`harmonia.ingest.territories`
``roster``            :mod:`harmonia.ingest.roster`
``alignment``         :mod:`harmonia.ingest.alignment`
``affiliations``      :mod:`harmonia.ingest.affiliations`
====================  ==============================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from harmonia.ingest.checks import CheckContext
from harmonia.ingest.merge import Merger

if TYPE_CHECKING:
    import duckdb

    from harmonia.ingest.plausibility import Expectations


@attrs.frozen
class DuplicateKey:
    """Columns whose repetition within one load is a duplicate.

    The loader flags every repeat after the first, across the chunks of a
    large file, with ``message``: SQL over the repeated row, where
    ``first_row`` is the row that first carried the key.
    """

    columns: tuple[str, ...]
    message: str
    #: SQL over the checked row for the key's two hashes (``h1``, ``h2``: see
    #: :func:`harmonia.sql.key_hashes`), where the check has already hashed most
    #: of the key (a response's rows, its response key): cheaper than hashing
    #: the columns again. They must tell keys apart as the columns do on every
    #: row with the whole key. None: the columns are hashed.
    hashes: tuple[str, str] | None = None


class Watch:
    """Counts, chunk by chunk, what loads but no installed pack expects, for the
    load's warnings (see :mod:`harmonia.ingest.plausibility`). This one expects
    everything; a kind that watches for something subclasses it."""

    def __init__(self, duck: duckdb.DuckDBPyConnection, expected: Expectations):
        self.duck = duck
        self.expected = expected

    def count(self, table: str) -> None:
        """Count the valid rows of the checked table ``table``."""

    def warnings(self) -> list[str]:
        return []


def _nothing_to_prepare(duck: duckdb.DuckDBPyConnection, context: CheckContext) -> None:
    pass


#: The rows to merge, from the checked rows (the DuckDB table ``checked``).
VALID_ROWS = "SELECT * EXCLUDE (_reasons) FROM checked WHERE len(_reasons) = 0"


@attrs.frozen
class Kind:
    """One record kind as the loader runs it (its columns: :data:`harmonia.RECORD_KINDS`)."""

    name: str
    #: The SQL over the raw text columns of a chunk (``raw``) returning typed,
    #: normalized columns plus ``_reasons`` (see :mod:`harmonia.ingest.checks`).
    check: Callable[[CheckContext], str]
    #: Merges the valid rows into the store, one instance per load batch.
    merger: type[Merger]
    #: The natural key first: a quarantined row is resolved by a row with its key.
    keys: tuple[DuplicateKey, ...]
    #: Columns whose rows must land in the same chunk (checked together).
    whole: tuple[str, ...] = ()
    valid_rows: str = VALID_ROWS
    watch: type[Watch] = Watch
    #: Sets up the load's DuckDB connection for ``check`` (functions it calls).
    prepare: Callable[[duckdb.DuckDBPyConnection, CheckContext], None] = _nothing_to_prepare
