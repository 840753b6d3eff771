"""The one converter: pack data files (TOML, and FHIR JSON through a reader) to frozen definitions.

Structuring goes through a single cattrs converter with detailed validation,
so a malformed file yields *every* error with its path (``segment.rules[2].when``)
in one :class:`~harmonia.errors.DefinitionError`. After the types are right,
each definition's own ``problems()`` checks what types cannot say (a fallback
that is not a declared segment, bands that overlap, a missing translation).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar, Union

import cattrs
from cattrs.v import format_exception

from harmonia.definitions.common import Missing
from harmonia.definitions.ruleset import FEATURE_CLASSES
from harmonia.errors import DefinitionError, Problem

T = TypeVar("T")


class _Invalid(ValueError):
    """A structure hook's own message, shown as is (not cattrs' generic text)."""


def _format_exception(error: BaseException, type_: Any) -> str:
    if isinstance(error, _Invalid):
        return str(error)
    if isinstance(error, KeyError):
        return "required field missing"
    return format_exception(error, type_)


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)

    def structure_missing(value: Any, _: type) -> Missing:
        if value == "unknown":
            return Missing(unknown=True)
        if isinstance(value, dict) and set(value) == {"default"}:
            return Missing(default=value["default"])
        raise _Invalid(f'write missing = "unknown" or missing = {{ default = ... }}, not {value!r}')

    def structure_scalar(value: Any, _: type) -> Any:
        if isinstance(value, str | int | float | bool):
            return value
        raise _Invalid(f"expected text, a number or true/false, got {value!r}")

    def structure_text_or_translations(value: Any, _: type) -> Any:
        # A text every language shares, or one per language (a questionnaire item's unit).
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and all(isinstance(text, str) for text in value.values()):
            return {str(language): text for language, text in value.items()}
        raise _Invalid(f"expected a text or a table of texts by language, got {value!r}")

    def structure_text(value: Any, _: type) -> str:
        # TOML tells text from numbers; `version = 1` is a mistake worth naming.
        if isinstance(value, str):
            return value
        raise _Invalid(f"expected text (in quotes), got {value!r}")

    converter.register_structure_hook(str, structure_text)
    converter.register_structure_hook(Missing, structure_missing)
    converter.register_structure_hook(
        str | dict[str, str] | None, _optional(structure_text_or_translations)
    )
    converter.register_structure_hook(str | int | float | bool, structure_scalar)
    converter.register_structure_hook(Union[str, int, float, bool], structure_scalar)  # noqa: UP007
    converter.register_structure_hook(str | int | float | bool | None, _optional(structure_scalar))
    feature_kinds = {cls.__attrs_attrs__.kind.default: cls for cls in FEATURE_CLASSES}

    def structure_feature(value: Any, _: type) -> Any:
        kind = value.get("kind") if isinstance(value, dict) else None
        if kind not in feature_kinds:
            raise _Invalid(f"feature kind {kind!r} is not one of {sorted(feature_kinds)}")
        return converter.structure(value, feature_kinds[kind])

    def unstructure_missing(value: Missing) -> Any:
        return "unknown" if value.unknown else {"default": value.default}

    converter.register_structure_hook(Union[FEATURE_CLASSES], structure_feature)  # noqa: UP007
    converter.register_unstructure_hook(Missing, unstructure_missing)
    return converter


def _optional(hook: Callable[[Any, type], Any]) -> Callable[[Any, type], Any]:
    return lambda value, cls: None if value is None else hook(value, cls)


converter = _make_converter()


def structure(data: Any, cls: type[T], *, where: str) -> T:
    """Build a definition from plain data, or raise one error listing every problem."""
    try:
        definition = converter.structure(data, cls)
    except Exception as error:  # cattrs raises exception groups of every failure
        problems = [
            _problem(message)
            for message in cattrs.transform_error(
                error, path="$", format_exception=_format_exception
            )
        ]
        raise DefinitionError(problems, where=where) from None
    problems = list(_semantic_problems(definition))
    if problems:
        raise DefinitionError(problems, where=where)
    return definition


def _semantic_problems(definition: Any) -> Iterator[Problem]:
    check = getattr(definition, "problems", None)
    if callable(check):
        yield from check()


def _problem(message: str) -> Problem:
    text, _, path = message.rpartition(" @ ")
    path = path.removeprefix("$").removeprefix(".")
    return Problem(path, text or message)


def unstructure(definition: Any) -> Any:
    """Plain data (dicts, lists) for a definition, e.g. to snapshot it with a cycle."""
    data = converter.unstructure(definition)
    return _drop_provenance(data)


def _drop_provenance(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _drop_provenance(value) for key, value in data.items() if key != "provenance"}
    if isinstance(data, list | tuple):
        return [_drop_provenance(value) for value in data]
    return data


# --- files --------------------------------------------------------------------


#: How a file's text becomes plain data, by suffix.
Reader = Callable[[str, type], Any]

#: The readers of the contract itself: TOML. The FHIR adapter adds ``.json``
#: (see :func:`harmonia.fhir.definition_readers`); :func:`harmonia.load_definitions`
#: reads with both.
READERS: dict[str, Reader] = {".toml": lambda text, cls: tomllib.loads(text)}

#: How tomllib places a syntax error in its message: "(at line 3, column 9)".
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")

#: What to do about a TOML syntax error, whichever file it is in.
TOML_FIX = (
    "correct the TOML syntax at that line and column: text in double quotes, one "
    "`key = value` per line, [tables] and [[arrays of tables]] on lines of their own "
    "(https://toml.io/en/v1.0.0)"
)


def toml_problem(error: tomllib.TOMLDecodeError) -> Problem:
    """A TOML syntax error as a problem located by line and column."""
    message = str(error)
    position = _TOML_POSITION.search(message)
    if position is None:
        return Problem("", f"not valid TOML: {message}")
    line, column = position.groups()
    return Problem(
        f"line {line}, column {column}", f"not valid TOML: {message[: position.start()]}"
    )


def read_toml(text: str, *, where: str) -> dict[str, Any]:
    """TOML text as data; a syntax error is a :class:`DefinitionError` naming ``where``,
    the line and column, and how to fix it (never a traceback)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DefinitionError([toml_problem(error)], where=where, fix=TOML_FIX) from None


def load_definitions(
    cls: type[T], *sources: Traversable | Path | str, readers: Mapping[str, Reader] = READERS
) -> list[T]:
    """Load every definition of type ``cls`` from files or directories.

    Pack authors call this from their hook implementations::

        @hookimpl
        def harmonia_segmentation_rules():
            return load_definitions(RuleSet, files(__package__) / "rules")

    A directory contributes each file in it that ``readers`` read (``*.toml``;
    ``*.json`` too through :func:`harmonia.load_definitions`). A file holds one
    definition at its top level, or several as an array of tables under the
    class's plural key (``PLURAL``: ``[[strategies]]``, ``[[policies]]``, ...).
    Every problem in every file is reported at once.
    """
    definitions: list[T] = []
    problems: list[Problem] = []
    fixes: list[str] = []
    for path in _files(sources, readers):
        try:
            definitions.extend(load_file(cls, path, readers=readers))
        except DefinitionError as error:
            if error.fix and error.fix not in fixes:
                fixes.append(error.fix)
            problems.extend(
                Problem(f"{error.where} {problem.path}".strip(), problem.message)
                for problem in error.problems
            )
    if problems:
        locations = ", ".join(sorted({_display(Path(str(source))) for source in sources}))
        raise DefinitionError(problems, where=locations, fix="; ".join(fixes) or None)
    return definitions


def load_file(
    cls: type[T], path: Traversable | Path, *, readers: Mapping[str, Reader] = READERS
) -> list[T]:
    """The definitions of type ``cls`` in one file."""
    where = _display(path)
    reader = readers.get(Path(path.name).suffix)
    if reader is None:
        raise DefinitionError(
            [Problem("", f"cannot read {path.name}: use {sorted(readers)}")], where=where
        )
    try:
        data = reader(path.read_text(encoding="utf-8"), cls)
    except tomllib.TOMLDecodeError as error:
        raise DefinitionError([toml_problem(error)], where=where, fix=TOML_FIX) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise DefinitionError(
            [Problem("", f"not valid {Path(path.name).suffix[1:]}: {error}")], where=where
        ) from None
    if not isinstance(data, dict):
        raise DefinitionError(
            [Problem("", f"expected a table of fields (a JSON object), got {type(data).__name__}")],
            where=where,
        )
    plural = getattr(cls, "PLURAL", None)
    if plural in data and set(data) == {plural}:
        entries = data[plural]
        results, problems = [], []
        for index, entry in enumerate(entries):
            try:
                results.append(structure(entry, cls, where=where))
            except DefinitionError as error:
                problems.extend(
                    Problem(_join(f"{plural}[{index}]", p.path), p.message) for p in error.problems
                )
        if problems:
            raise DefinitionError(problems, where=where)
        return results
    return [structure(data, cls, where=where)]


def _join(prefix: str, path: str) -> str:
    return f"{prefix}.{path}" if path else prefix


def _files(
    sources: Iterable[Traversable | Path | str], readers: Mapping[str, Reader]
) -> Iterator[Traversable | Path]:
    for source in sources:
        path = Path(source) if isinstance(source, str) else source
        if path.is_dir():
            yield from sorted(
                (child for child in path.iterdir() if Path(child.name).suffix in readers),
                key=lambda child: child.name,
            )
        elif path.is_file():
            yield path
        else:
            raise DefinitionError([Problem("", "no such file or directory")], where=_display(path))


def _display(path: Traversable | Path) -> str:
    """A short location for messages: the last two parts of the path."""
    parts = Path(str(path)).parts
    return "/".join(parts[-2:]) if parts else str(path)
