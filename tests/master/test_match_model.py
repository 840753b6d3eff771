"""The matching model itself: its prior, and what its comparisons weigh.

Scored straight from DuckDB tables (``customers``, ``systems``), as
:func:`harmonia.master.matching.match` builds them from the store.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pyarrow as pa
import pytest

from harmonia.compute import duckdb_connection
from harmonia.master.matching import PRIOR_FROM_PAIRS, score_pairs

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_master.py"


def universe(rows: list[dict], systems: dict[int, str] | None = None):
    """A DuckDB connection holding ``rows`` as FR customers, each known to its system."""
    columns = ("first_name", "last_name", "specialty", "postal_code", "address", "phone", "email")
    duck = duckdb_connection()
    customers = pa.table(
        {
            "id": pa.array(range(1, len(rows) + 1), pa.int64()),
            "country": ["FR"] * len(rows),
            **{c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns},
        }
    )
    known = pa.table(
        {
            "customer_id": pa.array(range(1, len(rows) + 1), pa.int64()),
            "system": [(systems or {}).get(i, "crm") for i in range(1, len(rows) + 1)],
        }
    )
    for name, table in (("customers", customers), ("systems", known)):
        duck.register("incoming", table)
        duck.execute(f"CREATE TABLE {name} AS SELECT * FROM incoming")
        duck.unregister("incoming")
    return duck


def person(n: int, **fields: str) -> dict:
    return {
        "first_name": f"Jean{n:05d}",
        "last_name": f"Martin{n:05d}",
        "specialty": "oncology",
        "postal_code": f"{n % 90000 + 1000:05d}",
        "address": f"{n} rue de la paix",
        **fields,
    }


def test_the_prior_is_estimated_from_customers_sharing_an_e_mail_address() -> None:
    # 300 people known twice at their practice, half of them with one e-mail address:
    # the e-mail rule finds 150 pairs and half of the sure pairs, so 300 are expected.
    rows = []
    for n in range(300):
        shared = f"p{n}@chu.fr" if n % 2 else None
        rows += [
            person(n, email=shared or f"p{n}@chu.fr"),
            person(n, email=shared or f"p{n}.old@chu.fr"),
        ]
    rows += [person(1000 + n, email=f"s{n}@chu.fr") for n in range(1400)]
    duck = universe(rows)
    customers, _, prior, prior_from = score_pairs(duck, "FR")
    assert customers == 2000
    assert prior == pytest.approx(150 / 0.5 / (2000 * 1999 / 2))  # not 1/N
    assert prior_from.startswith("estimated: customers sharing an e-mail address")
    assert "50% of 300 pairs with the same name and practice" in prior_from


def test_without_enough_to_estimate_from_the_prior_stays_1_over_n_and_says_why() -> None:
    few = [person(n) for n in range(PRIOR_FROM_PAIRS - 1) for _ in (1, 2)]
    _, _, prior, prior_from = score_pairs(universe(few), "FR")
    assert prior == 1 / len(few)
    assert prior_from.startswith(f"1/N: {PRIOR_FROM_PAIRS - 1} pairs with the same name")
    assert f"{PRIOR_FROM_PAIRS} needed" in prior_from

    no_mail = [person(n) for n in range(PRIOR_FROM_PAIRS) for _ in (1, 2)]
    _, _, prior, prior_from = score_pairs(universe(no_mail), "FR")
    assert prior == 1 / len(no_mail)
    assert "none of 100 pairs with the same name and practice shares an e-mail" in prior_from


def _known_twice() -> list[dict]:
    """300 people known twice at their practice, half with one e-mail address, and 1400 once."""
    rows = []
    for n in range(300):
        shared = f"p{n}@chu.fr" if n % 2 else None
        rows += [
            person(n, email=shared or f"p{n}@chu.fr"),
            person(n, email=shared or f"p{n}.old@chu.fr"),
        ]
    return rows + [person(1000 + n, email=f"s{n}@chu.fr") for n in range(1400)]


def test_after_merges_the_prior_is_estimated_on_every_record_the_same() -> None:
    # A re-run after the first merged the 300 sure pairs: the customers not merged have
    # no sure pair left, but the prior is counted on every record, so it does not fall
    # back to 1/N (several times too high) and merge what the first run would not.
    first = score_pairs(universe(_known_twice()), "FR")[2]
    duck = universe(_known_twice())
    duck.execute("CREATE TABLE everyone AS SELECT * FROM customers")
    duck.execute("DELETE FROM customers WHERE id <= 600 AND id % 2 = 0")
    customers, _, prior, prior_from = score_pairs(duck, "FR", population="everyone")
    assert customers == 1700
    assert prior == pytest.approx(first) and prior_from.startswith("estimated")
    assert "on 2,000 customer records" in prior_from


def test_a_shared_mailbox_does_not_raise_the_prior() -> None:
    # 50 more customers on one placeholder address would add 1,225 "one person's"
    # pairs to the rule's 150: an address held by more than a few is nobody's.
    rows = _known_twice()
    placeholder = [person(5000 + n, email="inconnu@inconnu.fr") for n in range(50)]
    alone = score_pairs(universe(rows), "FR")[2]
    _, _, prior, prior_from = score_pairs(universe(rows + placeholder), "FR")
    assert prior_from.startswith("estimated")
    assert 0.75 * alone < prior < 1.25 * alone


def test_the_prior_is_at_most_1_over_n() -> None:
    # Every customer shares a mailbox with one other: the rule would say more
    # than every other customer has a duplicate, which no prior can be.
    rows = [person(n, email=f"p{n}@chu.fr") for n in range(150) for _ in (1, 2)]
    rows += [person(1000 + n, email=f"s{n // 3}@chu.fr") for n in range(300)]
    _, _, prior, prior_from = score_pairs(universe(rows), "FR")
    assert prior == 1 / len(rows) and prior_from.endswith("capped at 1/N")


def test_pairs_a_steward_rejected_are_not_sure_pairs() -> None:
    # The 150 sure pairs without a shared address were rejected (namesakes at one
    # practice): the rule found every one of the other 150, so its recall is 100%.
    duck = universe(_known_twice())
    duck.execute(
        "CREATE TABLE rejected AS SELECT 2 * n + 1 AS left_id, 2 * n + 2 AS right_id "
        "FROM range(0, 300, 2) t(n)"
    )
    _, _, prior, prior_from = score_pairs(duck, "FR", rejected="rejected")
    assert prior == pytest.approx(150 / 1.0 / (2000 * 1999 / 2))
    assert "100% of 150 pairs with the same name and practice" in prior_from


def _bench():
    spec = importlib.util.spec_from_file_location("bench_master", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def harder_scored():
    """The benchmark's ``--harder`` universe at 20k x 8k (trained, as at 1M), scored.

    (DuckDB connection, customers, prior, how it was found, each row's person.)
    """
    bench = _bench()
    crm, vendor = bench.harder(*bench.generate(20_000, 8_000, 0.3))
    rows, systems, persons = [], {}, []
    for table, system in ((crm, "crm"), (vendor, "vendor")):
        for row in table.to_pylist():
            rows.append(row)
            systems[len(rows)] = system
            persons.append(row["customer_id"].split("-")[0][1:])
    duck = universe(rows, systems)
    customers, _, prior, prior_from = score_pairs(duck, "FR")
    return duck, customers, prior, prior_from, persons


@pytest.mark.slow
def test_the_trained_model_estimates_the_prior_and_weighs_a_shared_system_against(
    harder_scored,
) -> None:
    # The prior comes within a quarter of the true share of pairs that are one person,
    # where 1/N is several times too high; two records of one system are one person
    # less often than two of two systems, which the model learns.
    duck, customers, prior, prior_from, persons = harder_scored
    counts = pa.table({"person": persons}).group_by("person").aggregate([("person", "count")])
    true_pairs = sum(k * (k - 1) // 2 for k in counts.column("person_count").to_pylist())
    true_share = true_pairs / (customers * (customers - 1) / 2)
    assert prior_from.startswith("estimated")
    assert 0.75 * true_share < prior < 1.25 * true_share < 1 / customers / 2
    weights = duck.sql(
        """
        SELECT len(list_intersect(l.systems, r.systems)) > 0,
            max(CAST(json_extract(s.evidence, '$.systems') AS DOUBLE))
        FROM scored s JOIN records l ON l.unique_id = s.left_id
        JOIN records r ON r.unique_id = s.right_id GROUP BY 1
        """
    ).fetchall()
    assert dict(weights)[True] < 0 < dict(weights)[False]


@pytest.mark.slow
def test_another_e_mail_address_weighs_less_across_systems_than_inside_one(
    harder_scored,
) -> None:
    # Two systems are often given two mailboxes of one person (a personal one, the
    # hospital's that a move changes); one system's duplicates keep theirs. So another
    # address says little against a pair across systems, much inside one: one weight
    # for both put moved vendor copies under the merge threshold, and namesakes inside
    # a system over it.
    duck = harder_scored[0]
    weights = dict(
        duck.sql(
            """
            SELECT len(list_intersect(l.systems, r.systems)) > 0,
                max(CAST(json_extract(s.evidence, '$.email') AS DOUBLE))
            FROM scored s JOIN records l ON l.unique_id = s.left_id
            JOIN records r ON r.unique_id = s.right_id
            WHERE l.email <> r.email GROUP BY 1
            """
        ).fetchall()
    )
    assert weights[True] < weights[False] - 2 < 0
