"""Reading canonical files (CSV, Parquet) into batches.

CSV is read by DuckDB as text: ``,`` or ``;`` (sniffed, or given), UTF-8
with or without a byte-order mark, header names normalized (``Customer ID``
becomes ``customer_id``). Lines DuckDB cannot split into the header's columns
are not lost: they come back as rejected lines and are quarantined with
DuckDB's reason. Each batch carries ``_row``, the row's line number in the
file (the header is line 1, as in a spreadsheet).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from harmonia.compute import duckdb_connection
from harmonia.errors import InputError
from harmonia.plugin.types import RECORD_KINDS, Batch
from harmonia.sql import identifier, quote

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


@attrs.frozen
class RejectedLine:
    """A line of a text file that could not be split into the header's columns."""

    line: int
    text: str
    reason: str


@attrs.frozen
class FileBatch(Batch):
    """A batch read from a file, with the lines that could not be read at all."""

    rejected_lines: tuple[RejectedLine, ...] = ()
    ignored_columns: tuple[str, ...] = ()
    delimiter: str | None = None
    #: The file's column names in its own order (normalized): how to read a
    #: rejected line's fields.
    header: tuple[str, ...] = ()
    #: ``(code, what people saw)``: codes the file showed differently (a rep
    #: workbook's question texts); a rejected row's reasons name both.
    terms: tuple[tuple[str, str], ...] = ()
    #: ``(question code, ((option code, what people saw), ...))``: the options a
    #: file showed by their texts (a rep workbook's drop-down lists); a rejected
    #: answer's list of allowed options names them so, for that question only.
    options: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def fields_of(self, line: RejectedLine) -> dict[str, str]:
        """A rejected line's fields under the header's names, from the left.

        A short line leaves the last columns empty; a long line's extra
        fields are dropped. Only the kind's own columns are returned.
        """
        wanted = set(RECORD_KINDS[self.kind].column_names)
        fields = split_line(line.text, self.delimiter or ",")
        return {
            name: value.strip()
            for name, value in zip(self.header, fields, strict=False)
            if name in wanted and value.strip()
        }


def normalize_header(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower().lstrip("\ufeff")).strip("_")


def detect_kind(columns: list[str], location: str, kind: str | None = None) -> str:
    """The record kind whose required columns the header has."""
    if kind is not None:
        if kind not in RECORD_KINDS:
            raise InputError(
                f"{kind!r} is not a record kind",
                where=location,
                fix=f"use one of {sorted(RECORD_KINDS)}",
            )
        missing = [name for name in RECORD_KINDS[kind].required if name not in columns]
        if missing:
            raise InputError(
                f"a {kind} file needs the columns {', '.join(missing)}; the header has {', '.join(columns)}",
                where=location,
                fix="rename the columns (see the README's input formats)",
            )
        return kind
    matches = [name for name, spec in RECORD_KINDS.items() if set(spec.required) <= set(columns)]
    if len(matches) == 1:
        return matches[0]
    expected = "; ".join(
        f"{name}: {', '.join(spec.required)}" for name, spec in RECORD_KINDS.items()
    )
    raise InputError(
        f"cannot tell what this file holds from its header ({', '.join(columns) or 'empty'})",
        where=location,
        fix=f"give the required columns of one kind ({expected}), or name it with --kind",
    )


#: Files up to this size are read whole; larger ones are streamed in chunks.
STREAM_ABOVE_BYTES = 200 * 1024 * 1024


def read_csv(
    path: Path,
    *,
    delimiter: str | None = None,
    kind: str | None = None,
    encoding: str = "utf-8",
    fallback_encoding: str | None = None,
) -> Iterator[FileBatch]:
    """Read a canonical CSV file as one batch of text columns.

    Large files come as a stream of record batches, so a load of tens of
    millions of rows stays within a bounded amount of memory. DuckDB reads
    UTF-8, UTF-16 and Latin-1 itself; a file in any other encoding Python
    knows (cp1252, Excel's plain 'CSV' in Western Europe; cp932, Japanese
    Excel's) is first transcoded to a temporary UTF-8 copy.

    A file read as UTF-8 that is not UTF-8 is refused whole, unless
    ``fallback_encoding`` names the market's legacy encoding (Excel's plain
    'CSV'), which it is then read in. A file read in a legacy encoding that
    is in fact UTF-8 (valid UTF-8 with non-ASCII text, which legacy text
    practically never is) is refused too, rather than loaded as mojibake.
    """
    location = str(path)
    if not path.is_file():
        raise InputError("no such file", where=location, fix="check the path")
    codec = _codec(encoding, location)
    if codec == "utf-8":
        # One pass decides both whether the file is UTF-8 and, when it is not,
        # whether the market's legacy encoding reads it instead (a large file
        # costs a second or so per pass).
        invalid = _scan_utf8(path).invalid
        if invalid is not None and fallback_encoding:
            codec = _codec(fallback_encoding, location)
        if invalid is not None and codec == "utf-8":
            raise _not_utf8(path, invalid)
    elif codec not in ("utf-16", "utf-32"):
        _check_not_utf8(path, codec)
    if codec in DUCKDB_ENCODINGS:
        yield from _read_csv(path, location, delimiter, kind, DUCKDB_ENCODINGS[codec])
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="harmonia-") as folder:
        copy = Path(folder) / path.name
        _transcode(path, codec, copy)
        yield from _read_csv(copy, location, delimiter, kind, "utf-8")


#: Python's codec names -> DuckDB's, for the encodings DuckDB reads itself.
DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "iso8859-1": "latin-1"}


def _codec(encoding: str, location: str) -> str:
    import codecs

    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputError(
            f"unknown text encoding {encoding!r}",
            where=location,
            fix="use utf-8, latin-1, cp1252 or another Python codec name",
        ) from None


def _transcode(source: Path, codec: str, target: Path) -> None:
    """``source`` in ``codec`` as UTF-8 at ``target``, block by block."""
    with (
        source.open(encoding=codec, newline="") as reader,
        target.open("w", encoding="utf-8", newline="") as writer,
    ):
        try:
            while block := reader.read(1 << 22):
                writer.write(block)
        except UnicodeDecodeError as error:
            raise InputError(
                f"this file is not {codec}: {error.reason}",
                where=str(source),
                fix="give its real encoding with --encoding",
            ) from None


#: The longest line DuckDB reads (its ``max_line_size``). A longer one, a huge
#: field, is quarantined with its line number; the rest of the file loads.
MAX_LINE_BYTES = 2_000_000

#: What a line too long is replaced with in the copy DuckDB reads: one field, so
#: DuckDB rejects it at its own line number, with every other line as it was.
_LONG_LINE_MARK = b"harmonia: line too long"

_BYTE_ORDER_MARKS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _read_csv(
    path: Path, location: str, delimiter: str | None, kind: str | None, encoding: str
) -> Iterator[FileBatch]:
    """Read a CSV file; a file with lines DuckDB cannot hold is read from a copy
    with those lines marked, and each becomes a rejected line ("field too large")."""
    with path.open("rb") as file:
        raw = file.read(4096)
    head = raw
    for mark in _BYTE_ORDER_MARKS:
        head = head.removeprefix(mark)
    if not head.replace(b"\x00", b"").strip():
        only = " (only a byte-order mark)" if head != raw and not head else ""
        raise InputError(
            f"the file is empty: not even a header row{only}",
            where=location,
            fix="export it again, with its header row",
        )
    import tempfile

    delimiter = delimiter or _header_delimiter(path, encoding)
    wide = _wide_header(path, encoding, delimiter)
    if wide is not None:
        # DuckDB keeps a buffer per column, read or not: a header of 200,000
        # columns exhausts its memory. Read a copy holding only the columns a
        # record kind can use; the others are reported as ignored, as always.
        with tempfile.TemporaryDirectory(prefix="harmonia-") as folder:
            copy = Path(folder) / path.name
            dropped = _narrow(path, encoding, delimiter, wide, copy)
            for batch in _read_csv(copy, location, delimiter, kind, "utf-8"):
                ignored = (*batch.ignored_columns, *dropped)
                yield attrs.evolve(batch, ignored_columns=ignored)
        return
    try:
        yield from _read_csv_once(path, location, delimiter, kind, encoding)
        return
    except _LinesTooLong:
        pass

    long_lines = _long_lines(path)
    if 1 in long_lines:
        # A wide file (a header of thousands of columns), not a huge field: its
        # lines are all long. Read it with room for its longest line.
        longest = max(end - start for start, end in long_lines.values())
        yield from _read_csv_once(
            path, location, delimiter, kind, encoding, {}, max_line=longest + 2
        )
        return
    with tempfile.TemporaryDirectory(prefix="harmonia-") as folder:
        copy = Path(folder) / path.name
        _mark_lines(path, long_lines, copy)
        yield from _read_csv_once(copy, location, delimiter, kind, encoding, long_lines, path)


#: A header wider than this is narrowed to the columns a record kind can use
#: before DuckDB reads the file (see :func:`_narrow`).
WIDE_HEADER_COLUMNS = 2_000


def _wide_header(path: Path, encoding: str, delimiter: str) -> list[str] | None:
    """The header's fields when there are more than :data:`WIDE_HEADER_COLUMNS`, else None."""
    if encoding not in ("utf-8", "latin-1"):
        return None  # UTF-16 files are rare and narrow: read as they are
    with path.open("rb") as file:
        first = file.readline()
    if first.count(delimiter.encode()) < WIDE_HEADER_COLUMNS:
        return None
    text = first.decode(encoding.replace("utf-8", "utf-8-sig"), errors="replace")
    fields = split_line(text, delimiter)
    return fields if len(fields) > WIDE_HEADER_COLUMNS else None


def _narrow(
    path: Path, encoding: str, delimiter: str, header: list[str], target: Path
) -> tuple[str, ...]:
    """Copy ``path`` to ``target`` (UTF-8) with only the columns some record kind reads;
    returns the names of those left out. Every line stays on its line number."""
    import csv

    known = {name for spec in RECORD_KINDS.values() for name in spec.column_names}
    known.update(EXTRA_COLUMNS, EXPORT_NOTES)
    names = [normalize_header(name) for name in header]
    keep = [index for index, name in enumerate(names) if name in known]
    with (
        path.open(encoding=encoding.replace("utf-8", "utf-8-sig"), newline="") as reader,
        target.open("w", encoding="utf-8", newline="") as writer,
    ):
        rows = csv.reader(reader, delimiter=delimiter)
        out = csv.writer(writer, delimiter=delimiter, lineterminator="\n")
        for row in rows:
            out.writerow([row[index] for index in keep if index < len(row)])
    return tuple(name for name in names if name not in known)


class _LinesTooLong(Exception):
    """DuckDB met a line longer than :data:`MAX_LINE_BYTES`."""


def _long_lines(path: Path) -> dict[int, tuple[int, int]]:
    """Lines longer than :data:`MAX_LINE_BYTES`: line number (the header is 1) -> their
    byte range, found by a vectorized scan of the newlines, block by block."""
    import numpy as np

    found: dict[int, tuple[int, int]] = {}
    line, start, offset = 1, 0, 0
    with path.open("rb") as file:
        while block := file.read(1 << 24):
            ends = np.flatnonzero(np.frombuffer(block, np.uint8) == ord("\n")) + offset
            if len(ends):
                starts = np.concatenate(([start], ends[:-1] + 1))
                for index in np.flatnonzero(ends - starts > MAX_LINE_BYTES):
                    found[line + int(index)] = (int(starts[index]), int(ends[index]))
                line += len(ends)
                start = int(ends[-1]) + 1
            offset += len(block)
    if offset - start > MAX_LINE_BYTES:
        found[line] = (start, offset)
    return found


def _mark_lines(path: Path, lines: dict[int, tuple[int, int]], target: Path) -> None:
    """A copy of ``path`` at ``target`` with each of ``lines`` replaced by a short mark."""
    import shutil

    with path.open("rb") as source, target.open("wb") as copy:
        position = 0
        for start, end in sorted(lines.values()):
            copy.write(source.read(start - position))
            copy.write(_LONG_LINE_MARK)
            source.seek(end)
            position = end
        shutil.copyfileobj(source, copy, 1 << 22)


def _too_long(path: Path, line: int, span: tuple[int, int]) -> RejectedLine:
    """The rejected line of a line too long: its start as text, its size as the reason."""
    start, end = span
    with path.open("rb") as file:
        file.seek(start)
        text = file.read(200).decode("utf-8", errors="replace")
    return RejectedLine(
        line,
        text + "...",
        f"field too large: the line holds {(end - start) / 1e6:,.1f} MB, more than the "
        f"{MAX_LINE_BYTES / 1e6:,.0f} MB a line may (is a value pasted in by mistake, or a "
        "quote left open?)",
    )


def _read_csv_once(
    path: Path,
    location: str,
    delimiter: str | None,
    kind: str | None,
    encoding: str,
    long_lines: dict[int, tuple[int, int]] | None = None,
    original: Path | None = None,
    max_line: int = MAX_LINE_BYTES,
) -> Iterator[FileBatch]:
    import duckdb

    # The header names the delimiter unambiguously (canonical names hold none);
    # DuckDB's sniffer can be led astray by a malformed line further down.
    delimiter = delimiter or _header_delimiter(path, encoding)
    connection = duckdb_connection()
    try:
        options = ["all_varchar = true", "header = true", "store_rejects = true"]
        options.append(f"delim = {quote(delimiter)}")
        options.append(f"max_line_size = {max_line}")
        if encoding.lower().replace("-", "") not in ("utf8",):
            options.append(f"encoding = {quote(encoding)}")
        source = f"read_csv({quote(str(path))}, {', '.join(options)})"
        try:
            names = connection.sql(f"SELECT * FROM {source} LIMIT 0").columns
        except duckdb.Error as error:
            if "Maximum line size" in str(error) and long_lines is None:
                raise _LinesTooLong from None
            raise InputError(
                f"cannot read this file as CSV: {_first_line(error)}",
                where=location,
                fix="save it as CSV (UTF-8) with a header row",
            ) from None
        columns = [normalize_header(name) for name in names]
        kind = detect_kind(columns, location, kind)
        try:
            if path.stat().st_size <= STREAM_ABOVE_BYTES:
                table = _fetch(connection, source, names)
                rejected = _rejected_lines(connection)
                batch = _batch(table, columns, location, kind, rejected)
            else:
                batch = _streamed(connection, source, names, columns, location, kind)
        except duckdb.Error as error:
            if "Maximum line size" in str(error) and long_lines is None:
                raise _LinesTooLong from None
            raise
        rejected = _field_counts(batch.rejected_lines, delimiter, len(columns))
        if long_lines:
            marked = original or path
            rejected = tuple(
                _too_long(marked, line.line, long_lines[line.line])
                if line.line in long_lines
                else line
                for line in rejected
            )
        yield attrs.evolve(
            batch, delimiter=delimiter, header=tuple(columns), rejected_lines=rejected
        )
    finally:
        connection.close()


def _streamed(
    connection: duckdb.DuckDBPyConnection,
    source: str,
    names: list[str],
    columns: list[str],
    location: str,
    kind: str,
) -> FileBatch:
    """A batch whose table is a stream; unreadable lines are found by a first, cheap pass."""
    import numpy as np
    import pyarrow as pa

    connection.execute(f"SELECT COUNT(*) FROM {source}").fetchall()
    rejected = _rejected_lines(connection)
    shifts = np.array(sorted(line.line - index for index, line in enumerate(rejected, start=1)))
    spec = RECORD_KINDS[kind]
    select = ", ".join(
        f"CAST({identifier(name)} AS VARCHAR) AS {identifier(normalize_header(name))}"
        for name in names
    )
    reader = connection.sql(f"SELECT {select} FROM {source}").to_arrow_reader(250_000)
    kept = _kept(spec.column_names, columns)
    schema = pa.schema([(name, pa.string()) for name in kept] + [("_row", pa.int64())])

    def numbered() -> Iterator[pa.RecordBatch]:
        count = 0
        for record_batch in reader:
            data = np.arange(count + 1, count + 1 + record_batch.num_rows, dtype=np.int64)
            # Data row k is on line k + 1, plus one for every unreadable line before it.
            lines = (
                data + 1 + np.searchsorted(shifts, data, side="right") if len(shifts) else data + 1
            )
            count += record_batch.num_rows
            arrays = [
                record_batch.column(record_batch.schema.get_field_index(name))
                if name in columns
                else pa.nulls(record_batch.num_rows, pa.string())
                for name in kept
            ]
            yield pa.RecordBatch.from_arrays([*arrays, pa.array(lines)], schema=schema)

    ignored = _ignored(kept, columns)
    stream = pa.RecordBatchReader.from_batches(schema, numbered())
    return FileBatch(kind, stream, location, rejected_lines=rejected, ignored_columns=ignored)


def read_parquet(path: Path, *, kind: str | None = None) -> Iterator[FileBatch]:
    """Read a canonical Parquet file as one batch (columns cast to text)."""
    import duckdb

    location = str(path)
    if not path.is_file():
        raise InputError("no such file", where=location, fix="check the path")
    connection = duckdb_connection()
    try:
        source = f"read_parquet({quote(location)})"
        try:
            names = connection.sql(f"SELECT * FROM {source}").columns
        except duckdb.Error as error:
            raise InputError(
                f"cannot read this file as Parquet: {_first_line(error)}", where=location
            ) from None
        table = _fetch(connection, source, names, as_text=False)
    finally:
        connection.close()
    yield _batch(table, [normalize_header(name) for name in names], location, kind, ())


def _fetch(
    connection: duckdb.DuckDBPyConnection, source: str, names: list[str], *, as_text: bool = True
) -> pa.Table:
    """The columns renamed to canonical names (as text, for CSV), with row numbers.

    Typed files keep their types: the loader knows a double is a number
    already and must not re-read it in the market's decimal convention.
    """
    select = ", ".join(
        (f"CAST({identifier(name)} AS VARCHAR)" if as_text else identifier(name))
        + f" AS {identifier(normalize_header(name))}"
        for name in names
    )
    return connection.sql(
        f"SELECT {select}, CAST(row_number() OVER () AS BIGINT) AS _row FROM {source}"
    ).to_arrow_table()


#: Columns kept beside a kind's own, from a fixed ``quarantine export`` file: the
#: id of the quarantined row, and the original text of a line that could not be read.
EXTRA_COLUMNS = ("quarantine_id", "original_line")

#: Columns of a ``quarantine export`` file that are there to be read, not loaded.
EXPORT_NOTES = ("reasons",)


def _kept(canonical: tuple[str, ...], columns: list[str]) -> list[str]:
    return [*canonical, *(name for name in EXTRA_COLUMNS if name in columns)]


def _ignored(kept: list[str], columns: list[str]) -> tuple[str, ...]:
    """Columns no one reads (an exported file's reasons are expected, not ignored)."""
    exported = "quarantine_id" in columns
    return tuple(
        name for name in columns if name not in kept and not (exported and name in EXPORT_NOTES)
    )


#: How much of a file the UTF-8 checks decode at a time: the whole file is
#: checked (a bad byte on line ten million is as wrong as one on line 2) in
#: bounded memory.
UTF8_CHUNK_BYTES = 4 << 20


@attrs.frozen
class _Utf8Scan:
    """What decoding a whole file as UTF-8 found: its first invalid byte (line, byte)
    and its first non-ASCII character (line, text), each if any."""

    invalid: tuple[int, int] | None
    non_ascii: tuple[int, str] | None


def _scan_utf8(path: Path) -> _Utf8Scan:
    """Decode ``path`` as UTF-8 chunk by chunk (an incremental decoder carries a
    character split across chunks), until the first invalid byte.

    A chunk of ASCII bytes with no character carried into it is valid as it is:
    it is not decoded (most of a large export is ASCII). Lines are counted only
    to report a finding, by reading the file again up to it.
    """
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # bytes in the chunks already decoded
    non_ascii: tuple[int, str] | None = None
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(UTF8_CHUNK_BYTES)
            if chunk and chunk.isascii() and not decoder.getstate()[0]:
                offset += len(chunk)
                continue
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                # error.object is the decoder's carried bytes (never a newline)
                # followed by this chunk.
                line = _line_at(path, offset) + error.object.count(b"\n", 0, error.start)
                return _Utf8Scan((line, error.object[error.start]), non_ascii)
            if non_ascii is None and not text.isascii():
                first = next(index for index, char in enumerate(text) if ord(char) > 127)
                # The carried bytes hold no newline: the text's lines start at the chunk's.
                line = _line_at(path, offset) + text.count("\n", 0, first)
                non_ascii = (line, text[first])
            if not chunk:
                return _Utf8Scan(None, non_ascii)
            offset += len(chunk)


def _line_at(path: Path, offset: int) -> int:
    """The number of the line the byte at ``offset`` of ``path`` is on (from 1)."""
    lines = 1
    with path.open("rb") as handle:
        while offset > 0:
            block = handle.read(min(offset, UTF8_CHUNK_BYTES))
            if not block:
                break
            lines += block.count(b"\n")
            offset -= len(block)
    return lines


def _not_utf8(path: Path, invalid: tuple[int, int]) -> InputError:
    """A file that is not UTF-8, refused up front rather than quarantined line by line."""
    line, byte = invalid
    return InputError(
        f"this file is not UTF-8 (line {line} holds byte 0x{byte:02x})",
        where=str(path),
        fix="save it as 'CSV UTF-8', or give its encoding: --encoding cp1252 for "
        "Excel's plain 'CSV' in Western Europe",
    )


def _check_utf8(path: Path) -> None:
    """Refuse a file that is not UTF-8 up front, rather than quarantine most of its lines."""
    invalid = _scan_utf8(path).invalid
    if invalid is not None:
        raise _not_utf8(path, invalid)


def _check_not_utf8(path: Path, codec: str) -> None:
    """Refuse a UTF-8 file about to be read in a legacy encoding (it would load as mojibake)."""
    scan = _scan_utf8(path)
    if scan.invalid is not None or scan.non_ascii is None:
        return  # not UTF-8, or plain ASCII: the legacy encoding may well be right
    line, shown = scan.non_ascii
    raise InputError(
        f"this file is UTF-8, not {codec} (line {line} holds {shown!r} written in UTF-8)",
        where=str(path),
        fix="read it as UTF-8: --encoding utf-8 (or leave --encoding out where the "
        "country's files are UTF-8)",
    )


def _header_delimiter(path: Path, encoding: str) -> str:
    """The delimiter the header line uses: ``;``, ``,``, tab or ``|``."""
    try:
        with path.open(encoding=encoding.replace("utf-8", "utf-8-sig"), errors="replace") as handle:
            header = handle.readline()
    except (OSError, LookupError):
        return ","
    counts = {mark: header.count(mark) for mark in (";", ",", "\t", "|")}
    best = max(counts, key=lambda mark: counts[mark])
    return best if counts[best] else ","


def _rejected_lines(connection: duckdb.DuckDBPyConnection) -> tuple[RejectedLine, ...]:
    # DuckDB reports a short line once per missing column: one line, one entry.
    rows = connection.sql(
        "SELECT line, any_value(csv_line), string_agg(DISTINCT error_message, '; ') "
        "FROM reject_errors GROUP BY line ORDER BY line"
    ).fetchall()
    return tuple(RejectedLine(int(line), text or "", reason) for line, text, reason in rows)


def split_line(text: str, delimiter: str) -> list[str]:
    """The fields of one line of CSV text as Python's csv module reads them."""
    import csv

    try:
        return next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter), [])
    except csv.Error:
        return text.rstrip("\r\n").split(delimiter)


def _field_counts(
    lines: tuple[RejectedLine, ...], delimiter: str, expected: int
) -> tuple[RejectedLine, ...]:
    """Rejected lines whose reason says how many fields they have, where that is the problem.

    DuckDB names a short line once per missing column ("Expected Number of
    Columns: 11 Found: 5; ... Found: 9"); a person wants "4 fields where the
    header has 11". Only rejected lines pass here, never a whole file.
    """
    counted = []
    for line in lines:
        if "Expected Number of Columns" not in line.reason:
            counted.append(line)
            continue
        count = len(split_line(line.text, delimiter))
        if count < expected:
            reason = f"{count} fields where the header has {expected} (is the line cut short, or a value broken over two lines?)"
        elif count > expected:
            reason = f"{count} fields where the header has {expected} (does a value hold {delimiter!r}? put it in double quotes)"
        else:  # Python's csv module reads the right count: DuckDB stumbled on a quote
            reason = f"its fields do not match the header's {expected} columns (is a double quote left open?)"
        counted.append(attrs.evolve(line, reason=reason))
    return tuple(counted)


def _batch(
    table: pa.Table,
    columns: list[str],
    location: str,
    kind: str | None,
    rejected: tuple[RejectedLine, ...],
) -> FileBatch:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = detect_kind(columns, location, kind)
    spec = RECORD_KINDS[kind]
    # Data row k is on line k + 1, plus one for every rejected line before it.
    rows = pc.add(table.column("_row"), 1)
    if rejected:
        import numpy as np

        shifts = np.array(sorted(line.line - index for index, line in enumerate(rejected, start=1)))
        data = table.column("_row").to_numpy()
        rows = pa.array(data + 1 + np.searchsorted(shifts, data, side="right"), pa.int64())
    kept = _kept(spec.column_names, columns)
    arrays = {
        name: table.column(name) if name in columns else pa.nulls(table.num_rows, pa.string())
        for name in kept
    }
    arrays["_row"] = rows
    ignored = _ignored(kept, columns)
    return FileBatch(
        kind, pa.table(arrays), location, rejected_lines=rejected, ignored_columns=ignored
    )


def _first_line(error: Exception) -> str:
    return str(error).strip().split("\n")[0]


KIND_ORDER = (
    "territories",
    "roster",
    "customers",
    "affiliations",
    "alignment",
    "metrics",
    "responses",
)


def peek_kind(path: Path) -> str | None:
    """The kind of a canonical file from its header alone (None when unclear)."""
    import csv

    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            columns = [normalize_header(name) for name in pq.read_schema(path).names]
        else:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                header = handle.readline()
            delimiter = ";" if header.count(";") > header.count(",") else ","
            columns = [
                normalize_header(name) for name in next(csv.reader([header], delimiter=delimiter))
            ]
        return detect_kind(columns, str(path))
    except (InputError, OSError, StopIteration, ValueError):
        return None
