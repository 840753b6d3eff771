"""FHIR R4 interchange: questionnaires and questionnaire responses.

Questionnaires (:mod:`harmonia.fhir.questionnaire`)
    :func:`to_fhir` writes a harmonia questionnaire as a FHIR R4
    Questionnaire; :func:`from_fhir` reads one back, and reads questionnaires
    written elsewhere (a published instrument such as the LOINC PHQ-9 form),
    taking what FHIR cannot say from an :class:`ImportSpec`. Packs may ship
    FHIR JSON files: :func:`harmonia.load_definitions` reads ``*.json``
    Questionnaires (or a Bundle of them) like TOML.

Responses (:mod:`harmonia.fhir.responses`)
    :func:`responses_bundle` writes stored responses as a Bundle of
    QuestionnaireResponses; the built-in ``fhir`` data source
    (:mod:`harmonia.fhir.source`) loads such bundles through the normal loader,
    so every answer is validated and quarantined like a CSV row.

The mapping, FHIR -> harmonia:

==============================================  ===========================================
FHIR R4 Questionnaire                           harmonia
==============================================  ===========================================
``url`` (last segment), or ``id``               ``id`` (``--id`` overrides)
``version``; ``derivedFrom = url|v``            ``version``; ``previous.version = v``
``language`` + ``translation`` extensions       ``languages`` (base language first)
``title``, ``_title``                           ``title`` in every language
item ``group``                                  ``groups`` (nested groups are flattened)
item ``choice``/``open-choice``                 ``single``, or ``multiple`` when ``repeats``
``integer``/``decimal`` (+ itemControl slider)  ``integer``/``decimal`` (``scale``)
``boolean``, ``date``, ``string``/``text``      ``boolean``, ``date``, ``text``
``required``                                    ``required``
``enableWhen``, ``enableBehavior``              ``enable_when``, ``enable_behavior``
``answerOption.valueCoding`` (code, display)    ``options`` (code, text)
``itemWeight`` on answerOption or Coding        option ``score`` (also ``ordinalValue``,
                                                ``iso21090-CO-value``, ``valueset-ordinalValue``)
display child with itemControl ``help``         ``help`` (``flyover`` is read as help too)
``questionnaire-unit`` (display, translated)    ``unit`` (one text, or one per language)
``minValue``, ``maxValue``                      ``min``, ``max``
==============================================  ===========================================

harmonia's own extensions (under ``https://harmonia.dev/fhir/StructureDefinition/``):

``therapy-area``
    On the Questionnaire, ``valueCode``: the therapy area.
``profile-dimension``
    On the Questionnaire, complex, one per dimension: ``name``, ``method``,
    ``missing``, ``description`` (each once), ``item`` (a linkId, repeated in
    order) and ``band`` (complex: ``level``, ``min``, ``max``; repeated).
``previous-item``
    On an item, ``valueString``: its id in the previous version, when renamed
    (items keep their counterpart of the same id implicitly).
``previous-unmapped``
    On an item, ``valueBoolean`` true: it keeps an id of the previous version
    but not its meaning, so it maps to nothing.

Responses: ``QuestionnaireResponse.questionnaire`` is ``url|version``;
``subject.identifier`` holds the customer's id in a source system whose name
ends the identifier system (``https://harmonia.dev/fhir/sid/crm``);
``author.identifier.value`` is the respondent (``source`` = the subject means
the customer answered: respondent ``self``); ``authored`` is ``answered_at``.
"""

#: Where each public name lives; imported on first use, since the built-in
#: ``fhir`` source registers with every command and most never read FHIR.
_LAZY = {
    "ImportSpec": "questionnaire",
    "Imported": "questionnaire",
    "from_fhir": "questionnaire",
    "resources": "questionnaire",
    "to_fhir": "questionnaire",
    "read_document": "source",
    "bundle_rows": "responses",
    "read_responses": "responses",
    "responses_bundle": "responses",
}


def definition_readers() -> dict:
    """Readers of definition files by suffix: the contract's TOML, and FHIR JSON.

    JSON holding a FHIR Questionnaire (or a Bundle of them) becomes the plain
    data of a harmonia questionnaire on the way; :func:`harmonia.load_definitions`
    reads with these, the contract layer itself knows no FHIR.
    """
    from harmonia.definitions.loading import READERS

    return {**READERS, ".json": _read_json}


def _read_json(text: str, cls: type):
    import json

    from harmonia.fhir.questionnaire import read_definitions

    return read_definitions(json.loads(text))


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"harmonia.fhir.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'harmonia.fhir' has no attribute {name!r}")


__all__ = [
    "ImportSpec",
    "Imported",
    "bundle_rows",
    "definition_readers",
    "from_fhir",
    "read_document",
    "read_responses",
    "resources",
    "responses_bundle",
    "to_fhir",
]
