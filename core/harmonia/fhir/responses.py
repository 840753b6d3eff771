"""FHIR R4 QuestionnaireResponse <-> harmonia's canonical response rows.

Export reads stored responses (:func:`read_responses`) and writes them as a
Bundle (:func:`responses_bundle`); import turns a Bundle (or one response)
into canonical long rows (:func:`bundle_rows`) that the ``fhir`` data source
hands to the loader, so they are validated and quarantined like CSV rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from harmonia.fhir import extensions as ext
from harmonia.fhir.questionnaire import fhir_type, nest
from harmonia.fhir.values import (
    canonical_number,
    canonical_timestamp,
    canonical_version,
    fhir_timestamp,
    item_name,
    questionnaire_slug,
)
from harmonia.questionnaires import Item, Questionnaire, version_key

if TYPE_CHECKING:
    from harmonia.store import Database

Json = dict[str, Any]

#: Stable ids for exported resources: the same stored response gives the same id.
_NAMESPACE = uuid.UUID("0d4b2a4e-6f0c-5a8e-9b1f-6a1d3c2e7f90")


@attrs.frozen
class StoredResponse:
    """A stored response with its answers, and the customer as one source knows them."""

    id: int
    customer: str
    system: str
    customer_type: str
    customer_name: str
    questionnaire: str
    version: str
    respondent: str
    answered_at: str
    answers: Mapping[str, tuple[str, ...]]


# --- export ---------------------------------------------------------------------


def read_responses(
    database: Database,
    questionnaire: str,
    *,
    customers: Sequence[str] = (),
    system: str | None = None,
    territory: str | None = None,
    country: str | None = None,
) -> list[StoredResponse]:
    """The stored responses to a questionnaire, optionally of some customers only;
    never a customer's who objects to profiling.

    Customers are named by their id in ``system``; without it, by their id in
    the system their response was loaded with (so an export loads back with
    the same ``--system``).
    """
    from harmonia.sql import literal
    from harmonia.store.bulk import BulkConnection
    from harmonia.store.facts import facts_of
    from harmonia.store.identity import OBJECTING, survivor

    filters = [f"r.questionnaire = {literal(questionnaire)}"]
    of_customers = []
    for column, given in (("territory", territory), ("country", country)):
        if given:
            of_customers.append(f"{column} = {literal(given)}")
    of_crosswalk = []
    if customers:
        of_crosswalk.append(f"source_id IN ({', '.join(map(literal, customers))})")
    filters += [f"c.{condition}" for condition in of_customers]
    filters += [f"cw.{condition}" for condition in of_crosswalk]
    # An objection to profiling holds for every output (GDPR Art. 21), by any id of the person.
    filters.append(f"{survivor('r.customer_id')} NOT IN ({OBJECTING})")
    same_system = f"cw.system = {literal(system)}" if system else "cw.system = b.system"
    sql = f"""
        SELECT r.id, cw.source_id, cw.system, c.type, c.first_name, c.last_name,
               r.questionnaire, r.version, r.respondent, r.answered_at, a.question, a.value
        FROM response r
        JOIN customer c ON c.id = r.customer_id
        JOIN load_batch b ON b.id = r.batch_id
        JOIN crosswalk cw ON cw.customer_id = r.customer_id AND {same_system}
        LEFT JOIN answer a ON a.response_id = r.id
        WHERE {" AND ".join(filters)}
        ORDER BY r.id, cw.source_id, a.question, a.value
    """
    # Where responses are kept apart from the database, the records they join
    # are read from it (only the customers asked for).
    tables = {
        "customer": "SELECT id, type, first_name, last_name, territory, country FROM customer"
        + (f" WHERE {' AND '.join(of_customers)}" if of_customers else ""),
        "load_batch": "SELECT id, system FROM load_batch",
        "objection": "SELECT customer_id FROM objection",
        "customer_redirect": "SELECT merged_id, survivor_id FROM customer_redirect",
        "crosswalk": "SELECT customer_id, system, source_id FROM crosswalk"
        + (f" WHERE {' AND '.join(of_crosswalk)}" if of_crosswalk else ""),
    }
    with BulkConnection(database, write=False) as bulk:
        rows = facts_of(database).read(bulk, sql, tables=tables)
    return _group_rows(zip(*(column.to_pylist() for column in rows.columns), strict=True))


def _group_rows(rows: Iterable[Any]) -> list[StoredResponse]:
    responses: dict[int, StoredResponse] = {}
    answers: dict[int, dict[str, list[str]]] = {}
    for rid, source_id, system, kind, first, last, qid, version, respondent, at, q, v in rows:
        if rid not in responses:  # a customer known twice to one system: its first id
            name = " ".join(part for part in (first, last) if part)
            responses[rid] = StoredResponse(
                rid, source_id, system, kind, name, qid, version, respondent or "", at, {}
            )
            answers[rid] = {}
        if q is not None and responses[rid].customer == source_id:
            answers[rid].setdefault(q, []).append(v)
    return [
        attrs.evolve(response, answers={q: tuple(v) for q, v in answers[rid].items()})
        for rid, response in responses.items()
    ]


def responses_bundle(
    responses: Iterable[StoredResponse],
    questionnaires: Mapping[tuple[str, str], Questionnaire],
    *,
    base: str = ext.QUESTIONNAIRE_BASE,
) -> Json:
    """A FHIR ``collection`` Bundle with one QuestionnaireResponse per stored response.

    Answers are typed and ordered by the version they answered (choice answers
    carry the option's text in the questionnaire's first language); answers
    to a version that is not installed are written as strings.
    """
    entries = []
    for response in responses:
        resource = response_to_fhir(
            response, questionnaires.get((response.questionnaire, response.version)), base=base
        )
        entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def response_to_fhir(
    response: StoredResponse, questionnaire: Questionnaire | None, *, base: str
) -> Json:
    """One stored response as a FHIR R4 QuestionnaireResponse."""
    r = response
    key = "|".join((r.system, r.customer, r.questionnaire, r.version, r.respondent, r.answered_at))
    resource: Json = {
        "resourceType": "QuestionnaireResponse",
        "id": str(uuid.uuid5(_NAMESPACE, key)),
        "questionnaire": f"{base}{response.questionnaire}|{response.version}",
        "status": "completed",
    }
    subject: Json = {
        "type": "Organization" if response.customer_type == "HCO" else "Practitioner",
        "identifier": {
            "system": ext.SOURCE_SYSTEM_BASE + response.system,
            "value": response.customer,
        },
    }
    if response.customer_name:
        subject["display"] = response.customer_name
    resource["subject"] = subject
    resource["authored"] = fhir_timestamp(response.answered_at)
    if response.respondent == "self":
        resource["source"] = dict(subject)
    elif response.respondent:
        resource["author"] = {
            "identifier": {"system": ext.RESPONDENT_SYSTEM, "value": response.respondent}
        }
    resource["item"] = _answer_items(response, questionnaire)
    return resource


def _answer_items(response: StoredResponse, questionnaire: Questionnaire | None) -> list[Json]:
    if questionnaire is None:
        return [
            {"linkId": question, "answer": [{"valueString": value} for value in values]}
            for question, values in response.answers.items()
        ]
    base = questionnaire.languages[0]
    elements = {}
    for item in questionnaire.items:
        values = response.answers.get(item.id)
        if values:
            answers = [_typed(item, value, base) for value in _ordered(item, values)]
            elements[item.id] = {
                "linkId": item.id,
                "text": item.text.get(base, ""),
                "answer": answers,
            }
    unknown = [q for q in response.answers if questionnaire.item(q) is None]
    nested = nest(
        questionnaire,
        elements,
        lambda group: {"linkId": group.id, "text": group.title.get(base, "")},
    )
    return nested + [
        {"linkId": q, "answer": [{"valueString": v} for v in response.answers[q]]} for q in unknown
    ]


def _ordered(item: Item, values: Sequence[str]) -> list[str]:
    """Options in the questionnaire's order (they are stored one row per option)."""
    order = {option.code: index for index, option in enumerate(item.options)}
    return sorted(values, key=lambda value: order.get(value, len(order)))


def _typed(item: Item, value: str, language: str) -> Json:
    """A stored answer as the ``value[x]`` its item's FHIR type calls for."""
    kind = fhir_type(item)
    try:
        if kind == "choice":
            coding: Json = {"code": value}
            option = item.option(value)
            if option is not None:
                coding["display"] = option.text.get(language, value)
            return {"valueCoding": coding}
        if kind == "integer":
            return {"valueInteger": int(float(value))}
        if kind == "decimal":
            return {"valueDecimal": float(value)}
    except ValueError:  # stored before a definition changed: keep it, as text
        return {"valueString": value}
    if kind == "boolean":
        return {"valueBoolean": value == "true"}
    if kind == "date":
        return {"valueDate": value[:10]}
    return {"valueString": value}


# --- import ---------------------------------------------------------------------


@attrs.frozen
class ResponseRows:
    """Canonical response rows read from FHIR, and what else the reading found.

    ``systems`` are the source systems the subjects' identifiers name (the
    ``--system`` to load them with); ``skipped`` counts responses marked
    ``entered-in-error``, which are retractions, not answers.
    """

    rows: list[dict[str, Any]]
    systems: frozenset[str] = frozenset()
    skipped: int = 0


def response_resources(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The QuestionnaireResponses of a JSON document: itself, or a Bundle's entries."""
    if document.get("resourceType") == "QuestionnaireResponse":
        return [document]
    entries = document.get("entry") or () if document.get("resourceType") == "Bundle" else ()
    found = [entry.get("resource") or {} for entry in entries]
    return [r for r in found if r.get("resourceType") == "QuestionnaireResponse"]


def bundle_rows(
    document: Mapping[str, Any],
    *,
    installed: Sequence[Questionnaire] = (),
    questionnaire: str | None = None,
    version: str | None = None,
) -> ResponseRows:
    """Canonical long rows (one per answered item) for the responses in ``document``.

    The questionnaire is the last segment of ``QuestionnaireResponse.questionnaire``
    (or ``questionnaire``), its version the part after ``|`` (or ``version``,
    else the newest installed version). linkIds map to item ids as on
    questionnaire import. Nothing is judged here: the loader validates.
    """
    rows: list[dict[str, Any]] = []
    systems: set[str] = set()
    skipped = 0
    for resource in response_resources(document):
        if resource.get("status") == "entered-in-error":
            skipped += 1
            continue
        qid, qversion = _questionnaire_of(resource, installed, questionnaire, version)
        customer, system = _subject(resource)
        if system:
            systems.add(system)
        common = {
            "customer_id": customer,
            "questionnaire": qid,
            "version": qversion,
            "respondent": _respondent(resource),
            "answered_at": canonical_timestamp(resource["authored"])
            if resource.get("authored")
            else None,
        }
        for link_id, answers in _answered(resource.get("item") or ()):
            text = "|".join(value for value in map(_answer_text, answers) if value is not None)
            rows.append({**common, "question": item_name(link_id), "answer": text or None})
    return ResponseRows(rows, frozenset(systems), skipped)


def _questionnaire_of(
    resource: Mapping[str, Any],
    installed: Sequence[Questionnaire],
    questionnaire: str | None,
    version: str | None,
) -> tuple[str | None, str | None]:
    reference = resource.get("questionnaire")
    if isinstance(reference, Mapping):  # STU3 wrote a Reference
        reference = reference.get("reference")
    qid = questionnaire or (questionnaire_slug(reference) if reference else None)
    qversion = version or (canonical_version(reference) if reference else None)
    if qversion is None and qid is not None:
        versions = [q.version for q in installed if q.id == qid]
        qversion = max(versions, key=version_key) if versions else None
    return qid, qversion


def _subject(resource: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The customer's source id, and the source system its identifier names."""
    subject = resource.get("subject") or {}
    identifier = subject.get("identifier") or {}
    system = str(identifier.get("system") or "")
    named = (
        system[len(ext.SOURCE_SYSTEM_BASE) :] if system.startswith(ext.SOURCE_SYSTEM_BASE) else None
    )
    if identifier.get("value"):
        return str(identifier["value"]), named
    reference = subject.get("reference")
    return (str(reference).rstrip("/").rsplit("/", 1)[-1], None) if reference else (None, None)


def _respondent(resource: Mapping[str, Any]) -> str:
    """Who answered: the author (a rep), ``self`` when the subject answered, or nobody said."""
    author, source = resource.get("author"), resource.get("source")
    if author:
        return _reference_name(author)
    if source and _same_party(source, resource.get("subject") or {}):
        return "self"
    return _reference_name(source) if source else ""


def _reference_name(reference: Mapping[str, Any]) -> str:
    identifier = reference.get("identifier") or {}
    if identifier.get("value"):
        return str(identifier["value"])
    if reference.get("reference"):
        return str(reference["reference"]).rstrip("/").rsplit("/", 1)[-1]
    return str(reference.get("display") or "")


def _same_party(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    keys = ("identifier", "reference")
    return any(one.get(key) and one.get(key) == other.get(key) for key in keys)


def _answered(items: Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, list[Mapping[str, Any]]]]:
    """(linkId, answers) of every answered item, groups and nested items flattened."""
    for item in items:
        answers = list(item.get("answer") or ())
        if answers and item.get("linkId"):
            yield str(item["linkId"]), answers
        yield from _answered(item.get("item") or ())
        for answer in answers:
            yield from _answered(answer.get("item") or ())


def _answer_text(answer: Mapping[str, Any]) -> str | None:
    """One FHIR answer as canonical text: a code, a number, true/false, a date or text."""
    key = next((key for key in answer if key.startswith("value")), None)
    if key is None:
        return None
    value = answer[key]
    if key == "valueCoding":
        return str(value.get("code") or value.get("display") or "") or None
    if key == "valueBoolean":
        return "true" if value else "false"
    if key in ("valueInteger", "valueDecimal"):
        return canonical_number(value)
    if key == "valueQuantity":
        return canonical_number(value["value"]) if "value" in value else None
    if key == "valueDateTime":
        return canonical_timestamp(value)
    return str(value)
