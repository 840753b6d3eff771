"""``harmonia pack check``: everything wrong with a pack, found without installing it.

Three passes, each naming the file and the position of every problem:

1. ``pyproject.toml``: the distribution's name, the ``harmonia`` entry point
   and the package it names, and that every data file is shipped (a file the
   ``package-data`` patterns miss is left out by ``pip install``);
2. each data file on its own, read as the definition its place says
   (``rules/`` holds rule sets ...; see :mod:`harmonia.datapack`), every
   problem with its key path (``segment.rules[2].when``) or line and column;
3. when the files are sound, the pack as harmonia loads it: imported from
   the folder, registered alone next to the built-ins, its definitions
   checked against each other (a rule reading a dimension the questionnaire
   lacks, a segment without a strategy, a choice outside the option catalogue).
"""

from __future__ import annotations

import fnmatch
import importlib
import sys
from pathlib import Path
from typing import Any

import attrs

from harmonia.datapack import LAYOUT, data_files, load_data
from harmonia.definitions.loading import read_toml
from harmonia.errors import DefinitionError
from harmonia.plugin.manager import PackInfo, PluginManager


@attrs.frozen
class PackProblem:
    """One problem: the file (relative to the pack), where in it, and what is wrong."""

    file: str
    position: str
    problem: str

    def to_json(self) -> dict[str, str]:
        return attrs.asdict(self)


def check_pack(path: Path) -> list[PackProblem]:
    """Every problem of the pack at ``path`` (its project folder, or its package folder)."""
    path = Path(path).resolve()
    problems: list[PackProblem] = []
    project = _project(path, problems)
    package, entry = _package(path, project, problems)
    if package is None:
        return problems
    files = list(data_files(package))
    uses_data_pack = entry is None or entry.endswith(":pack")
    if project is not None:
        problems += _unshipped(path, package, project, [file for file, _ in files])
    for file, kind in files:
        where = _relative(file, path)
        if kind is None:
            if uses_data_pack:
                places = ", ".join(p for _, ps in LAYOUT.values() for p in ps)
                problems.append(PackProblem(where, "", f"data_pack reads no such file ({places})"))
            continue
        try:
            load_data(kind, file)
        except DefinitionError as error:
            problems += [
                PackProblem(where, _position(problem.path, file), problem.message)
                for problem in error.problems
            ]
    if not problems:
        problems += _as_loaded(path, package, entry, files)
    return problems


def registered_problems(manager: PluginManager, info: PackInfo) -> list[str]:
    """What the catalog says about a pack registered alone (with the built-ins).

    Rejected definitions, rule sets read against the questionnaires, country
    profiles against the option catalogue, and per therapy area a strategy
    variant that leaves a segment without a strategy or names an unknown one.
    """
    if info.error is not None:
        return [info.error]
    catalog = manager.catalog()
    problems = [*catalog.warnings, *catalog.conflicts]
    segments = {rs.therapy_area: set(rs.segment.segments) for rs in catalog.rule_sets.values()}
    # A strategy for the customers a rule set leaves unsegmented is optional.
    outcomes = {rs.therapy_area: set(rs.segment.outcomes) for rs in catalog.rule_sets.values()}
    variants: dict[tuple[str, str], set[str]] = {}
    for therapy_area, variant, segment in catalog.engagement_strategies:
        variants.setdefault((therapy_area, variant), set()).add(segment)
    for (therapy_area, variant), covered in sorted(variants.items()):
        declared = segments.get(therapy_area)
        if declared is None:
            continue  # strategies for another pack's therapy area: nothing to compare with
        if missing := sorted(declared - covered):
            problems.append(
                f"{therapy_area} strategies, variant {variant!r}: no strategy for the "
                f"segments {missing}; add one per segment (target = false where nobody is called)"
            )
        if unknown := sorted(covered - outcomes[therapy_area]):
            problems.append(
                f"{therapy_area} strategies, variant {variant!r}: segments {unknown} are not "
                f"segments of the rule set {sorted(declared)}"
            )
    return problems


# --- pyproject.toml -----------------------------------------------------------------


def _project(path: Path, problems: list[PackProblem]) -> dict[str, Any] | None:
    pyproject = path / "pyproject.toml"
    if not pyproject.is_file():
        if not (path / "__init__.py").is_file():
            problems.append(PackProblem("pyproject.toml", "", "no pyproject.toml: pip cannot "
                                        "install the folder (harmonia pack new writes one)"))  # fmt: skip
        return None
    try:
        return read_toml(pyproject.read_text(encoding="utf-8"), where="pyproject.toml")
    except DefinitionError as error:
        problems += [PackProblem("pyproject.toml", p.path, p.message) for p in error.problems]
        return None


def _package(
    path: Path, project: dict[str, Any] | None, problems: list[PackProblem]
) -> tuple[Path | None, str | None]:
    """The package folder the ``harmonia`` entry point names, and the entry point's value."""
    if project is None:
        return (path if (path / "__init__.py").is_file() else None), None
    if not project.get("project", {}).get("name"):
        problems.append(PackProblem("pyproject.toml", "project.name", "the distribution "
                                    "needs a name, e.g. harmonia-pt"))  # fmt: skip
    points = project.get("project", {}).get("entry-points", {}).get("harmonia", {})
    if not points:
        problems.append(PackProblem("pyproject.toml", "project.entry-points.harmonia",
                        "no harmonia entry point: harmonia will never find the pack; add "
                        'e.g. pt = "harmonia_pt:pack"'))  # fmt: skip
        return None, None
    name, value = next(iter(points.items()))
    module = value.partition(":")[0]
    for base in (path, path / "src"):
        package = base / module.replace(".", "/")
        if (package / "__init__.py").is_file():
            return package, value
    problems.append(PackProblem("pyproject.toml", f"project.entry-points.harmonia.{name}",
                    f"names the package {module!r}, which is not in {path.name}/"))  # fmt: skip
    return None, value


def _unshipped(
    path: Path, package: Path, project: dict[str, Any], found: list[Path]
) -> list[PackProblem]:
    backend = project.get("build-system", {}).get("build-backend", "")
    if not backend.startswith("setuptools"):
        return []  # other backends ship package files by default
    patterns = (
        project.get("tool", {}).get("setuptools", {}).get("package-data", {}).get(package.name, [])
    )
    problems = []
    for file in found:
        inside = file.relative_to(package).as_posix()
        if not any(_matches(inside, pattern) for pattern in patterns):
            problems.append(PackProblem(_relative(file, path), "", "not shipped: pip install "
                "leaves it out; add a pattern to [tool.setuptools.package-data] "
                f'{package.name} = ["*.toml", "**/*.toml", "**/*.json"]'))  # fmt: skip
    return problems


def _matches(relative: str, pattern: str) -> bool:
    if pattern.startswith("**/"):
        return fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(relative, pattern[3:])
    return fnmatch.fnmatch(relative, pattern) and relative.count("/") == pattern.count("/")


# --- the pack as harmonia loads it --------------------------------------------------


#: Hooks whose definitions are checked file by file below, with their positions.
_POSITIONED = {
    "CountryProfile": "harmonia_country_profiles",
    "RuleSet": "harmonia_segmentation_rules",
}


def _as_loaded(
    path: Path, package: Path, entry: str | None, files: list[tuple[Any, str | None]]
) -> list[PackProblem]:
    """Import the pack from its folder, register it alone and read the catalog's verdict.

    Country profiles and rule sets are checked again file by file against the
    catalog (the option catalogue, the pack's questionnaires, policies and
    identifier schemes), so their problems keep their file and position.
    """
    module_name, _, attribute = (entry or package.name).partition(":")
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    sys.path.insert(0, str(package.parent))
    try:
        importlib.invalidate_caches()
        module = importlib.import_module(module_name)
        pack = getattr(module, attribute) if attribute else module
    except Exception as error:  # the pack's own code: report, never crash the check
        where = _relative(package / "__init__.py", path)
        return [PackProblem(where, "", f"cannot be imported: {type(error).__name__}: {error}")]
    finally:
        sys.path[:] = saved_path
        # Forget the pack's own modules (a second check reads the files again),
        # never harmonia's: their classes must stay the ones already in use.
        top = module_name.split(".")[0]
        for name in set(sys.modules) - saved_modules:
            if name == top or name.startswith(f"{top}."):
                del sys.modules[name]
    manager = PluginManager.discover(strict=False, entry_points=False)
    info = manager.register(pack, name=package.name, distribution=path.name)
    if info.error is not None:
        return [PackProblem(_relative(package / "__init__.py", path), "", info.error)]
    catalog = manager.catalog()
    problems = []
    for file, kind in files:
        if kind not in _POSITIONED:
            continue
        check = (
            catalog.check_country_profile if kind == "CountryProfile" else catalog.check_rule_set
        )
        for definition in load_data(kind, file):
            problems += [
                PackProblem(_relative(file, path), p.path, p.message) for p in check(definition)
            ]
    positioned = tuple(f"hook {hook}:" for hook in _POSITIONED.values())
    problems += [
        PackProblem("", "", problem)
        for problem in registered_problems(manager, info)
        if not any(hook in problem for hook in positioned)
    ]
    return problems


def _position(position: str, file: Any) -> str:
    """A problem's key path without the file name the loader puts before it."""
    name = Path(str(file)).name
    if position.endswith(name):
        return ""
    head, _, rest = position.partition(" ")
    return rest if rest and head.endswith(name) else position


def _relative(file: Any, path: Path) -> str:
    try:
        return Path(str(file)).relative_to(path).as_posix()
    except ValueError:
        return str(file)
