"""A cycle reuses the features an earlier cycle computed from the same inputs, and no others.

The embedded engine keeps a cycle's features beside the facts
(:mod:`harmonia.store.feature_cache`) under a key of everything they came from
(:mod:`harmonia.engine.reuse`). A changed rule reuses them; a new load, a
changed customer, an erasure, an objection and a changed feature definition
each compute them again. Whichever way, the cycle assigns exactly what it
assigns when computed afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import tiny_market
from helpers import load, run_tiny_cycle, tiny_catalog, tiny_catalog_with, write

from harmonia.engine import backends
from harmonia.engine.cycle import CycleResult
from harmonia.engine.query import ASSIGNMENT_COLUMNS
from harmonia.master.privacy import erase, object_to_profiling
from harmonia.plugin.catalog import Catalog
from harmonia.store import feature_cache
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database


class Segmentations(list[bool]):
    """Per segmentation: whether it reused features; and in how many parts it ran."""

    parts: list[int]


@pytest.fixture
def reused(monkeypatch: pytest.MonkeyPatch) -> Segmentations:
    found = Segmentations()
    found.parts = []
    compute = backends.compute_in_parts

    def spy(connection: Any, query: Any, computed: str, features: str | None = None) -> int:
        found.append(features is not None)
        found.parts.append(compute(connection, query, computed, features))
        return found.parts[-1]

    monkeypatch.setattr(backends, "compute_in_parts", spy)
    return found


def _cycle(url: str, catalog: Catalog, tmp_path: Path, period: str = "2027-H1") -> CycleResult:
    return run_tiny_cycle(url, catalog, period, tmp_path)


def _assigned(url: str, result: CycleResult) -> list[tuple[Any, ...]]:
    """The cycle's assignments, every stored column and the inputs, but its id; and what
    it recorded of its inputs' coverage and its segments."""
    from harmonia.store import assignments as stored

    database = Database(url)
    with BulkConnection(database, write=False) as bulk:
        rows = stored.read(bulk, int(result.cycle.id), ASSIGNMENT_COLUMNS)
    rows = rows.sort_by("customer_id").drop_columns(["cycle_id"]).to_pylist()
    return [
        *(tuple(row.values()) for row in rows),
        (repr(result.input_coverage), repr(result.coverage), repr(result.summary)),
    ]


def _rule_set_with(**changed: Any) -> Catalog:
    (rule_set,) = tiny_market.harmonia_segmentation_rules()
    return tiny_catalog_with(
        harmonia_segmentation_rules=lambda: [attrs.evolve(rule_set, **changed)]
    )


def _stricter_develop() -> Catalog:
    """The global team raises the bar for ``develop``: a rule, not a feature, changes."""
    (rule_set,) = tiny_market.harmonia_segmentation_rules()
    rules = tuple(
        attrs.evolve(rule, when="potential_q = 2 AND consistency >= 0.75")
        if rule.id == "develop"
        else rule
        for rule in rule_set.segment.rules
    )
    return _rule_set_with(version="2", segment=attrs.evolve(rule_set.segment, rules=rules))


def _afresh(url: str, catalog: Catalog, tmp_path: Path, reused: Segmentations) -> CycleResult:
    """The same cycle with nothing kept to reuse."""
    feature_cache.forget(Database(url))
    result = _cycle(url, catalog, tmp_path)
    assert reused[-1] is False
    return result


def test_a_changed_rule_reuses_the_features_and_assigns_as_computed_afresh(
    h1: str, tmp_path: Path, reused: Segmentations
) -> None:
    _cycle(h1, tiny_catalog(), tmp_path)
    (entry,) = feature_cache.folder(Database(h1)).iterdir()
    assert {path.name for path in entry.iterdir()} == {
        feature_cache.FEATURES,
        feature_cache.COVERAGE,
    }
    stricter = _stricter_develop()
    again = _cycle(h1, stricter, tmp_path)
    assert reused == [False, True]
    assert again.cycle.rule_set_version == "2"
    afresh = _afresh(h1, stricter, tmp_path, reused)
    assert _assigned(h1, again) == _assigned(h1, afresh)
    # The rule did change something: C03 and C04 no longer make develop.
    assert _assigned(h1, again) != _assigned(h1, _afresh(h1, tiny_catalog(), tmp_path, reused))


def _customer_id(url: str, source_id: str) -> int:
    with BulkConnection(Database(url), write=False) as bulk:
        return int(
            bulk.scalar(f"SELECT customer_id FROM crosswalk WHERE source_id = '{source_id}'")
        )


def _new_load(url: str, tmp_path: Path) -> Catalog:
    """C05's potential, loaded again with another value (a new batch of one row)."""
    metrics = write(
        tmp_path / "metrics.csv",
        "customer_id;therapy_area;metric;period;value\nC05;cardiology;potential;2026;75\n",
    )
    (result,) = load(url, tiny_catalog(), metrics, country="NL")
    assert result.rows_updated == 1
    return tiny_catalog()


def _changed_customer(url: str, tmp_path: Path) -> Catalog:
    """C04 moves to general practice (a customers file loaded again, one row changed)."""
    lines = (tiny_market.DATA / "h1" / "customers.csv").read_text().splitlines()
    changed = [
        line.replace(";cardiology;", ";general_practice;") if line.startswith("C04;") else line
        for line in lines
    ]
    (result,) = load(
        url,
        tiny_catalog(),
        write(tmp_path / "customers.csv", "\n".join(changed) + "\n"),
        country="NL",
    )
    assert result.rows_updated == 1
    return tiny_catalog()


def _erased(url: str, tmp_path: Path) -> Catalog:
    erase(Database(url), _customer_id(url, "C02"), actor="test")
    return tiny_catalog()


def _objection(url: str, tmp_path: Path) -> Catalog:
    object_to_profiling(Database(url), [_customer_id(url, "C01")], actor="test")
    return tiny_catalog()


def _changed_feature(url: str, tmp_path: Path) -> Catalog:
    """Potential ranked among all customers, not within specialties: a definition the
    features depend on."""
    return _feature_changed("potential_q", peer_group=())


def _feature_changed(name: str, **changed: Any) -> Catalog:
    (rule_set,) = tiny_market.harmonia_segmentation_rules()
    features = tuple(
        attrs.evolve(feature, **changed) if feature.name == name else feature
        for feature in rule_set.features
    )
    return _rule_set_with(version="2", features=features)


@pytest.mark.parametrize(
    "change", [_new_load, _changed_customer, _erased, _objection, _changed_feature]
)
def test_a_change_of_what_the_features_come_from_computes_them_again(
    h1: str, tmp_path: Path, reused: Segmentations, change: Callable[[str, Path], Catalog]
) -> None:
    before = _cycle(h1, tiny_catalog(), tmp_path)
    catalog = change(h1, tmp_path)
    after = _cycle(h1, catalog, tmp_path)
    assert reused == [False, False]
    assert _assigned(h1, after) == _assigned(h1, _afresh(h1, catalog, tmp_path, reused))
    assert _assigned(h1, after) != _assigned(h1, before)


def test_an_erasure_forgets_every_kept_feature(h1: str, tmp_path: Path) -> None:
    _cycle(h1, tiny_catalog(), tmp_path)
    kept = feature_cache.folder(Database(h1))
    assert kept is not None and any(kept.iterdir())
    erase(Database(h1), _customer_id(h1, "C05"), actor="test")
    assert not [path for path in kept.iterdir() if path.is_dir()]


@pytest.mark.parametrize("act", ["objection", "erasure"])
def test_a_cycle_keeps_nothing_it_read_before_an_erasure_or_objection(
    h1: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, act: str
) -> None:
    """Another process forgets every entry while this cycle segments: what this cycle
    read may hold the person concerned, so it keeps no entry (review rev-reuse SHOULD 2)."""
    from harmonia.engine.reuse import Reuse

    database, save = Database(h1), Reuse.save
    person = _customer_id(h1, "C01")

    def meanwhile(self: Reuse, *args: Any) -> None:
        if act == "objection":
            object_to_profiling(database, [person], actor="test")
        else:
            erase(database, person, actor="test")
        save(self, *args)

    monkeypatch.setattr(Reuse, "save", meanwhile)
    _cycle(h1, tiny_catalog(), tmp_path)
    root = feature_cache.folder(database)
    assert root is not None and not [path for path in root.iterdir() if path.is_dir()]


def test_only_the_newest_entries_are_kept_and_a_partial_one_is_never_read(
    h1: str, tmp_path: Path, reused: Segmentations
) -> None:
    database = Database(h1)
    _cycle(h1, tiny_catalog(), tmp_path)
    root = feature_cache.folder(database)
    assert root is not None
    (entry,) = root.iterdir()
    # A process killed while saving left its entry without the coverage: not an entry.
    (entry / feature_cache.COVERAGE).unlink()
    (root / f".{entry.name}.partial-999999999").mkdir()
    _cycle(h1, tiny_catalog(), tmp_path)
    assert reused == [False, False]
    assert [path.name for path in root.iterdir()] == [entry.name]
    for threshold in range(1, 2 + feature_cache.KEEP):
        _cycle(h1, _feature_changed("consistency", threshold=threshold), tmp_path)
    assert len(list(root.iterdir())) == feature_cache.KEEP
    assert reused[2:] == [False] * (1 + feature_cache.KEEP)


def test_reused_features_pull_through_and_give_the_same_rows_in_parts(
    h1: str, tmp_path: Path, reused: Segmentations, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second half-year pulling the first through, run again on the kept features in
    parts (CUSTOMERS_PER_MIB made small): the rows of the run that computed them."""
    _cycle(h1, tiny_catalog(), tmp_path)
    load(h1, tiny_catalog(), tiny_market.DATA / "h2", country="NL")
    computed = _cycle(h1, tiny_catalog(), tmp_path, "2027-H2")
    monkeypatch.setenv("HARMONIA_MEMORY_LIMIT", "256MB")
    monkeypatch.setattr(backends, "CUSTOMERS_PER_MIB", 0.01)  # two customers a part
    again = _cycle(h1, tiny_catalog(), tmp_path, "2027-H2")
    assert reused == [False, False, True] and reused.parts == [1, 1, 5]
    assert again.cycle.previous_cycle_id == computed.cycle.previous_cycle_id
    assert _assigned(h1, again) == _assigned(h1, computed)
    assert any(row[8] == "pulled-through" for row in _assigned(h1, again)[:-1])


def test_an_entry_removed_while_a_cycle_reads_it_is_computed_afresh(
    h1: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reused: Segmentations
) -> None:
    """Another process forgets the entry this cycle found (review rev-reuse SHOULD 1):
    the cycle reads the facts and computes the features instead of failing."""
    from harmonia.engine.reuse import Reuse

    first = _cycle(h1, tiny_catalog(), tmp_path)
    coverage = Reuse.coverage

    def then_forgotten(self: Reuse, entry: Path) -> Any:
        found = coverage(self, entry)
        feature_cache.forget(Database(h1))
        return found

    monkeypatch.setattr(Reuse, "coverage", then_forgotten)
    again = _cycle(h1, tiny_catalog(), tmp_path)
    assert reused == [False, True, False]
    assert _assigned(h1, again) == _assigned(h1, first)
