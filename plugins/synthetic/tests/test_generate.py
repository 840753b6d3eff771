"""generate(): shape, determinism, chunking, identifiers, and the realism the demo relies on."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from stdnum import luhn
from synthetic_checks import tables

from harmonia import RECORD_KINDS, IdentifierScheme, InvalidIdentifier, Period
from harmonia_synthetic import generate, reference
from harmonia_synthetic.identifiers import digit_template, luhn_check_digits


def test_batches_have_exactly_the_canonical_columns_and_row_numbers(questionnaire):
    batches = list(generate(1_200, questionnaire=questionnaire, chunk_size=500))
    assert [b.kind for b in batches[:3]] == ["customers", "metrics", "responses"]
    assert len(batches) == 9  # three chunks, one batch of each kind per chunk
    for batch in batches:
        assert batch.table.column_names == [*RECORD_KINDS[batch.kind].column_names, "_row"]
        assert batch.table.schema.field("_row").type == pa.int64()
    for kind, table in tables(batches).items():
        assert table["_row"].to_pylist() == list(range(1, table.num_rows + 1)), kind


def test_same_seed_same_universe_other_seed_another():
    first = tables(generate(2_000, seed=7))
    again = tables(generate(2_000, seed=7))
    other = tables(generate(2_000, seed=8))
    for kind in ("customers", "metrics"):
        assert first[kind].equals(again[kind])
        assert not first[kind].equals(other[kind])


def test_rows_do_not_depend_on_the_chunk_size(questionnaire, rpps, finess, monkeypatch):
    # Chunks that cut generation blocks anywhere, with blocks of a tenth of their
    # size (the same code path, at a tenth of the cost): 2.4 blocks, in one
    # chunk, in chunks inside a block and in chunks across blocks.
    from harmonia_synthetic import generator
    from harmonia_synthetic import universe as universes

    block = universes.BLOCK_SIZE // 10
    monkeypatch.setattr(universes, "BLOCK_SIZE", block)
    monkeypatch.setattr(generator, "BLOCK_SIZE", block)

    def universe(chunk_size: int) -> dict[str, pa.Table]:
        batches = generate(
            12_000,
            seed=3,
            questionnaire=questionnaire,
            identifier_schemes=[rpps, finess],
            error_rate=0.01,
            chunk_size=chunk_size,
        )
        return tables(batches)

    whole, small, odd = universe(25_000), universe(2_000), universe(3_333)
    assert whole["customers"]["customer_id"][0].as_py() == "C0000001"
    ids = whole["customers"]["customer_id"]
    assert pc.count_distinct(ids).as_py() == ids.length() == 12_000
    for kind in whole:
        assert whole[kind].equals(small[kind]), kind
        assert whole[kind].equals(odd[kind]), kind


def test_customers_look_like_a_french_oncology_universe():
    customers = tables(generate(20_000))["customers"]
    types = customers["type"].to_numpy(zero_copy_only=False)
    assert 0.03 < np.mean(types == "HCO") < 0.07
    specialties = set(customers.filter(pc.equal(customers["type"], "HCP"))["specialty"].to_pylist())
    assert {"medical_oncology", "haematology", "general_practice", "urology"} <= specialties
    assert "Paris" in customers["city"].to_pylist()
    assert customers["first_name"].null_count == np.sum(types == "HCO")
    territories = set(customers["territory"].to_pylist())
    assert len(territories) == 50 and "FR-T001" in territories
    assert customers["id_value"].null_count == customers.num_rows  # no scheme given


def test_english_names_and_small_universes_keep_five_territories():
    customers = tables(generate(100, country="US", seed=1))["customers"]
    assert set(customers["country"].to_pylist()) == {"US"}
    assert len(set(customers["territory"].to_pylist())) == 5
    assert set(customers["city"].to_pylist()) <= {city for _, city, _ in reference.CITIES["US"]}
    french = {"François", "Hélène", "Céline", "Aurélie"}
    assert not french & set(customers["first_name"].to_pylist())


@pytest.mark.parametrize("scheme_names", [("rpps", "finess"), ("npi",)])
def test_identifiers_are_valid_unique_and_follow_the_scheme_order(request, scheme_names):
    schemes = [request.getfixturevalue(name) for name in scheme_names]
    country = schemes[0].country
    customers = tables(generate(30_000, country=country, identifier_schemes=schemes))["customers"]
    for kind, scheme in zip(("HCP", "HCO"), [*schemes, None], strict=False):
        rows = customers.filter(pc.equal(customers["type"], kind))
        if scheme is None:
            assert rows["id_value"].null_count == rows.num_rows
            continue
        assert set(rows["id_scheme"].to_pylist()) == {scheme.name}
        values = rows["id_value"].to_pylist()
        assert len(set(values)) == len(values)
        # FINESS declares no checksum, but its validate wants Luhn for digit-only numbers.
        assert all(luhn.is_valid(scheme.prefix + value) for value in values)
        assert all(scheme.check(value) == value for value in values[:2_000])


@pytest.mark.parametrize(
    ("pattern", "template"),
    [
        (r"\d{3}", (None, None, None)),
        (r"1\d{2}", ("1", None, None)),
        (r"[0-9]{2}80", (None, None, "8", "0")),
        (r"(?:\d{2}|2[ABab])\d{2}", (None, None, None, None)),
        (r"(?:2[AB]|9\d)\d", ("9", None, None)),
        (r"^\d{2}$", (None, None)),
        (r"[A-Z]\d{6}", None),
        (r"\d+", None),
        (r"\d{2,3}", None),
        (r"\w{4}", None),
        ("", None),
    ],
)
def test_digit_templates(pattern, template):
    assert digit_template(pattern) == template


def test_vectorized_luhn_agrees_with_stdnum():
    bodies = np.random.default_rng(0).integers(10**9, 10**10, 2_000)
    for prefix in ("", "80840", "7"):
        digits = luhn_check_digits(bodies, 10, prefix)
        expected = [int(luhn.calc_check_digit(prefix + str(body))) for body in bodies]
        assert digits.tolist() == expected


def test_schemes_the_generator_cannot_fill_are_skipped():
    def refuse(value: str) -> str:
        raise InvalidIdentifier("never")

    letters = IdentifierScheme(name="GMC", country="GB", description="", pattern=r"[A-Z]\d{6}")
    picky = IdentifierScheme(
        name="PICKY", country="GB", description="", pattern=r"\d{6}", validate=refuse
    )
    plain = IdentifierScheme(name="PLAIN", country="GB", description="", pattern=r"\d{7}")
    schemes = [letters, picky, plain]
    customers = tables(generate(500, country="GB", identifier_schemes=schemes))["customers"]
    hcps = customers.filter(pc.equal(customers["type"], "HCP"))
    assert set(hcps["id_scheme"].to_pylist()) == {"PLAIN"}
    assert all(len(value) == 7 and value[0] != "0" for value in hcps["id_value"].to_pylist())


def test_potential_is_heavy_tailed_with_decimals():
    metrics = tables(generate(20_000))["metrics"]
    potential = metrics.filter(pc.equal(metrics["metric"], "potential"))
    assert set(potential["period"].to_pylist()) == {"2026"}
    values = np.sort(potential["value"].to_numpy())[::-1]
    assert len(values) == 20_000
    top_fifth = values[: len(values) // 5].sum() / values.sum()
    assert top_fifth > 0.6
    assert np.mean(values != np.round(values)) > 0.9  # cents, so decimal commas matter


def test_trx_and_calls_follow_potential_with_zeros_and_gaps():
    metrics = tables(generate(20_000))["metrics"]
    expected = [str(q) for q in Period.parse("2027-H1").trailing("quarter", 8)]
    trx = metrics.filter(pc.equal(metrics["metric"], "trx"))
    assert sorted(set(trx["period"].to_pylist())) == expected
    calls = metrics.filter(pc.equal(metrics["metric"], "calls"))
    assert sorted(set(calls["period"].to_pylist())) == expected[-4:]

    by_customer = trx.group_by("customer_id").aggregate([("value", "sum"), ("value", "count")])
    quarters = by_customer["value_count"].to_numpy()
    assert 0.2 < np.mean(trx["value"].to_numpy() == 0) < 0.8
    assert np.mean(quarters < 8) > 0.2 and np.mean(quarters == 8) > 0.2  # gaps and full runs

    potential = metrics.filter(pc.equal(metrics["metric"], "potential"))
    joined = by_customer.join(potential.select(["customer_id", "value"]), "customer_id")
    assert _rank_correlation(joined["value_sum"], joined["value"]) > 0.3
    called = pc.count_distinct(calls["customer_id"]).as_py() / 20_000
    assert 0.1 < called < 0.8


def test_questionnaire_free_universe_has_no_responses():
    assert "responses" not in tables(generate(300))


@pytest.mark.parametrize(
    "arguments",
    [
        {"customers": 0},
        {"seed": -1},
        {"country": "France"},
        {"coverage": 1.5},
        {"error_rate": -0.1},
        {"period": "2027-Q5"},
        {"chunk_size": 0},
    ],
)
def test_bad_parameters_fail_before_generating(arguments):
    with pytest.raises(ValueError):
        generate(**{"customers": 10, **arguments})


def test_a_scheme_too_small_for_the_universe_is_refused():
    tiny = IdentifierScheme(
        name="TINY", country="FR", description="", pattern=r"\d{3}", checksum="luhn"
    )
    with pytest.raises(ValueError, match="only 90 distinct values"):
        generate(1_000, identifier_schemes=[tiny])


def test_a_universe_has_every_kind_in_proportion(questionnaire, rpps, finess):
    """How fast is measured by benchmarks/bench_synthetic.py, against a hand-made floor."""
    rows = dict.fromkeys(RECORD_KINDS, 0)
    for batch in generate(20_000, questionnaire=questionnaire, identifier_schemes=[rpps, finess]):
        rows[batch.kind] += batch.table.num_rows
    assert rows["customers"] == 20_000
    assert rows["metrics"] > 100_000 and rows["responses"] > 20_000


def _rank_correlation(left: pa.ChunkedArray, right: pa.ChunkedArray) -> float:
    ranks = [np.argsort(np.argsort(column.to_numpy())) for column in (left, right)]
    return float(np.corrcoef(*ranks)[0, 1])
