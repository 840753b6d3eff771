"""Worksheet rows as XML for many rows at once, and workbooks built around them.

XlsxWriter spends 4 to 7 µs of Python per cell, and the 2,000 territory
workbooks of a 1M universe hold ~13 million cells. Here a column of cells is
one Arrow string expression over every row of a batch (no Python call per
cell), the rows of one workbook are a slice of that one buffer, and what is
the same in every workbook (styles, header, comment, drop-down lists) is
written once by XlsxWriter, cut where the workbooks differ (:class:`Holes`)
and copied. Text is written as inline strings, as XlsxWriter's constant-memory
mode writes it, so no table of shared strings is built per workbook.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

#: Excel's limit on a cell's text; longer text is cut, as XlsxWriter cuts it.
CELL_MAX = 32_767
#: The characters XML 1.0 does not allow (but surrogates, which UTF-8 cannot
#: hold): dropped, as openpyxl's cells drop control characters. Each pattern here
#: is read alike by RE2, for columns, and by Python's re.
ILLEGAL = "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
#: Text that looks like Excel's own escape of a character (``_x0041_``) is escaped
#: itself, as XlsxWriter does, so that readers give it back as typed.
LOOKS_ESCAPED = r"(_x[0-9a-fA-F]{4}_)"
#: Characters written as Excel's escape, as XlsxWriter writes them: a raw CR
#: would be read back as LF (XML's ends of lines).
EXCEL_ESCAPED = (("\r", "_x000D_"),)
#: What may need escaping beyond the entities (one test per column).
NEEDS_ESCAPE = f"{ILLEGAL}|{LOOKS_ESCAPED}|[{''.join(char for char, _ in EXCEL_ESCAPED)}]"
#: XML's own escapes, ``&`` first.
ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
#: White space and Unicode spaces (Zs, Zl, Zp) spelt out (Python's re has no \pZ).
SPACE = "[\t\n\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
#: Leading or trailing white space, which XML keeps only when told to.
EDGE_SPACE = f"^{SPACE}|{SPACE}$"
#: Deflate level of the parts: 1 packs sheet XML to about a tenth, several times
#: faster than zlib's default (6), for files a few per cent larger.
COMPRESSION = 1


@attrs.frozen
class Text:
    """A column of text ready for inline-string cells: each value's ``<t>`` element
    from its attributes on (``>Ana``, `` xml:space="preserve"> Ana``); null for
    missing or empty text (a blank cell)."""

    xml: Any


def text(values: Any, *, repeated: bool = False) -> Text:
    """``values`` as the text of XML cells: cut to :data:`CELL_MAX` characters,
    control characters dropped, ``& < >``, ``_xHHHH_`` and :data:`EXCEL_ESCAPED`
    escaped, edge spaces kept. Each escape runs only on a column that needs it
    (most need none). ``repeated``: a column of few distinct values (a segment, a
    city), escaped once per value. :func:`escape` is the same for one text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.cast(values, pa.string())
    if repeated:
        encoded = pc.dictionary_encode(values)
        return Text(text(encoded.dictionary).xml.take(encoded.indices))
    if (pc.max(pc.utf8_length(values)).as_py() or 0) > CELL_MAX:
        values = pc.utf8_slice_codeunits(values, 0, CELL_MAX)
    if pc.any(pc.match_substring_regex(values, NEEDS_ESCAPE)).as_py():
        values = pc.replace_substring_regex(values, ILLEGAL, "")
        values = pc.replace_substring_regex(values, LOOKS_ESCAPED, r"_x005F\1")
        for char, escaped in EXCEL_ESCAPED:
            values = pc.replace_substring(values, char, escaped)
    for char, entity in ENTITIES:
        if pc.any(pc.match_substring(values, char)).as_py():
            values = pc.replace_substring(values, char, entity)
    edge = pc.match_substring_regex(values, EDGE_SPACE)
    opened = pc.binary_join_element_wise(
        pc.if_else(edge, ' xml:space="preserve">', ">"), values, ""
    )
    return Text(pc.if_else(pc.equal(values, ""), None, opened))


def cells(column: str, rows: Any, values: Any, style: int | None = None) -> Any:
    """The XML of column ``column``'s cell in each row (``rows``: the row numbers as
    text). Integers are numbers; anything else is text (:func:`text`, or given as
    :class:`Text` when several columns show it). A missing value is a blank cell
    when styled (the grey shows), else no cell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    styled = "" if style is None else f' s="{style}"'
    start = f'<c r="{column}'
    if isinstance(values, Text) or not (
        pa.types.is_integer(values.type) or pa.types.is_boolean(values.type)
    ):
        opened = (values if isinstance(values, Text) else text(values)).xml
        inline = f'"{styled} t="inlineStr"><is><t'
        xml = pc.binary_join_element_wise(start, rows, inline, opened, "</t></is></c>", "")
    else:
        numbers = pc.cast(pc.cast(values, pa.int64()), pa.string())
        xml = pc.binary_join_element_wise(start, rows, f'"{styled}><v>', numbers, "</v></c>", "")
    if not xml.null_count:
        return xml
    if not styled:
        return pc.fill_null(xml, "")
    return pc.coalesce(xml, pc.binary_join_element_wise(start, rows, f'"{styled}/>', ""))


def rows_xml(rows: Any, row_cells: Sequence[Any]) -> Any:
    """Each row's ``<row>`` element, its cells in order (``rows``: the numbers as text)."""
    import pyarrow.compute as pc

    return pc.binary_join_element_wise('<row r="', rows, '">', *row_cells, "</row>", "")


def row_numbers(numbers: Any) -> Any:
    """Row numbers as the text the cells' references are built from."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(pa.array(numbers, pa.int64()), pa.string())


def joined(values: Any, start: int, end: int) -> memoryview:
    """Items ``start:end`` of a string array (32-bit offsets), concatenated, without
    a copy."""
    import numpy as np

    values = values.combine_chunks() if hasattr(values, "combine_chunks") else values
    if end <= start:
        return memoryview(b"")
    _, offsets, data = values.buffers()
    at = np.frombuffer(offsets, dtype=np.int32, count=len(values) + values.offset + 1)
    first, last = int(at[values.offset + start]), int(at[values.offset + end])
    return memoryview(data)[first:last]


def escape(value: str) -> str:
    """One text as :func:`text` escapes a column of them (for the few cells written
    one at a time)."""
    value = re.sub(ILLEGAL, "", value[:CELL_MAX])
    value = re.sub(LOOKS_ESCAPED, r"_x005F\1", value)
    for char, escaped in (*EXCEL_ESCAPED, *ENTITIES):
        value = value.replace(char, escaped)
    return value


def attribute(value: str) -> str:
    """A value for an XML attribute (quotes escaped too)."""
    return escape(value).replace('"', "&quot;")


def text_cell(reference: str, value: str) -> str:
    """One cell of inline text (nothing for empty text)."""
    escaped = escape(value)
    if not escaped:
        return ""
    preserve = ' xml:space="preserve"' if re.search(EDGE_SPACE, escaped) else ""
    return f'<c r="{reference}" t="inlineStr"><is><t{preserve}>{escaped}</t></is></c>'


def number_cell(reference: str, value: int) -> str:
    return f'<c r="{reference}"><v>{int(value)}</v></c>'


#: What fills a hole: text, bytes, or a list of them.
Filling = bytes | memoryview | str | list[bytes | memoryview | str]


@attrs.frozen
class Holes:
    """A part's XML cut where each workbook has its own text: the constant chunks,
    one more than the holes."""

    chunks: tuple[bytes, ...]

    @classmethod
    def cut(cls, xml: bytes, *patterns: str) -> Holes:
        """Holes where each of ``patterns`` (regular expressions, in order, each
        matching once) is; a filling replaces what the pattern matched."""
        chunks, at = [], 0
        for pattern in patterns:
            found = re.compile(pattern.encode(), re.DOTALL).search(xml, at)
            if found is None:
                raise ValueError(f"the template has no {pattern!r} after byte {at}")
            chunks.append(xml[at : found.start()])
            at = found.end()
        chunks.append(xml[at:])
        return cls(tuple(chunks))

    def fill(self, *fillings: Filling) -> Iterable[bytes | memoryview]:
        """The part's chunks with each hole filled (a filling may be in pieces)."""
        if len(fillings) != len(self.chunks) - 1:
            raise ValueError(f"{len(self.chunks) - 1} holes, {len(fillings)} fillings")
        for chunk, filling in zip(self.chunks, fillings, strict=False):
            yield chunk
            for piece in filling if isinstance(filling, list) else [filling]:
                yield piece.encode() if isinstance(piece, str) else piece
        yield self.chunks[-1]


@attrs.frozen
class Part:
    """A part of the package as a zip entry: its local header (name included),
    its data deflated, and what its entry in the central directory says."""

    local: bytes
    deflated: bytes
    central: tuple[Any, ...]  # the directory entry's fields before its offset
    name: bytes

    @classmethod
    def of(cls, name: str, chunks: Iterable[bytes | memoryview]) -> Part:
        data = b"".join(chunks)
        deflated = zlib.compress(data, COMPRESSION, -15)  # raw deflate, as in zip
        # The fields both records share: method, time, CRC, sizes, name's length.
        common = (
            zipfile.ZIP_DEFLATED, *DOS_TIME, zlib.crc32(data), len(deflated), len(data),
            len(name),
        )  # fmt: skip
        local = struct.pack(LOCAL, b"PK\x03\x04", 20, 0, 0, *common, 0) + name.encode()
        central = (b"PK\x01\x02", 20, 0, 20, 0, 0, *common, 0, 0, 0, 0, 0)
        return cls(local, deflated, central, name.encode())


@attrs.frozen
class Template:
    """A workbook's parts, in the order XlsxWriter wrote them, deflated once: a
    workbook written from it deflates only its own parts (zipfile would deflate
    every part of every workbook again)."""

    parts: tuple[tuple[str, Part], ...]
    xml: dict[str, bytes]

    @classmethod
    def of(cls, xlsx: bytes) -> Template:
        import io

        with zipfile.ZipFile(io.BytesIO(xlsx)) as package:
            xml = {name: package.read(name) for name in package.namelist()}
        return cls(tuple((name, Part.of(name, [data])) for name, data in xml.items()), xml)

    def part(self, name: str) -> bytes:
        return self.xml[name]

    def write(self, out: Path, own: dict[str, Iterable[bytes | memoryview]]) -> None:
        """Write the workbook at ``out``: its ``own`` parts (their chunks in order)
        instead of the template's. A plain zip: deflated entries, no extras."""
        pieces, directory, at = [], [], 0
        for name, part in self.parts:
            if name in own:
                part = Part.of(name, own[name])
            directory += [struct.pack(CENTRAL, *part.central, at), part.name]
            pieces += [part.local, part.deflated]
            at += len(part.local) + len(part.deflated)
        size = sum(len(entry) for entry in directory)
        count = len(self.parts)
        end = struct.pack(END, b"PK\x05\x06", 0, 0, count, count, size, at, 0)
        out.write_bytes(b"".join([*pieces, *directory, end]))


#: The zip format's records (APPNOTE.TXT 4.3.7, 4.3.12, 4.3.16): a file's local
#: header, its entry in the central directory, the end of the directory.
LOCAL, CENTRAL, END = "<4s2B4HL2L2H", "<4s4B4HL2L5H2L", "<4sHHHHLLH"
#: Every part's time: 1980-01-01 00:00, the zip epoch (as XlsxWriter writes it).
DOS_TIME = (0, (0 << 9) | (1 << 5) | 1)
