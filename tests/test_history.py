"""The customer attribute history's reader (store/history.py) against a reference."""

from __future__ import annotations

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from harmonia.definitions.country import GOLDEN_ATTRIBUTES
from harmonia.store.history import latest_sql

VALUE = st.one_of(st.none(), st.sampled_from(["", "a", "b", "c"]))
ROW = st.tuples(
    st.sampled_from(["S1", "S2", "S3"]),
    st.integers(1, 4),
    st.fixed_dictionaries({a: VALUE for a in GOLDEN_ATTRIBUTES}),
)


def reference(rows: list[tuple[str, int, dict]]) -> dict[str, dict[str, str | None]]:
    """Per record, each attribute's value of its latest batch giving one (not NULL: the
    loader stores no blank, and a blank stored would be a value given)."""
    latest: dict[str, dict[str, str | None]] = {}
    for record, _, values in sorted(rows, key=lambda row: (row[0], row[1])):
        known = latest.setdefault(record, dict.fromkeys(GOLDEN_ATTRIBUTES))
        for attribute, value in values.items():
            if value is not None:
                known[attribute] = value
    return latest


@settings(max_examples=60, deadline=None)
@given(st.lists(ROW, min_size=1, max_size=12, unique_by=lambda row: (row[0], row[1])))
def test_latest_values_are_the_last_given_per_record(rows: list[tuple[str, int, dict]]) -> None:
    history = pa.table(
        {
            "source_id": [record for record, _, _ in rows],
            "batch_id": pa.array([batch for _, batch, _ in rows], pa.int64()),
            **{
                a: pa.array([values[a] for _, _, values in rows], pa.string())
                for a in GOLDEN_ATTRIBUTES
            },
        }
    )
    duck = duckdb.connect()
    duck.register("history", history)
    found = {
        row["source_id"]: {a: row[a] for a in GOLDEN_ATTRIBUTES}
        for row in duck.sql(latest_sql("history", "source_id")).to_arrow_table().to_pylist()
    }
    assert found == reference(rows)
