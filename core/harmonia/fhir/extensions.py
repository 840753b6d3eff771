"""FHIR extension URLs harmonia reads and writes, and helpers to handle extensions.

HL7 extensions carry what FHIR R4 standardizes (translations, scores, units,
bounds, item controls). What FHIR does not carry (the therapy area, profile
dimensions and their bands, how a version's items map to the previous
version's) travels in harmonia's own extensions under
``https://harmonia.dev/fhir/StructureDefinition/``; see :mod:`harmonia.fhir`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from harmonia.definitions.common import Translated

HL7 = "http://hl7.org/fhir/StructureDefinition/"
TRANSLATION = HL7 + "translation"
#: The score of an answer option (FHIR R5 name, usable in R4).
ITEM_WEIGHT = HL7 + "itemWeight"
#: Older names of the same extension, accepted on import.
ORDINAL_VALUE = HL7 + "ordinalValue"
ISO21090_CO_VALUE = HL7 + "iso21090-CO-value"
VALUESET_ORDINAL_VALUE = HL7 + "valueset-ordinalValue"
SCORES = (ITEM_WEIGHT, ORDINAL_VALUE, ISO21090_CO_VALUE, VALUESET_ORDINAL_VALUE)
ITEM_CONTROL = HL7 + "questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
UNIT = HL7 + "questionnaire-unit"
MIN_VALUE = HL7 + "minValue"
MAX_VALUE = HL7 + "maxValue"

HARMONIA = "https://harmonia.dev/fhir/StructureDefinition/"
#: ``valueCode``: the therapy area a questionnaire belongs to.
THERAPY_AREA = HARMONIA + "therapy-area"
#: Complex: one profile dimension (name, method, missing, description, item*, band*).
PROFILE_DIMENSION = HARMONIA + "profile-dimension"
#: ``valueString`` on an item: its id in the previous version, when it was renamed.
PREVIOUS_ITEM = HARMONIA + "previous-item"
#: ``valueBoolean`` true on an item that keeps a previous id but not its meaning.
PREVIOUS_UNMAPPED = HARMONIA + "previous-unmapped"

#: Canonical URLs of questionnaires exported by harmonia: base + questionnaire id.
QUESTIONNAIRE_BASE = "https://harmonia.dev/fhir/Questionnaire/"
#: Identifier systems of customer ids: base + the source system's name (``csv``, ``crm``).
SOURCE_SYSTEM_BASE = "https://harmonia.dev/fhir/sid/"
#: Identifier system of respondents (reps, vendors).
RESPONDENT_SYSTEM = SOURCE_SYSTEM_BASE + "respondent"


def find_all(element: Mapping[str, Any], url: str) -> list[Mapping[str, Any]]:
    """The extensions of ``element`` with this URL, in order."""
    return [ext for ext in element.get("extension") or () if ext.get("url") == url]


def find(element: Mapping[str, Any], *urls: str) -> Mapping[str, Any] | None:
    """The first extension of ``element`` with one of ``urls`` (tried in that order)."""
    for url in urls:
        found = find_all(element, url)
        if found:
            return found[0]
    return None


def value(extension: Mapping[str, Any] | None) -> Any:
    """The ``value[x]`` of an extension, whatever its type (None when absent)."""
    if extension is None:
        return None
    return next((v for key, v in extension.items() if key.startswith("value")), None)


def make(url: str, kind: str, content: Any) -> dict[str, Any]:
    """A simple extension: ``make(UNIT, "Coding", {...})`` -> ``{url, valueCoding}``."""
    return {"url": url, f"value{kind}": content}


def complex_(url: str, parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A complex extension made of sub-extensions."""
    return {"url": url, "extension": list(parts)}


def parts(extension: Mapping[str, Any], name: str) -> Iterator[Any]:
    """The values of the sub-extensions called ``name`` of a complex extension."""
    for part in extension.get("extension") or ():
        if part.get("url") == name:
            yield value(part) if "extension" not in part else part


def part(extension: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """The value of the first sub-extension called ``name`` (or ``default``)."""
    return next(parts(extension, name), default)


# --- translated text ------------------------------------------------------------


def read_text(element: Mapping[str, Any], field: str, base: str) -> Translated:
    """``element[field]`` in the base language plus its translation extensions."""
    text: Translated = {}
    if element.get(field) is not None:
        text[base] = str(element[field])
    for translation in find_all(element.get(f"_{field}") or {}, TRANSLATION):
        language, content = part(translation, "lang"), part(translation, "content")
        if language and content is not None:
            text.setdefault(str(language), str(content))
    return text


def write_text(
    target: dict[str, Any], field: str, text: Translated, languages: Sequence[str]
) -> None:
    """Set ``target[field]`` to the base language's text and the others as translations."""
    base, others = languages[0], [language for language in languages[1:] if language in text]
    target[field] = text.get(base, "")
    if others:
        target[f"_{field}"] = {
            "extension": [
                complex_(
                    TRANSLATION,
                    [make("lang", "Code", language), make("content", "String", text[language])],
                )
                for language in others
            ]
        }


def translation_languages(resource: Any) -> list[str]:
    """Every language a translation extension uses anywhere in ``resource``, first seen first."""
    seen: dict[str, None] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("url") == TRANSLATION:
                language = part(node, "lang")
                if language:
                    seen.setdefault(str(language), None)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(resource)
    return list(seen)
