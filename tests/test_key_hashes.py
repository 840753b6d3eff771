"""The two hashes that stand for a key when rows are grouped and joined
(responses, duplicate keys, quarantine): two keys that share the first hash
are still told apart by the second."""

from __future__ import annotations

import duckdb

from harmonia.ingest.loader import _two_hashes
from harmonia.questionnaires.validation import _HASHES

_MASK = 2**64 - 1
#: DuckDB's multiplier (MurmurHash64 and the combining of a hash's arguments).
_ODD = 0xD6E8FEB86659FD93


def _combine(a: int, b: int) -> int:
    """DuckDB's hash of (x, y) from hash(x) = a and hash(y) = b."""
    return ((a ^ (a >> 32)) * _ODD & _MASK) ^ b


def _unhash(h: int) -> int:
    """The UBIGINT whose DuckDB hash is ``h`` (MurmurHash64 inverted)."""
    inverse = pow(_ODD, -1, 2**64)
    for step in (lambda x: x ^ (x >> 32), lambda x: x * inverse & _MASK) * 2:
        h = step(h)
    return h ^ (h >> 32)


def _colliding_keys(duck: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
    """Two different two-column keys whose first hash, hash(a, b), is the same."""
    (a1, b1, a2), hashed = (1, 2, 3), {}
    for value in (a1, b1, a2):
        hashed[value] = duck.execute(f"SELECT hash({value}::UBIGINT)").fetchone()[0]
    b2 = _unhash(_combine(hashed[a1], hashed[b1]) ^ _combine(hashed[a2], 0))
    return [(a1, b1), (a2, b2)]


def test_keys_sharing_the_first_hash_differ_in_the_second() -> None:
    duck = duckdb.connect()
    keys = _colliding_keys(duck)
    duck.execute("CREATE TABLE k (a UBIGINT, b UBIGINT)")
    duck.executemany("INSERT INTO k VALUES (?, ?)", keys)
    assert duck.execute("SELECT count(DISTINCT hash(a, b)) FROM k").fetchone() == (1,)
    hashes = duck.execute(f"SELECT {_two_hashes(['a', 'b'])} FROM k").fetchall()
    assert hashes[0][0] == hashes[1][0] and hashes[0][1] != hashes[1][1]


def test_second_hash_is_not_the_first_combined_with_a_salt() -> None:
    # hash(key..., 'salt') = combine(hash(key...), hash('salt')): one hash, twice.
    duck = duckdb.connect()
    rows = duck.execute(
        "SELECT " + _HASHES + ", hash('harmonia') FROM (SELECT 'C1' AS _c, 'Q' AS _qid, "
        "'1' AS _ver, 'r' AS respondent, '2026-01-01' AS _at)"
    ).fetchone()
    first, second, salt = rows
    assert second != _combine(first, salt)
    single = duck.execute(f"SELECT {_two_hashes(['x'])}, hash('~') FROM (SELECT 'x' AS x)")
    one, two, tilde = single.fetchone()
    assert two != one and two != _combine(one, tilde)


def test_a_response_rows_key_hashes_tell_every_key_column_apart() -> None:
    """The duplicate key of responses is hashed from the check's response key
    hashes and the question: keys differing in any one column (or swapping two
    columns' texts) get different first and second hashes."""
    from harmonia.ingest.responses import KIND

    (key,) = KIND.keys
    assert key.hashes is not None
    first, second = key.hashes
    base = ("C1", "Q", "1", "r", "2026-01-01", "q1")
    keys = {base} | {
        tuple(f"{value}x" if index == changed else value for index, value in enumerate(base))
        for changed in range(len(base))
    }
    keys |= {("Q", "C1", *base[2:]), (*base[:4], "q1", "2026-01-01")}
    duck = duckdb.connect()
    duck.execute(
        "CREATE TABLE k (_c VARCHAR, _qid VARCHAR, _ver VARCHAR, respondent VARCHAR, "
        "_at VARCHAR, question VARCHAR)"
    )
    duck.executemany("INSERT INTO k VALUES (?, ?, ?, ?, ?, ?)", sorted(keys))
    counts = duck.execute(
        f"SELECT count(DISTINCT h1), count(DISTINCT h2), count(*) FROM "
        f"(SELECT {first} AS h1, {second} AS h2 FROM (SELECT *, {_HASHES} FROM k))"
    ).fetchone()
    assert counts == (len(keys),) * 3
