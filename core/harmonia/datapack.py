"""Packs made of data files only: :func:`data_pack` turns a folder into a pack.

A country or therapy-area pack is usually nothing but declarations. Laid out
by convention, its files need no hook implementations::

    harmonia_xx/
        __init__.py          pack = data_pack(__name__)
        country.toml         country profiles          (or countries/*.toml)
        policies.toml        refinement policies       (or policies/*.toml)
        identifiers.toml     identifier schemes: [[schemes]] name, country, pattern,
                             description, checksum, prefix
        questionnaires/      questionnaires, harmonia TOML or FHIR R4 JSON
        rules/               rule sets
        strategies.toml      engagement strategies     (or strategies/*.toml)

and the distribution's entry point names the object: ``xx = "harmonia_xx:pack"``.
Only the hooks whose files exist are implemented, so ``harmonia plugins
list`` shows what the pack really provides. Files are read when the hook is
called, through :func:`harmonia.load_definitions`: a mistake is one
:class:`~harmonia.errors.DefinitionError` naming the file and the position.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from harmonia.errors import DefinitionError, Problem
from harmonia.plugin.hookspecs import hookimpl

#: hook -> (the definition's class name in ``harmonia``, where its files are).
LAYOUT: dict[str, tuple[str, tuple[str, ...]]] = {
    "harmonia_country_profiles": ("CountryProfile", ("country.toml", "countries")),
    "harmonia_refinement_policies": ("RefinementPolicy", ("policies.toml", "policies")),
    "harmonia_identifier_schemes": ("IdentifierScheme", ("identifiers.toml",)),
    "harmonia_questionnaires": ("Questionnaire", ("questionnaires",)),
    "harmonia_segmentation_rules": ("RuleSet", ("rules",)),
    "harmonia_engagement_strategies": ("EngagementStrategy", ("strategies.toml", "strategies")),
}

#: Suffixes of data files.
DATA_SUFFIXES = (".toml", ".json")


def data_pack(package: str | Path, *, name: str | None = None) -> types.SimpleNamespace:
    """A pack whose hooks load the data files of ``package`` (an import name or a folder).

    ``pack = data_pack(__name__)`` in a package's ``__init__.py`` is the whole
    Python of a pack made of TOML and FHIR files.
    """
    root = files(package) if isinstance(package, str) else Path(package)
    hooks: dict[str, Callable[[], list[Any]]] = {}
    for hook, (kind, places) in LAYOUT.items():
        found = [root / place for place in places if _exists(root / place)]
        if found:
            hooks[hook] = hookimpl(_loader(kind, found))
    pack_name = name or (package if isinstance(package, str) else Path(package).name)
    return types.SimpleNamespace(__name__=pack_name, __data_root__=root, **hooks)


def data_files(root: Traversable | Path) -> Iterator[tuple[Traversable | Path, str | None]]:
    """Every data file under ``root`` (tests aside) and the definition class that
    reads it, or None where :func:`data_pack` reads no such file."""
    places = {place: kind for kind, ps in LAYOUT.values() for place in ps}
    for child in sorted(root.iterdir(), key=lambda c: c.name):
        if child.name in ("tests", "__pycache__") or child.name.endswith(".egg-info"):
            continue
        if child.is_dir():
            kind = places.get(child.name)
            for path in _walk(child):
                yield path, kind
        elif child.name.endswith(DATA_SUFFIXES):
            yield child, places.get(child.name)


def _walk(folder: Traversable | Path) -> Iterator[Traversable | Path]:
    for child in sorted(folder.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            yield from _walk(child)
        elif child.name.endswith(DATA_SUFFIXES):
            yield child


def _exists(place: Traversable | Path) -> bool:
    return place.is_file() or place.is_dir()


def _loader(kind: str, places: list[Traversable | Path]) -> Callable[[], list[Any]]:
    def load() -> list[Any]:
        return [item for place in places for item in load_data(kind, place)]

    load.__doc__ = f"The pack's {kind} definitions, from {', '.join(p.name for p in places)}."
    return load


def load_data(kind: str, place: Traversable | Path) -> list[Any]:
    """The definitions of class ``kind`` (a name in ``harmonia``) in a file or folder."""
    import harmonia

    if kind == "IdentifierScheme":
        return _identifier_schemes(place)
    return harmonia.load_definitions(getattr(harmonia, kind), place)


def _identifier_schemes(place: Traversable | Path) -> list[Any]:
    """``[[schemes]]`` tables as :class:`~harmonia.IdentifierScheme` records."""
    from harmonia.definitions.loading import read_toml
    from harmonia.plugin.types import IdentifierScheme

    where = str(place)
    data = read_toml(place.read_text(encoding="utf-8"), where=where)
    schemes, problems = [], []
    for index, entry in enumerate(data.get("schemes", [])):
        try:
            schemes.append(IdentifierScheme(**entry))
        except (TypeError, ValueError) as error:
            problems.append(Problem(f"schemes[{index}]", str(error)))
    unknown = sorted(set(data) - {"schemes"})
    if unknown:
        problems.append(Problem(unknown[0], "identifiers.toml holds [[schemes]] tables only"))
    if problems:
        raise DefinitionError(
            problems,
            where=where,
            fix="each [[schemes]] has name, country, pattern and description, and may have "
            'checksum = "luhn" and prefix',
        )
    return schemes
