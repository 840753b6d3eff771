"""FHIR R4 Questionnaire export and import: round trips, foreign forms, errors."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from harmonia import DefinitionError, Questionnaire, load_definitions
from harmonia.definitions import structure
from harmonia.fhir import ImportSpec, from_fhir, to_fhir
from harmonia.fhir import extensions as ext
from harmonia.fhir.tomlwrite import dumps, plain
from harmonia.fhir.values import canonical_number, item_name, questionnaire_slug


def through_json(resource: dict[str, Any]) -> dict[str, Any]:
    """What another system receives: the resource serialized and parsed again."""
    return json.loads(json.dumps(resource, ensure_ascii=False))


def item(resource: dict[str, Any], link_id: str) -> dict[str, Any]:
    """The FHIR item with this linkId, wherever it is nested."""
    stack = list(resource["item"])
    while stack:
        candidate = stack.pop()
        if candidate["linkId"] == link_id:
            return candidate
        stack.extend(candidate.get("item", ()))
    raise KeyError(link_id)


# --- harmonia -> FHIR -> harmonia -------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_oncology_round_trips_exactly(oncology_versions, version):
    original = next(q for q in oncology_versions if q.version == version)
    imported = from_fhir(through_json(to_fhir(original)))
    assert imported.questionnaire == original
    assert imported.notes == ()


def test_export_uses_the_standard_fhir_elements(oncology_versions):
    v2 = oncology_versions[1]
    resource = to_fhir(v2)
    assert resource["resourceType"] == "Questionnaire"
    assert resource["url"] == ext.QUESTIONNAIRE_BASE + "oncology-profile"
    assert resource["version"] == "2"
    assert resource["derivedFrom"] == [ext.QUESTIONNAIRE_BASE + "oncology-profile|1"]
    assert resource["language"] == "en"
    assert [group["type"] for group in resource["item"]] == ["group"] * 3
    adoption = item(resource, "novel_therapy_adoption")
    assert adoption["type"] == "choice" and adoption["required"] is True
    first = adoption["answerOption"][0]
    assert first["valueCoding"]["code"] == "wait"
    assert ext.value(ext.find(first, ext.ITEM_WEIGHT)) == 0
    french = ext.read_text(first["valueCoding"], "display", "en")["fr"]
    assert french.startswith("J'attends")
    tumours = item(resource, "tumour_types")
    assert tumours["repeats"] is True
    role = item(resource, "trial_role")
    assert role["enableWhen"] == [
        {"question": "clinical_trials", "operator": "=", "answerBoolean": True}
    ]
    patients = item(resource, "patients_per_month")
    assert ext.value(ext.find(patients, ext.MIN_VALUE)) == 0
    assert ext.value(ext.find(patients, ext.MAX_VALUE)) == 1500
    assert ext.value(ext.find(patients, ext.UNIT)) == {"display": "patients/month"}
    (help_item,) = patients["item"]
    assert help_item["type"] == "display"
    assert help_item["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "help"
    scale = item(resource, "guideline_adherence")
    assert scale["type"] == "integer"
    assert ext.value(ext.find(scale, ext.ITEM_CONTROL))["coding"][0]["code"] == "slider"
    dimensions = ext.find_all(resource, ext.PROFILE_DIMENSION)
    assert [ext.part(d, "name") for d in dimensions] == [d.name for d in v2.dimensions]
    assert ext.value(ext.find(resource, ext.THERAPY_AREA)) == "oncology"


def test_version_links_renames_and_unmapped_items_round_trip(oncology_versions):
    v2 = oncology_versions[1]
    assert v2.previous is not None
    link = type(v2.previous)(
        version="1", items={"support_priority": "what_matters_most"}, unmapped=("comment",)
    )
    changed = Questionnaire(**{**_fields(v2), "previous": link})
    resource = to_fhir(changed)
    assert ext.value(ext.find(item(resource, "support_priority"), ext.PREVIOUS_ITEM)) == (
        "what_matters_most"
    )
    assert ext.value(ext.find(item(resource, "comment"), ext.PREVIOUS_UNMAPPED)) is True
    assert from_fhir(through_json(resource)).questionnaire == changed


def test_translated_units_and_open_bands_round_trip(oncology_versions):
    v1 = oncology_versions[0]
    items = tuple(
        type(i)(
            **{
                **_fields(i),
                "unit": {"en": "patients/month", "fr": "patients/mois", "de": "Patienten/Monat"},
            }
        )
        if i.id == "patients_per_month"
        else i
        for i in v1.items
    )
    changed = Questionnaire(**{**_fields(v1), "items": items})
    unit = ext.value(ext.find(item(to_fhir(changed), "patients_per_month"), ext.UNIT))
    assert unit["display"] == "patients/month"
    assert from_fhir(through_json(to_fhir(changed))).questionnaire == changed


def test_toml_written_for_a_pack_loads_back_equal(oncology_versions, tmp_path):
    for original in oncology_versions:
        path = tmp_path / f"v{original.version}.toml"
        path.write_text(dumps(plain(original), header="written by a test"), encoding="utf-8")
        assert structure(tomllib.loads(path.read_text()), Questionnaire, where="t") == original
    assert sorted(load_definitions(Questionnaire, tmp_path), key=lambda q: q.version) == (
        oncology_versions
    )


def test_packs_may_ship_fhir_json(oncology_versions, tmp_path):
    """load_definitions reads a FHIR Questionnaire, and a Bundle of them, like TOML."""
    (tmp_path / "one.json").write_text(json.dumps(to_fhir(oncology_versions[0])))
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": to_fhir(oncology_versions[1])}],
    }
    (tmp_path / "more.json").write_text(json.dumps(bundle))
    loaded = load_definitions(Questionnaire, tmp_path)
    assert sorted(loaded, key=lambda q: q.version) == oncology_versions


def test_a_pack_file_without_therapy_area_says_how_to_fix_it(phq9, tmp_path):
    (tmp_path / "phq-9.json").write_text(json.dumps(phq9))
    with pytest.raises(DefinitionError) as error:
        load_definitions(Questionnaire, tmp_path)
    assert "no therapy area" in str(error.value)
    assert ext.THERAPY_AREA in str(error.value)


# --- questionnaires written elsewhere -----------------------------------------------------


def test_phq9_imports_with_a_dimension_spec(phq9, phq9_spec_file):
    imported = from_fhir(phq9, ImportSpec.from_file(phq9_spec_file))
    q = imported.questionnaire
    assert (q.id, q.version, q.therapy_area, q.languages) == ("phq-9", "1", "psychiatry", ("en",))
    assert [i.id for i in q.items][:2] == ["q_44250_9", "q_44255_8"]
    first = q.items[0]
    assert first.type == "single" and first.required
    assert [(o.code, o.score) for o in first.options] == [
        ("LA6568-5", 0),
        ("LA6569-3", 1),
        ("LA6570-1", 2),
        ("LA6571-9", 3),
    ]
    assert q.item("q_44260_8").required is False
    total = q.item("q_44261_6")
    assert (total.type, total.min, total.max, total.unit) == ("integer", 0, 27, "{score}")
    assert total.help["en"].startswith("The PHQ-9 total")
    difficulty = q.item("q_69722_7")
    assert [o.score for o in difficulty.options] == [None] * 4
    (severity,) = q.dimensions
    assert severity.items == tuple(i.id for i in q.items[:9])
    assert severity.levels == ("minimal", "mild", "moderate", "moderately_severe", "severe")
    assert any("read-only" in note for note in imported.notes)
    assert any("no version" in note for note in imported.notes)


@pytest.mark.parametrize(
    "where, url",
    [
        ("option", ext.ITEM_WEIGHT),
        ("option", ext.ORDINAL_VALUE),
        ("coding", ext.ISO21090_CO_VALUE),
        ("coding", ext.ITEM_WEIGHT),
    ],
)
def test_scores_are_read_from_every_score_extension(phq9, where, url):
    """itemWeight (R5 name), ordinalValue and the iso21090 ordinal, on answerOption or Coding."""
    for element in phq9["item"]:
        for option in element.get("answerOption", ()):
            score = ext.value(ext.find(option, ext.ORDINAL_VALUE))
            kept = [e for e in option.get("extension", ()) if e["url"] != ext.ORDINAL_VALUE]
            option["extension"] = kept
            if score is not None:
                holder = option if where == "option" else option["valueCoding"]
                holder.setdefault("extension", []).append({"url": url, "valueDecimal": score})
    q = from_fhir(phq9, ImportSpec(therapy_area="psychiatry")).questionnaire
    assert [o.score for o in q.items[3].options] == [0, 1, 2, 3]


def test_translations_groups_skip_logic_and_help_of_a_foreign_form():
    def translated(text: str, french: str) -> dict[str, Any]:
        return {
            "text": text,
            "_text": {
                "extension": [
                    ext.complex_(
                        ext.TRANSLATION,
                        [ext.make("lang", "Code", "fr"), ext.make("content", "String", french)],
                    )
                ]
            },
        }

    resource = {
        "resourceType": "Questionnaire",
        "language": "en",
        "url": "https://example.org/Questionnaire/Smoking_Status",
        "version": "3.1",
        "title": "Smoking",
        "_title": translated("Smoking", "Tabac")["_text"],
        "item": [
            {
                "linkId": "habits",
                "type": "group",
                **translated("Habits", "Habitudes"),
                "enableWhen": [{"question": "consent", "operator": "=", "answerBoolean": True}],
                "item": [
                    {
                        "linkId": "smokes",
                        "type": "boolean",
                        "required": True,
                        **translated("Do you smoke?", "Fumez-vous ?"),
                    },
                    {
                        "linkId": "Cigarettes.Per-Day",
                        "type": "decimal",
                        **translated("Cigarettes per day", "Cigarettes par jour"),
                        "enableWhen": [
                            {"question": "smokes", "operator": "=", "answerBoolean": True}
                        ],
                        "item": [
                            {
                                "linkId": "tip",
                                "type": "display",
                                "extension": [
                                    ext.make(
                                        ext.ITEM_CONTROL,
                                        "CodeableConcept",
                                        {"coding": [{"code": "flyover"}]},
                                    )
                                ],
                                **translated("An average", "Une moyenne"),
                            }
                        ],
                    },
                ],
            },
            {"linkId": "consent", "type": "boolean", **translated("Consent?", "Accord ?")},
            {"linkId": "note", "type": "display", **translated("Thanks", "Merci")},
        ],
    }
    imported = from_fhir(resource, ImportSpec(therapy_area="respiratory"))
    q = imported.questionnaire
    assert (q.id, q.version, q.languages) == ("smoking_status", "3.1", ("en", "fr"))
    assert q.title == {"en": "Smoking", "fr": "Tabac"}
    assert [g.id for g in q.groups] == ["habits"]
    per_day = q.item("cigarettes_per_day")
    assert per_day.group == "habits"
    assert per_day.help == {"en": "An average", "fr": "Une moyenne"}
    assert [(c.item, c.answer) for c in per_day.enable_when] == [
        ("consent", True),
        ("smokes", True),
    ]
    assert [(c.item, c.answer) for c in q.item("smokes").enable_when] == [("consent", True)]
    assert any("display item 'note' left out" in note for note in imported.notes)


def test_every_problem_is_reported_at_once():
    resource = {
        "resourceType": "Questionnaire",
        "url": "https://example.org/Questionnaire/broken",
        "item": [
            {"linkId": "photo", "type": "attachment", "text": "A photo"},
            {
                "linkId": "a",
                "type": "string",
                "text": "A",
                "enableWhen": [{"question": "zzz", "operator": "exists", "answerBoolean": True}],
            },
            {"linkId": "b", "type": "choice", "text": "B", "answerValueSet": "http://x/vs"},
            {"linkId": "A", "type": "string", "text": "A again"},
        ],
    }
    with pytest.raises(DefinitionError) as error:
        from_fhir(resource)
    message = str(error.value)
    for expected in (
        "no therapy area",
        "item type 'attachment' is not supported",
        "question 'zzz' is not a linkId",
        "http://x/vs is not contained",
        "linkIds 'a' and 'A' both become item 'a'",
    ):
        assert expected in message


def test_contained_value_sets_give_options_scores_and_translations():
    resource = {
        "resourceType": "Questionnaire",
        "url": "https://example.org/Questionnaire/vs",
        "contained": [
            {
                "resourceType": "ValueSet",
                "id": "freq",
                "compose": {
                    "include": [
                        {
                            "system": "http://loinc.org",
                            "concept": [
                                {
                                    "code": "LA6568-5",
                                    "display": "Not at all",
                                    "designation": [{"language": "de", "value": "Überhaupt nicht"}],
                                    "extension": [
                                        {"url": ext.VALUESET_ORDINAL_VALUE, "valueDecimal": 0}
                                    ],
                                },
                                {
                                    "code": "LA6569-3",
                                    "display": "Several days",
                                    "designation": [
                                        {"language": "de", "value": "An einzelnen Tagen"}
                                    ],
                                    "extension": [
                                        {"url": ext.VALUESET_ORDINAL_VALUE, "valueDecimal": 1}
                                    ],
                                },
                            ],
                        }
                    ]
                },
            }
        ],
        "item": [
            {
                "linkId": "q1",
                "type": "choice",
                "text": "Tired?",
                "_text": {
                    "extension": [
                        ext.complex_(
                            ext.TRANSLATION,
                            [
                                ext.make("lang", "Code", "de"),
                                ext.make("content", "String", "Müde?"),
                            ],
                        )
                    ]
                },
                "answerValueSet": "#freq",
            }
        ],
    }
    q = from_fhir(resource, ImportSpec(therapy_area="psychiatry")).questionnaire
    options = q.items[0].options
    assert [(o.code, o.score, o.text["de"]) for o in options] == [
        ("LA6568-5", 0, "Überhaupt nicht"),
        ("LA6569-3", 1, "An einzelnen Tagen"),
    ]


def test_a_missing_translation_is_a_harmonia_error():
    resource = {
        "resourceType": "Questionnaire",
        "url": "https://example.org/Questionnaire/partial",
        "title": "T",
        "_title": {
            "extension": [
                ext.complex_(
                    ext.TRANSLATION,
                    [ext.make("lang", "Code", "fr"), ext.make("content", "String", "T")],
                )
            ]
        },
        "item": [{"linkId": "q", "type": "string", "text": "Only English"}],
    }
    with pytest.raises(DefinitionError) as error:
        from_fhir(resource, ImportSpec(therapy_area="x"))
    assert "items[0].text: missing the 'fr' translation" in str(error.value)
    only_english = from_fhir(resource, ImportSpec(therapy_area="x", languages=("en",)))
    assert only_english.questionnaire.languages == ("en",)


def test_spec_options_win_over_the_file(phq9, phq9_spec_file):
    spec = ImportSpec.from_file(phq9_spec_file).updated(id="phq9-uk", version="2020")
    q = from_fhir(phq9, spec).questionnaire
    assert (q.id, q.version, q.therapy_area) == ("phq9-uk", "2020", "psychiatry")


def test_a_sidecar_with_unknown_keys_is_refused(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text('therapy = "x"\n')
    with pytest.raises(DefinitionError, match="unknown key"):
        ImportSpec.from_file(path)


# --- values --------------------------------------------------------------------------------


def test_ids_from_link_ids_and_canonical_urls():
    assert item_name("/44250-9") == "q_44250_9"
    assert item_name("patients_per_month") == "patients_per_month"
    assert item_name("Cigarettes.Per-Day") == "cigarettes_per_day"
    assert questionnaire_slug("https://harmonia.dev/fhir/Questionnaire/oncology-profile|2") == (
        "oncology-profile"
    )
    assert questionnaire_slug("http://loinc.org/q/44249-1") == "44249-1"


@pytest.mark.parametrize(
    "value, text",
    [(795.0, "795"), (62.1, "62.1"), (2.125, "2.1250"), (-1.5, "-1.5"), (0.125, "0.1250")],
)
def test_numbers_read_the_same_with_either_decimal_mark(value, text):
    assert canonical_number(value) == text


def _fields(instance: Any) -> dict[str, Any]:
    import attrs

    return {f.name: getattr(instance, f.name) for f in attrs.fields(type(instance)) if f.init}


def test_export_does_not_mutate_or_depend_on_serialization(oncology_versions):
    first = to_fhir(oncology_versions[1])
    assert to_fhir(oncology_versions[1]) == copy.deepcopy(first)


def test_import_of_a_path(tmp_path: Path, oncology_versions):
    path = tmp_path / "q.json"
    path.write_text(json.dumps(to_fhir(oncology_versions[0]), ensure_ascii=False), "utf-8")
    assert from_fhir(json.loads(path.read_text("utf-8"))).questionnaire == oncology_versions[0]
