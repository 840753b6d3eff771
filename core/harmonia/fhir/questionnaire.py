"""FHIR R4 Questionnaire <-> harmonia :class:`~harmonia.Questionnaire`.

Export writes every part of a harmonia questionnaire; import reads what a
FHIR questionnaire says and takes what it cannot say (the therapy area,
profile dimensions) from an :class:`ImportSpec`. A harmonia questionnaire
exported and imported again is equal to the original. The mapping is
documented in :mod:`harmonia.fhir`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from harmonia.definitions import structure
from harmonia.definitions.common import Translated
from harmonia.errors import DefinitionError, Problem
from harmonia.fhir import extensions as ext
from harmonia.fhir.values import item_name, questionnaire_slug
from harmonia.questionnaires import (
    CHOICE_TYPES,
    EnableWhen,
    Group,
    Item,
    ProfileDimension,
    Questionnaire,
)

Json = dict[str, Any]

#: harmonia item type -> FHIR item type (``scale`` is integer or decimal with a slider).
FHIR_TYPES = {
    "single": "choice",
    "multiple": "choice",
    "integer": "integer",
    "decimal": "decimal",
    "boolean": "boolean",
    "date": "date",
    "text": "text",
}
#: itemControl codes that make a display item the help text of its parent.
HELP_CONTROLS = ("help", "flyover")


# --- export ---------------------------------------------------------------------


def to_fhir(questionnaire: Questionnaire, *, base: str = ext.QUESTIONNAIRE_BASE) -> Json:
    """The questionnaire as a FHIR R4 Questionnaire resource (plain JSON data).

    ``base`` + the questionnaire id is its canonical URL; responses exported by
    harmonia refer to it as ``url|version``.
    """
    q = questionnaire
    resource: Json = {"resourceType": "Questionnaire", "id": _resource_id(q)}
    resource["language"] = q.languages[0]
    resource["extension"] = [
        ext.make(ext.THERAPY_AREA, "Code", q.therapy_area),
        *(_dimension_to_fhir(dimension) for dimension in q.dimensions),
    ]
    resource["url"] = base + q.id
    resource["version"] = q.version
    resource["name"] = _computable_name(q.id)
    ext.write_text(resource, "title", q.title, q.languages)
    if q.previous is not None:
        resource["derivedFrom"] = [f"{base}{q.id}|{q.previous.version}"]
    resource["status"] = "active"
    resource["subjectType"] = ["Practitioner", "Organization"]
    if q.description:
        resource["description"] = q.description
    resource["item"] = _items_to_fhir(q)
    return resource


def _resource_id(q: Questionnaire) -> str:
    # FHIR ids allow letters, digits, '-' and '.', up to 64 characters.
    return re.sub(r"[^A-Za-z0-9.-]", "-", f"{q.id}-{q.version}")[:64]


def _computable_name(slug: str) -> str:
    name = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", slug) if part)
    return name if name[:1].isalpha() else f"Q{name}"


def _items_to_fhir(q: Questionnaire) -> list[Json]:
    elements = {item.id: _item_to_fhir(item, q) for item in q.items}
    nested = nest(q, elements, lambda group: _group_to_fhir(group.id, group.title, q))
    placed = {element["linkId"] for element in nested}
    nested.extend(
        _group_to_fhir(group.id, group.title, q) for group in q.groups if group.id not in placed
    )
    return nested


def nest(
    q: Questionnaire, elements: Mapping[str, Json], group_element: Callable[[Group], Json]
) -> list[Json]:
    """FHIR items in questionnaire order, each inside its group's element.

    ``elements`` maps item ids to their FHIR items (a response passes only
    the answered ones). A group is placed where its first item is, which keeps
    the order of a questionnaire whose groups are contiguous, as people write them.
    """
    groups = {group.id: group for group in q.groups}
    nested: list[Json] = []
    placed: dict[str, Json] = {}
    for item in q.items:
        element = elements.get(item.id)
        if element is None:
            continue
        if item.group is None or item.group not in groups:
            nested.append(element)
            continue
        if item.group not in placed:
            placed[item.group] = group_element(groups[item.group])
            nested.append(placed[item.group])
        placed[item.group].setdefault("item", []).append(element)
    return nested


def _group_to_fhir(group_id: str, title: Translated, q: Questionnaire) -> Json:
    element: Json = {"linkId": group_id}
    ext.write_text(element, "text", title, q.languages)
    element["type"] = "group"
    return element


def _item_to_fhir(item: Item, q: Questionnaire) -> Json:
    element: Json = {}
    extensions = _item_extensions(item, q)
    if extensions:
        element["extension"] = extensions
    element["linkId"] = item.id
    ext.write_text(element, "text", item.text, q.languages)
    element["type"] = fhir_type(item)
    if item.enable_when:
        element["enableWhen"] = [_condition_to_fhir(c, q) for c in item.enable_when]
        if len(item.enable_when) > 1 or item.enable_behavior != "all":
            element["enableBehavior"] = item.enable_behavior
    if item.required:
        element["required"] = True
    if item.type == "multiple":
        element["repeats"] = True
    if item.options:
        element["answerOption"] = [_option_to_fhir(option, q.languages) for option in item.options]
    if item.help is not None:
        element["item"] = [_help_to_fhir(item, q.languages)]
    return element


def fhir_type(item: Item) -> str:
    """The FHIR item type of a harmonia item (a ``scale`` is integer or decimal)."""
    if item.type == "scale":
        return "integer" if _integral(item.min, item.max) else "decimal"
    return FHIR_TYPES[item.type]


def _integral(*numbers: float | None) -> bool:
    return all(number is not None and float(number).is_integer() for number in numbers)


def _item_extensions(item: Item, q: Questionnaire) -> list[Json]:
    found: list[Json] = []
    if item.type == "scale":
        found.append(ext.make(ext.ITEM_CONTROL, "CodeableConcept", _control("slider")))
    if item.unit is not None:
        found.append(ext.make(ext.UNIT, "Coding", _unit_coding(item.unit, q.languages)))
    whole = fhir_type(item) == "integer"
    for url, bound in ((ext.MIN_VALUE, item.min), (ext.MAX_VALUE, item.max)):
        if bound is not None:
            typed = ("Integer", int(bound)) if whole and _integral(bound) else ("Decimal", bound)
            found.append(ext.make(url, *typed))
    previous = q.previous
    if previous is not None and item.id in previous.items:
        found.append(ext.make(ext.PREVIOUS_ITEM, "String", previous.items[item.id]))
    if previous is not None and item.id in previous.unmapped:
        found.append(ext.make(ext.PREVIOUS_UNMAPPED, "Boolean", True))
    return found


def _unit_coding(unit: str | Translated, languages: Sequence[str]) -> Json:
    """A unit as the Coding of questionnaire-unit: its display, translated when it is."""
    coding: Json = {}
    if isinstance(unit, str):
        coding["display"] = unit
    else:
        ext.write_text(coding, "display", unit, languages)
    return coding


def _control(code: str) -> Json:
    return {"coding": [{"system": ext.ITEM_CONTROL_SYSTEM, "code": code}]}


def _help_to_fhir(item: Item, languages: Sequence[str]) -> Json:
    element: Json = {"extension": [ext.make(ext.ITEM_CONTROL, "CodeableConcept", _control("help"))]}
    element["linkId"] = f"{item.id}.help"
    ext.write_text(element, "text", item.help or {}, languages)
    element["type"] = "display"
    return element


def _option_to_fhir(option: Any, languages: Sequence[str]) -> Json:
    coding: Json = {"code": option.code}
    ext.write_text(coding, "display", option.text, languages)
    element: Json = {}
    if option.score is not None:
        element["extension"] = [ext.make(ext.ITEM_WEIGHT, "Decimal", _number(option.score))]
    element["valueCoding"] = coding
    return element


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _condition_to_fhir(condition: EnableWhen, q: Questionnaire) -> Json:
    kind, answer = _condition_answer(condition, q.item(condition.item))
    return {"question": condition.item, "operator": condition.operator, f"answer{kind}": answer}


def _condition_answer(condition: EnableWhen, source: Item | None) -> tuple[str, Any]:
    """The typed ``answer[x]`` FHIR needs, from the type of the item the condition tests."""
    answer = condition.answer
    if condition.operator == "exists":
        return "Boolean", answer if isinstance(answer, bool) else True
    kind = fhir_type(source) if source is not None else "text"
    if kind == "choice":
        return "Coding", {"code": str(answer)}
    if kind == "boolean":
        return "Boolean", answer if isinstance(answer, bool) else str(answer).lower() == "true"
    if kind == "integer":
        return "Integer", int(float(answer))  # type: ignore[arg-type]
    if kind == "decimal":
        return "Decimal", answer
    if kind == "date":
        return "Date", str(answer)
    return "String", str(answer)


def _dimension_to_fhir(dimension: ProfileDimension) -> Json:
    parts = [
        ext.make("name", "String", dimension.name),
        ext.make("method", "Code", dimension.method),
        ext.make("missing", "Code", dimension.missing),
    ]
    if dimension.description:
        parts.append(ext.make("description", "String", dimension.description))
    parts.extend(ext.make("item", "String", item) for item in dimension.items)
    parts.extend(
        ext.complex_(
            "band",
            [
                ext.make("level", "String", band.level),
                ext.make("min", "Decimal", _number(band.min)),
                *([] if band.max is None else [ext.make("max", "Decimal", _number(band.max))]),
            ],
        )
        for band in dimension.bands
    )
    return ext.complex_(ext.PROFILE_DIMENSION, parts)


# --- import ---------------------------------------------------------------------


@attrs.frozen
class ImportSpec:
    """What a FHIR questionnaire may not say, given on import.

    From ``harmonia questionnaire import`` options or a sidecar TOML file
    (``--dimensions spec.toml``) with the same keys: ``id``, ``therapy_area``,
    ``version``, ``languages`` and ``[[dimensions]]`` tables written as in a
    harmonia questionnaire. A dimension's items may be named by their FHIR
    linkId or by their harmonia id. What is given here wins over the file.
    """

    id: str | None = None
    therapy_area: str | None = None
    version: str | None = None
    languages: tuple[str, ...] = ()
    dimensions: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_file(cls, path: Path) -> ImportSpec:
        """Read a sidecar spec; unknown keys are an error listing the known ones."""
        from harmonia.definitions import read_toml

        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, ValueError) as error:
            raise DefinitionError([Problem("", f"cannot read it: {error}")], where=where) from None
        data = read_toml(text, where=where)
        known = {field.name for field in attrs.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DefinitionError(
                [Problem(key, f"unknown key; use {sorted(known)}") for key in unknown], where=where
            )
        return cls(
            id=data.get("id"),
            therapy_area=data.get("therapy_area"),
            version=None if data.get("version") is None else str(data["version"]),
            languages=tuple(data.get("languages") or ()),
            dimensions=tuple(data.get("dimensions") or ()),
        )

    def updated(self, **given: Any) -> ImportSpec:
        """This spec with the values given (None and empty values leave it as is)."""
        return attrs.evolve(self, **{key: value for key, value in given.items() if value})


@attrs.frozen
class Imported:
    """An imported questionnaire, and what the import had to leave out or assume."""

    questionnaire: Questionnaire
    notes: tuple[str, ...] = ()


def from_fhir(resource: Mapping[str, Any], spec: ImportSpec | None = None) -> Imported:
    """A harmonia questionnaire from a FHIR R4 Questionnaire resource.

    Raises :class:`~harmonia.DefinitionError` listing every problem (with its
    FHIR path, then its harmonia path) when the result is not a valid harmonia
    questionnaire.
    """
    reader = _Reader(resource, spec or ImportSpec())
    data = reader.read()
    questionnaire = structure(data, Questionnaire, where=reader.where)
    return Imported(questionnaire, tuple(reader.notes))


def to_data(resource: Mapping[str, Any], spec: ImportSpec | None = None) -> Json:
    """The plain data (as in a TOML file) of a FHIR questionnaire, for the one converter."""
    return _Reader(resource, spec or ImportSpec()).read()


def resources(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The Questionnaire resources of a JSON document: itself, or a Bundle's entries."""
    if document.get("resourceType") == "Questionnaire":
        return [document]
    if document.get("resourceType") == "Bundle":
        found = [entry.get("resource") or {} for entry in document.get("entry") or ()]
        return [resource for resource in found if resource.get("resourceType") == "Questionnaire"]
    return []


def read_definitions(document: Any) -> Any:
    """The data a pack's ``.json`` file holds, with FHIR questionnaires converted.

    A Questionnaire becomes one definition, a Bundle of them the plural form
    (``questionnaires = [...]``); any other JSON is returned as it is (and
    fails to load with the converter's own message).
    """
    if not isinstance(document, dict):
        return document
    found = resources(document)
    if document.get("resourceType") == "Bundle" and found:
        return {"questionnaires": [to_data(resource) for resource in found]}
    if document.get("resourceType") == "Questionnaire":
        return to_data(document)
    return document


class _Reader:
    """One FHIR questionnaire read into harmonia's plain data, collecting every problem."""

    def __init__(self, resource: Mapping[str, Any], spec: ImportSpec) -> None:
        self.resource = resource
        self.spec = spec
        self.where = f"FHIR Questionnaire {resource.get('url') or resource.get('id') or ''}".strip()
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.base = str(resource.get("language") or (spec.languages or ("en",))[0])
        self.languages = list(spec.languages) or _languages(resource, self.base)
        self.contained = {
            f"#{item.get('id')}": item
            for item in resource.get("contained") or ()
            if item.get("resourceType") == "ValueSet"
        }
        self.names: dict[str, str] = {}
        self.items: list[Json] = []
        self.groups: list[Json] = []
        self.previous_items: dict[str, str] = {}
        self.unmapped: list[str] = []

    def read(self) -> Json:
        if not self.resource.get("language") and not self.spec.languages:
            self._note("language", f"no language given: {self.base!r} assumed")
        if self.resource.get("resourceType") != "Questionnaire":
            kind = self.resource.get("resourceType")
            self._problem("resourceType", f"expected a Questionnaire, got {kind!r}")
            self._raise()
        elements = list(self.resource.get("item") or ())
        self._name_items(elements, "item")
        for index, element in enumerate(elements):
            self._element(element, f"item[{index}]", None, None)
        data: Json = {
            "id": self._id(),
            "therapy_area": self._therapy_area(),
            "version": self._version(),
            "languages": self.languages,
            "title": self._title(),
            "items": self.items,
        }
        if self.resource.get("description"):
            data["description"] = str(self.resource["description"])
        if self.groups:
            data["groups"] = self.groups
        dimensions = self._dimensions()
        if dimensions:
            data["dimensions"] = dimensions
        previous = self._previous()
        if previous is not None:
            data["previous"] = previous
        self._raise()
        return data

    # -- problems and notes ------------------------------------------------------

    def _problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def _note(self, path: str, message: str) -> None:
        self.notes.append(f"{path}: {message}")

    def _raise(self) -> None:
        if self.problems:
            raise DefinitionError(self.problems, where=self.where)

    # -- the questionnaire -------------------------------------------------------

    def _id(self) -> str:
        if self.spec.id:
            return self.spec.id
        reference = self.resource.get("url") or self.resource.get("id") or self.resource.get("name")
        if not reference:
            self._problem("url", "the questionnaire has no url, id or name: pass --id")
            return ""
        return questionnaire_slug(str(reference))

    def _therapy_area(self) -> str:
        given = self.spec.therapy_area or ext.value(ext.find(self.resource, ext.THERAPY_AREA))
        if not given:
            self._problem(
                "extension",
                f"no therapy area: add the extension {ext.THERAPY_AREA} (valueCode), or "
                "import the file with `harmonia questionnaire import --therapy-area`",
            )
            return ""
        return str(given)

    def _version(self) -> str:
        version = self.spec.version or self.resource.get("version")
        if not version:
            self._note("version", "no version given: imported as version 1")
            return "1"
        return str(version)

    def _title(self) -> Translated:
        fallback = self.resource.get("name") or self.resource.get("id") or "Questionnaire"
        return self._text(self.resource, "title", "title", str(fallback))

    def _text(self, element: Mapping[str, Any], field: str, path: str, fallback: str) -> Translated:
        text = ext.read_text(element, field, self.base)
        if not text:  # an id stands in for the text, the same in every language
            self._note(path, f"no {field}: {fallback!r} used")
            return {language: fallback for language in self.languages}
        return {language: text[language] for language in self.languages if language in text}

    # -- items -------------------------------------------------------------------

    def _name_items(self, elements: Iterable[Mapping[str, Any]], path: str) -> None:
        """Map every linkId to a harmonia id first: conditions may point forward."""
        for index, element in enumerate(elements):
            where = f"{path}[{index}]"
            link = element.get("linkId")
            if not link:
                self._problem(where, "an item needs a linkId")
                continue
            name = item_name(str(link))
            clash = next((other for other, mine in self.names.items() if mine == name), None)
            if clash is not None and not _is_help(element):
                self._problem(
                    f"{where}.linkId", f"linkIds {clash!r} and {link!r} both become item {name!r}"
                )
            if not _is_help(element):
                self.names[str(link)] = name
            self._name_items(element.get("item") or (), f"{where}.item")

    def _element(
        self, element: Mapping[str, Any], path: str, group: str | None, inherited: Any
    ) -> None:
        kind = element.get("type")
        link = str(element.get("linkId", ""))
        if kind == "group":
            self._group(element, path, group, inherited)
            return
        if kind == "display":
            self._note(path, f"display item {link!r} left out: harmonia has no display items")
            return
        item = self._item(element, path, group, inherited)
        if item is not None:
            self.items.append(item)
        for index, child in enumerate(element.get("item") or ()):
            if _is_help(child):
                continue
            where = f"{path}.item[{index}]"
            self._note(where, f"nested under question {link!r}: imported as an item of its own")
            self._element(child, where, group, inherited)

    def _group(
        self, element: Mapping[str, Any], path: str, parent: str | None, inherited: Any
    ) -> None:
        link = str(element.get("linkId", ""))
        name = self.names.get(link, item_name(link))
        self.groups.append({"id": name, "title": self._text(element, "text", path, link)})
        if parent is not None:
            self._note(path, f"group {link!r} is nested in {parent!r}: harmonia groups are flat")
        if element.get("repeats"):
            self._note(path, f"repeating group {link!r} is imported as a single group")
        conditions = self._enable(element, path, inherited)
        for index, child in enumerate(element.get("item") or ()):
            if _is_help(child):
                self._note(f"{path}.item[{index}]", "help text of a group left out")
                continue
            self._element(child, f"{path}.item[{index}]", name, conditions)

    def _item(
        self, element: Mapping[str, Any], path: str, group: str | None, inherited: Any
    ) -> Json | None:
        link = str(element.get("linkId", ""))
        kind = self._type(element, path)
        if kind is None:
            return None
        item: Json = {"id": self.names.get(link, item_name(link)), "type": kind}
        item["text"] = self._text(element, "text", path, link)
        help_text = self._help(element, path)
        if help_text:
            item["help"] = help_text
        if group is not None:
            item["group"] = group
        if element.get("required"):
            item["required"] = True
        if element.get("readOnly"):
            self._note(path, f"read-only (calculated) item {link!r} imported as an ordinary item")
        if kind in CHOICE_TYPES:
            item["options"] = self._options(element, path)
        item.update(self._bounds_and_unit(element, path))
        conditions, behavior = self._enable(element, path, inherited)
        if conditions:
            item["enable_when"] = conditions
        if behavior != "all":
            item["enable_behavior"] = behavior
        previous = ext.value(ext.find(element, ext.PREVIOUS_ITEM))
        if previous is not None:
            self.previous_items[item["id"]] = str(previous)
        if ext.value(ext.find(element, ext.PREVIOUS_UNMAPPED)) is True:
            self.unmapped.append(item["id"])
        return item

    def _type(self, element: Mapping[str, Any], path: str) -> str | None:
        kind, repeats = element.get("type"), bool(element.get("repeats"))
        if repeats and kind not in ("choice", "open-choice"):
            self._note(path, f"repeats on a {kind} item ignored: one answer is kept")
        if kind in ("choice", "open-choice"):
            if kind == "open-choice":
                self._note(path, "open-choice: only the listed options are accepted as answers")
            return "multiple" if repeats else "single"
        if kind in ("integer", "decimal"):
            return "scale" if _control_code(element) == "slider" else kind
        if kind in ("boolean", "date"):
            return kind
        if kind in ("string", "text"):
            return "text"
        if kind == "quantity":
            self._note(path, "quantity imported as a decimal (its unit from questionnaire-unit)")
            return "decimal"
        if kind == "dateTime":
            self._note(path, "dateTime imported as a date")
            return "date"
        self._problem(
            f"{path}.type",
            f"item type {kind!r} is not supported; harmonia reads choice, open-choice, integer, "
            "decimal, quantity, boolean, date, dateTime, string, text, group and display",
        )
        return None

    def _help(self, element: Mapping[str, Any], path: str) -> Translated | None:
        for index, child in enumerate(element.get("item") or ()):
            if _is_help(child):
                return self._text(child, "text", f"{path}.item[{index}]", "")
        return None

    def _bounds_and_unit(self, element: Mapping[str, Any], path: str) -> Json:
        found: Json = {}
        for key, url in (("min", ext.MIN_VALUE), ("max", ext.MAX_VALUE)):
            bound = ext.value(ext.find(element, url))
            if isinstance(bound, int | float) and not isinstance(bound, bool):
                found[key] = bound
            elif bound is not None:
                self._note(path, f"{key} bound {bound!r} left out: harmonia bounds are numbers")
        unit = ext.value(ext.find(element, ext.UNIT))
        if isinstance(unit, Mapping):
            text = self._restrict(ext.read_text(unit, "display", self.base))
            if len(text) > 1:
                found["unit"] = text
            elif text or unit.get("code"):
                found["unit"] = next(iter(text.values()), None) or str(unit["code"])
        return found

    # -- answer options ----------------------------------------------------------

    def _options(self, element: Mapping[str, Any], path: str) -> list[Json]:
        options = element.get("answerOption")
        if options is None and element.get("answerValueSet"):
            options = self._valueset_options(str(element["answerValueSet"]), path)
        found = []
        for index, option in enumerate(options or ()):
            converted = self._option(option, f"{path}.answerOption[{index}]")
            if converted is not None:
                found.append(converted)
        return found

    def _option(self, option: Mapping[str, Any], path: str) -> Json | None:
        coding = option.get("valueCoding")
        if isinstance(coding, Mapping):
            code = coding.get("code")
            text = ext.read_text(coding, "display", self.base)
        else:
            key = next((key for key in option if key.startswith("value")), None)
            code = None if key is None else option[key]
            text = {} if key is None else ext.read_text(option, key, self.base)
            coding = {}
        if code is None or str(code) == "":
            self._problem(path, "an answer option needs a code (valueCoding.code) or a value")
            return None
        code = str(code).lower() if isinstance(code, bool) else str(code)
        if "|" in code:
            self._problem(path, f"option code {code!r} contains '|', which separates answers")
        converted: Json = {"code": code}
        converted["text"] = self._restrict(text or {self.base: str(coding.get("display") or code)})
        score = ext.value(ext.find(option, *ext.SCORES) or ext.find(coding, *ext.SCORES))
        if score is not None:
            converted["score"] = score
        return converted

    def _restrict(self, text: Translated) -> Translated:
        return {language: text[language] for language in self.languages if language in text}

    def _valueset_options(self, reference: str, path: str) -> list[Json]:
        """Options of a contained ValueSet (compose or expansion), scores and designations kept."""
        valueset = self.contained.get(reference)
        if valueset is None:
            self._problem(
                f"{path}.answerValueSet",
                f"{reference} is not contained in the questionnaire: list the options as "
                "answerOption, or contain the ValueSet",
            )
            return []
        concepts = [
            concept
            for include in (valueset.get("compose") or {}).get("include") or ()
            for concept in include.get("concept") or ()
        ] or list((valueset.get("expansion") or {}).get("contains") or ())
        return [{"valueCoding": _concept_coding(concept)} for concept in concepts]

    # -- skip logic --------------------------------------------------------------

    def _enable(
        self, element: Mapping[str, Any], path: str, inherited: tuple[list[Json], str] | None
    ) -> tuple[list[Json], str]:
        """The item's conditions, combined with its group's (groups carry none in harmonia)."""
        own = self._conditions(element, path)
        behavior = str(element.get("enableBehavior") or "all")
        if not inherited or not inherited[0]:
            return own, behavior
        parent, parent_behavior = inherited
        if not own:
            return parent, parent_behavior
        if (behavior == "all" or len(own) == 1) and (parent_behavior == "all" or len(parent) == 1):
            return [*parent, *own], "all"
        self._problem(
            f"{path}.enableWhen",
            "its conditions and its group's cannot be combined: one of them uses "
            "enableBehavior 'any' with several conditions",
        )
        return own, behavior

    def _conditions(self, element: Mapping[str, Any], path: str) -> list[Json]:
        found = []
        for index, condition in enumerate(element.get("enableWhen") or ()):
            where = f"{path}.enableWhen[{index}]"
            question = str(condition.get("question"))
            if question not in self.names:
                self._problem(where, f"question {question!r} is not a linkId of this questionnaire")
                continue
            found.append(
                {
                    "item": self.names[question],
                    "operator": str(condition.get("operator")),
                    "answer": _condition_value(condition),
                }
            )
        return found

    # -- harmonia's own parts ----------------------------------------------------

    def _dimensions(self) -> list[Json]:
        found: dict[str, Json] = {}
        for extension in ext.find_all(self.resource, ext.PROFILE_DIMENSION):
            dimension = _dimension_from_fhir(extension)
            found[str(dimension.get("name"))] = dimension
        for given in self.spec.dimensions:
            found[str(given.get("name"))] = dict(given)
        for dimension in found.values():
            if "items" in dimension:
                dimension["items"] = [self.names.get(str(i), str(i)) for i in dimension["items"]]
        return list(found.values())

    def _previous(self) -> Json | None:
        url = self.resource.get("url")
        for reference in self.resource.get("derivedFrom") or ():
            base, _, version = str(reference).partition("|")
            if version and (url is None or base == url):
                link: Json = {"version": version, "items": self.previous_items}
                if self.unmapped:
                    link["unmapped"] = self.unmapped
                return link
            self._note("derivedFrom", f"{reference} is another questionnaire, not a version")
        if self.previous_items or self.unmapped:
            self._problem(
                "derivedFrom",
                f"items name their previous ids ({ext.PREVIOUS_ITEM}) but derivedFrom gives no "
                "previous version: add derivedFrom = url|version",
            )
        return None


def _languages(resource: Mapping[str, Any], base: str) -> list[str]:
    return [
        base,
        *(language for language in ext.translation_languages(resource) if language != base),
    ]


def _is_help(element: Mapping[str, Any]) -> bool:
    return element.get("type") == "display" and _control_code(element) in HELP_CONTROLS


def _control_code(element: Mapping[str, Any]) -> str | None:
    concept = ext.value(ext.find(element, ext.ITEM_CONTROL)) or {}
    codes = [coding.get("code") for coding in concept.get("coding") or ()]
    return next((str(code) for code in codes if code), None)


def _condition_value(condition: Mapping[str, Any]) -> Any:
    key = next((key for key in condition if key.startswith("answer")), None)
    answer = None if key is None else condition[key]
    if key == "answerCoding":
        return answer.get("code")
    if key == "answerQuantity":
        return answer.get("value")
    return answer


def _concept_coding(concept: Mapping[str, Any]) -> Json:
    coding: Json = {"code": concept.get("code"), "display": concept.get("display")}
    if concept.get("extension"):
        coding["extension"] = concept["extension"]
    translations = [
        ext.complex_(
            ext.TRANSLATION,
            [ext.make("lang", "Code", d["language"]), ext.make("content", "String", d["value"])],
        )
        for d in concept.get("designation") or ()
        if d.get("language") and d.get("value")
    ]
    if translations:
        coding["_display"] = {"extension": translations}
    return coding


def _dimension_from_fhir(extension: Mapping[str, Any]) -> Json:
    dimension: Json = {"name": ext.part(extension, "name")}
    for key in ("method", "missing", "description"):
        given = ext.part(extension, key)
        if given is not None:
            dimension[key] = given
    dimension["items"] = [str(item) for item in ext.parts(extension, "item")]
    dimension["bands"] = [
        {
            key: ext.part(band, key)
            for key in ("level", "min", "max")
            if ext.part(band, key) is not None
        }
        for band in ext.parts(extension, "band")
    ]
    return dimension
