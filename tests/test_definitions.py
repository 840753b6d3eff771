"""Definitions: one converter, every error at once, round trips, every pack's data loads."""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import tiny_market
from helpers import write

from harmonia import (
    CountryProfile,
    EngagementStrategy,
    Missing,
    Questionnaire,
    RefinementPolicy,
    RuleSet,
    load_definitions,
)
from harmonia.definitions import OptionCatalogue, structure, unstructure
from harmonia.definitions.loading import load_file
from harmonia.errors import DefinitionError
from harmonia.fhir import definition_readers
from harmonia.plugin.catalog import Catalog
from harmonia.plugin.manager import PluginManager
from harmonia.testing import module_pack

#: Every definition kind a pack declares as data, with its plural key.
PLURAL_KEYS = {
    RuleSet: "rule_sets",
    Questionnaire: "questionnaires",
    CountryProfile: "countries",
    RefinementPolicy: "policies",
    EngagementStrategy: "strategies",
    OptionCatalogue: "catalogues",
}

ROOT = Path(__file__).resolve().parent.parent
PACK_FOLDERS = ("therapy_areas", "country_packs", "plugins", "contrib")

MALFORMED_RULE_SET = """
name = "broken"
therapy_area = "cardiology"
version = "1"

[[features]]
name = "decile"
kind = "quantile"
metric = "trx"
bins = "ten"
colour = "red"

[[features]]
name = "reach"
kind = "magic"

[[features]]
name = "specialty"
kind = "attribute"
column = "specialty"
missing = "maybe"

[segment]
fallback = "low"
"""


def test_a_malformed_file_gives_one_error_listing_every_problem_with_its_path(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "rules" / "broken.toml", MALFORMED_RULE_SET)
    with pytest.raises(DefinitionError) as raised:
        load_definitions(RuleSet, path)
    error = raised.value
    found = {(problem.path, problem.message) for problem in error.problems}
    assert found == {
        ("rules/broken.toml features[0].bins", "invalid value for type, expected int | None"),
        ("rules/broken.toml features[0]", "extra fields found (colour)"),
        (
            "rules/broken.toml features[1]",
            "feature kind 'magic' is not one of "
            "['attribute', 'consistency', 'metric', 'profile', 'quantile']",
        ),
        (
            "rules/broken.toml features[2].missing",
            "write missing = \"unknown\" or missing = { default = ... }, not 'maybe'",
        ),
        ("rules/broken.toml segment.segments", "required field missing"),
    }
    assert str(error).startswith("rules/broken.toml: 5 problems:")


def test_semantic_problems_are_all_reported_with_their_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path / "rules.toml",
        """
        name = "Not A Slug"
        therapy_area = "cardiology"
        version = "1"

        [[features]]
        name = "Decile"
        kind = "quantile"
        metric = "trx"
        bins = 200

        [[features]]
        name = "segment__segment"  # the cycle's own column
        kind = "attribute"
        column = "specialty"

        [segment]
        segments = ["high", "low", "low"]
        fallback = "none"

        [[segment.rules]]
        id = "r"
        when = "Decile >= 8"
        segment = "top"
        """,
    )
    with pytest.raises(DefinitionError) as raised:
        load_definitions(RuleSet, path)
    paths = [problem.path.split(" ", 1)[1] for problem in raised.value.problems]
    assert paths == [
        "name",
        "features[0].name",
        "features[0].bins",
        "features[1].name",
        "segment.segments",
        "segment.fallback",
        "segment.rules[0].segment",
    ]


def test_every_file_is_checked_and_all_their_problems_reported_together(tmp_path: Path) -> None:
    write(tmp_path / "a.toml", "name = \n")
    write(
        tmp_path / "b.toml",
        """
        [[strategies]]
        therapy_area = "cardiology"
        segment = "high"
        name = "High"
        channels = [{ channel = "carrier_pigeon", per_year = 1 }]

        [[strategies]]
        therapy_area = "cardiology"
        segment = "low"
        name = "Low"
        """,
    )
    with pytest.raises(DefinitionError) as raised:
        load_definitions(EngagementStrategy, tmp_path)
    located = [(problem.path, problem.message) for problem in raised.value.problems]
    assert located[0] == (
        "tmp_path/a.toml line 1, column 8".replace("tmp_path", tmp_path.name),
        "not valid TOML: Invalid value",
    )
    assert "correct the TOML syntax" in (raised.value.fix or "")
    assert [path.split(" ", 1)[1] for path, _ in located[1:]] == [
        "strategies[0].channels[0].channel",
        "strategies[1].channels",
    ]


def test_a_malformed_file_in_a_pack_is_reported_with_the_packs_name(
    tmp_path: Path, harmonia_plugins: PluginManager, register_pack: Callable
) -> None:
    path = write(tmp_path / "rules" / "broken.toml", MALFORMED_RULE_SET)
    pack = module_pack(
        "cardio", harmonia_segmentation_rules=lambda: load_definitions(RuleSet, path)
    )
    register_pack(pack, version="3.1")
    catalog = harmonia_plugins.catalog()
    assert len(catalog.rule_sets) == 0
    (warning,) = catalog.warnings
    assert warning.startswith("pack 'cardio' (test-cardio 3.1), hook harmonia_segmentation_rules:")
    assert "pack 'test-cardio', rules/broken.toml: 5 problems" in warning
    assert "features[0].bins" in warning and "segment.segments" in warning


def test_a_toml_syntax_error_names_the_file_line_column_and_fix(tmp_path: Path) -> None:
    path = write(tmp_path / "rules" / "typo.toml", 'name = "x"\nversion = "1\n')
    with pytest.raises(DefinitionError) as raised:
        load_file(RuleSet, path)
    (problem,) = raised.value.problems
    assert raised.value.where == "rules/typo.toml"
    assert problem.path == "line 2, column 13"  # the end of the line: the quote is open
    assert problem.message.startswith("not valid TOML: ")
    assert "(at line" not in problem.message  # said once, as the location
    rendered = raised.value.render()
    assert "rules/typo.toml" in rendered and "fix: correct the TOML syntax" in rendered


def test_a_missing_path_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="no such file or directory"):
        load_definitions(RuleSet, tmp_path / "nowhere")


def test_a_file_of_an_unknown_format_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "rules.yaml", "name: x\n")
    with pytest.raises(DefinitionError, match=r"cannot read rules.yaml: use \['.json', '.toml'\]"):
        load_file(RuleSet, path, readers=definition_readers())


# --- loading ---------------------------------------------------------------------


def test_a_directory_contributes_each_definition_file_in_name_order(tmp_path: Path) -> None:
    policy = 'description = "d"\nname = "{}"\n'
    write(tmp_path / "b.toml", policy.format("bravo"))
    write(tmp_path / "a.toml", policy.format("alpha"))
    write(tmp_path / "notes.md", "# not a definition\n")
    write(
        tmp_path / "more.toml",
        '[[policies]]\nname = "charlie"\ndescription = "d"\n\n'
        '[[policies]]\nname = "delta"\ndescription = "d"\nmax_share = 0.5\n',
    )
    extra = write(tmp_path.parent / "single.toml", policy.format("echo"))
    loaded = load_definitions(RefinementPolicy, tmp_path, extra)
    assert [p.name for p in loaded] == ["alpha", "bravo", "charlie", "delta", "echo"]
    assert loaded[3].max_share == 0.5 and loaded[0].max_share == 0.2


def test_every_definition_kind_declares_its_plural_key() -> None:
    assert {cls: cls.PLURAL for cls in PLURAL_KEYS} == PLURAL_KEYS


def test_a_plural_key_beside_other_keys_is_read_as_one_definition(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", 'name = "x"\ndescription = "d"\n[[policies]]\nname = "y"\n')
    with pytest.raises(DefinitionError, match=r"extra fields found \(policies\)"):
        load_definitions(RefinementPolicy, path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("unknown", Missing(unknown=True)), ({"default": "n/a"}, Missing(default="n/a"))],
)
def test_missing_values_are_written_as_unknown_or_a_default(value: Any, expected: Missing) -> None:
    data = {"name": "s", "kind": "attribute", "column": "specialty", "missing": value}
    rule_set = structure(_rule_set_data(features=[data]), RuleSet, where="test")
    assert rule_set.features[0].missing == expected
    assert unstructure(rule_set)["features"][0]["missing"] == value


def _rule_set_data(**changes: Any) -> dict[str, Any]:
    data = tomllib.loads((tiny_market.DATA.parent / "rules" / "tiny-core.toml").read_text())
    data.update(changes)
    if "features" in changes:
        data["segment"] = {"segments": ["a"], "fallback": "a", "rules": []}
        data["segment"]["rules"] = [{"id": "r", "when": "s IS NULL", "segment": "a"}]
        data.pop("tier")
    return data


# --- every data file of every pack in this repository loads (STYLE practice 11) --------------


def _definition_class(path: Path, data: Any) -> type:
    """What a data file declares, from its plural key or its place in the pack."""
    for cls, key in PLURAL_KEYS.items():
        if isinstance(data, dict) and set(data) == {key}:
            return cls
    if path.parent.name == "questionnaires" or data.get("resourceType") == "Questionnaire":
        return Questionnaire
    if path.parent.name == "rules":
        return RuleSet
    by_stem = {
        "country": CountryProfile,
        "policies": RefinementPolicy,
        "strategies": EngagementStrategy,
        "catalogue": OptionCatalogue,
    }
    if path.stem in by_stem:
        return by_stem[path.stem]
    raise AssertionError(f"{path}: cannot tell which definition this data file declares")


def _pack_modules() -> list[tuple[Path, str]]:
    """(distribution folder, module) for every pack of the repository."""
    modules = []
    for folder in PACK_FOLDERS:
        for pyproject in sorted((ROOT / folder).glob("*/pyproject.toml")):
            project = tomllib.loads(pyproject.read_text())["project"]
            for value in project.get("entry-points", {}).get("harmonia", {}).values():
                modules.append((pyproject.parent, value.split(":")[0]))
    modules.append((tiny_market.DATA.parent.parent, "tiny_market"))
    return modules


def _data_files() -> list[Path]:
    files = sorted((ROOT / "core" / "harmonia" / "builtin" / "data").glob("*.toml"))
    for folder, module in _pack_modules():
        package = folder / module.replace(".", "/")
        files += sorted(p for p in package.rglob("*") if p.suffix in (".toml", ".json"))
    return files


def _every_data_file() -> list[tuple[Path, Any, type]]:
    loaded = []
    for path in _data_files():
        data = (
            tomllib.loads(path.read_text())
            if path.suffix == ".toml"
            else json.loads(path.read_text())
        )
        cls = _definition_class(path, data)
        loaded += [
            (path, definition, cls)
            for definition in load_file(cls, path, readers=definition_readers())
        ]
    return loaded


def test_the_repository_has_the_packs_this_test_expects_to_check() -> None:
    modules = {module for _, module in _pack_modules()}
    assert {"harmonia_oncology", "harmonia_fr", "harmonia_synthetic"} <= modules
    names = {path.relative_to(ROOT).as_posix() for path in _data_files()}
    assert "core/harmonia/builtin/data/catalogue.toml" in names
    assert "therapy_areas/oncology/harmonia_oncology/rules/oncology-core.toml" in names


@pytest.mark.parametrize("path", _data_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_data_file_in_every_pack_loads(path: Path) -> None:
    data = (
        tomllib.loads(path.read_text()) if path.suffix == ".toml" else json.loads(path.read_text())
    )
    assert load_file(_definition_class(path, data), path, readers=definition_readers())


@pytest.mark.parametrize(
    ("folder", "module"), _pack_modules(), ids=[module for _, module in _pack_modules()]
)
def test_every_pack_in_the_repository_registers_strictly_and_all_its_records_pass(
    folder: Path, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pack from its source folder, with everything in the repository it may need."""
    for other, _ in _pack_modules():
        monkeypatch.syspath_prepend(str(other))
    manager = PluginManager(strict=True)
    manager.load_builtins()
    for _, name in _pack_modules():
        manager.register(__import__(name, fromlist=["_"]), name=name)
    catalog = manager.catalog()  # strict: any rejected record raises here
    assert catalog.warnings == ()
    assert catalog.pack(module).error is None
    assert any(catalog.describe(catalog.pack(module)).values())
    assert sys.modules[module].__file__.startswith(str(folder))


# --- round trips ----------------------------------------------------------------------


def _repository_definitions() -> list[tuple[str, Any]]:
    return [(path.name, definition) for path, definition, _ in _every_data_file()]


@pytest.mark.parametrize(("file", "definition"), _repository_definitions())
def test_structure_and_unstructure_round_trip(file: str, definition: Any) -> None:
    data = unstructure(definition)
    assert "provenance" not in json.dumps(data)
    json.loads(json.dumps(data))  # plain data: what a cycle snapshot stores
    assert structure(data, type(definition), where=file) == definition


def test_unstructure_drops_provenance_filled_in_by_the_manager(tiny: Catalog) -> None:
    rule_set = tiny.rule_sets["tiny-core"]
    assert rule_set.provenance is not None
    assert unstructure(rule_set) == unstructure(attrs.evolve(rule_set, provenance=None))
