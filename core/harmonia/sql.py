"""SQL text: the one place where values and names become literals and identifiers.

harmonia writes SQL as text for DuckDB, SQLite and PostgreSQL (and any sqlglot
dialect). Every value that is inlined goes through :func:`literal` (or
:func:`quote` for text), every name through :func:`identifier`, so a quote in
a file name, a questionnaire's text or an option code can never end a string
early. Values come from harmonia and its packs (definitions, paths the user
named), never from a data row: rows travel as Arrow tables.

A leaf of the core: it imports nothing of harmonia.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any


def quote(value: object) -> str:
    """A SQL text literal: ``it's`` -> ``'it''s'``."""
    return "'" + str(value).replace("'", "''") + "'"


def literal(value: Any) -> str:
    """A SQL literal for None, a flag, a number or a text."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return quote(value)


def identifier(name: str) -> str:
    """A quoted SQL identifier: ``Customer ID`` -> ``"Customer ID"``."""
    return '"' + name.replace('"', '""') + '"'


def text_list(values: Iterable[object]) -> str:
    """A SQL list of text literals (``'a', 'b'``), never empty (``NULL`` matches nothing)."""
    quoted = [quote(value) for value in values]
    return ", ".join(quoted) if quoted else "NULL"


def double(value: float) -> str:
    """A numeric literal that every engine reads as a double."""
    return f"CAST({float(value)!r} AS DOUBLE)"


# --- row checks (DuckDB) ---------------------------------------------------------------


def quoted_in_message(expression: str) -> str:
    """SQL: a value shown inside a message, in quotes (``'x'``; a quote in it doubled,
    ``'O''Brien'``), so that alike messages can be counted together once their values
    are masked (see :data:`QUOTED_VALUE`)."""
    return "'''' || replace(" + expression + ", '''', '''''') || ''''"


#: A regular expression (RE2, Python) of a value :func:`quoted_in_message` quoted.
QUOTED_VALUE = "'(?:[^']|'')*'"


def reasons(*conditions: str) -> str:
    """The ``_reasons`` column of a row check: the messages of every condition that applies.

    Each condition is SQL giving a message or NULL. Most rows are fine, so the
    list is only built when some condition holds (DuckDB evaluates each
    condition once and shares it between both uses).
    """
    listed = ",\n        ".join(conditions)
    return (
        f"CASE WHEN COALESCE({listed}) IS NULL THEN []::VARCHAR[] "
        f"ELSE list_filter([{listed}], lambda r: r IS NOT NULL) END AS _reasons"
    )


def key_hashes(values: Iterable[str], first: str, second: str) -> str:
    """SQL (DuckDB): two independent 64-bit hashes of a key (the ``values``' SQL),
    as columns ``first`` and ``second``: grouping or joining on them stands for the
    key, and a false match needs both to collide.

    Not ``hash(key..., 'salt')`` nor ``hash('salt', key...)``: DuckDB combines
    the hashes of its arguments as ``((a ^ a >> 32) * odd) ^ b``, so either is a
    bijection of ``hash(key...)`` (the latter for a one-column key), one 64-bit
    hash counted twice. The second hashes each value's text with a byte
    appended, so every column is hashed afresh (NULL stays NULL).
    """
    values = list(values)
    salted = ", ".join(f"CAST({value} AS VARCHAR) || '~'" for value in values)
    return f"hash({', '.join(values)}) AS {first}, hash({salted}) AS {second}"


def hmac_sql(column: str, key: bytes) -> str:
    """SQL (DuckDB): HMAC-SHA256 of ``column`` (as text) under ``key``, as 64 hex digits.

    RFC 2104 written out in SQL: the padded keys are constants, the two
    hashes run vectorised over the whole column.
    """
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = bytes(b ^ 0x36 for b in key).hex()
    outer = bytes(b ^ 0x5C for b in key).hex()
    message = f"encode(CAST({column} AS VARCHAR))"  # UTF-8 bytes, no escapes read
    return f"sha256(unhex('{outer}') || unhex(sha256(unhex('{inner}') || {message})))"
