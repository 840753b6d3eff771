"""Canonical files, both ways: reading what ``harmonia load`` takes, writing what it reads.

A public module: packs (sources and sinks that read or write canonical
files) use it as the built-ins do.

Reading (:mod:`harmonia.files.reading`)
    :func:`read_csv` and :func:`read_parquet` yield :class:`FileBatch` objects
    of a kind's canonical columns, as text, with the line each row came
    from; lines that cannot be read come back as :class:`RejectedLine` for
    the quarantine. :func:`detect_kind` and :func:`peek_kind` tell a file's
    kind from its header, :func:`normalize_header` how a header names a
    column, and :data:`KIND_ORDER` the order kinds load in.
Values (:mod:`harmonia.files.values`)
    :func:`canonical_value` turns a typed value (a spreadsheet cell, JSON)
    into answer text every market's convention reads back the same.
Writing (:mod:`harmonia.files.writing`)
    :func:`write_csv` writes batches as ``<kind>.csv`` files in a market's
    conventions (``;`` and decimal commas, or ``,`` and points), and
    :func:`write_table_csv` any Arrow table, :func:`write_table` as Parquet or
    CSV by the file's suffix; :func:`remove_rows` rewrites a
    written CSV or Parquet file without some rows (to erase a person).

Both go through :func:`harmonia.compute.duckdb_connection`.
"""

from harmonia.files.reading import (
    KIND_ORDER,
    FileBatch,
    RejectedLine,
    detect_kind,
    normalize_header,
    peek_kind,
    read_csv,
    read_parquet,
)
from harmonia.files.values import canonical_value
from harmonia.files.writing import remove_rows, write_csv, write_table, write_table_csv

__all__ = [
    "KIND_ORDER",
    "FileBatch",
    "RejectedLine",
    "canonical_value",
    "detect_kind",
    "normalize_header",
    "peek_kind",
    "read_csv",
    "read_parquet",
    "remove_rows",
    "write_csv",
    "write_table",
    "write_table_csv",
]
