"""The words of a rep profiling workbook, in the languages markets work in.

Questionnaire texts come translated from the therapy-area pack; these are
the workbook's own (headers, yes/no, validation messages, instructions). A
language not listed here falls back to English, key by key.
"""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "sheet": "Profiling",
        "instructions_sheet": "Instructions",
        "customer_id": "Customer ID",
        "name": "Name",
        "specialty": "Specialty",
        "city": "City",
        "answered_at": "Date of profiling",
        "customer": "Customer",
        "yes": "Yes",
        "no": "No",
        "required": "Required.",
        "unit": "Unit: {unit}.",
        "only_if": "Answer only if",
        "any_of": "any of",
        "answered": "is answered",
        "not_answered": "is not answered",
        "do_not_edit": "Do not change: harmonia finds the customer by it.",
        "invalid": "Invalid value",
        "choose": "Choose a value from the list.",
        "whole": "Enter a whole number",
        "number": "Enter a number",
        "between": "between {min} and {max}",
        "at_least": "of at least {min}",
        "at_most": "of at most {max}",
        "date": "Enter a date (YYYY-MM-DD).",
        "summary": "Territory {territory}: {customers} customers. "
        "Questionnaire {id}, version {version}.",
        "intro_1": "One row per customer: fill in the date of profiling and the answers you know; "
        "leave the others empty.",
        "intro_2": "Choose answers from the drop-down lists. Where several answers apply, choose "
        "Yes under each of them.",
        "intro_3": "Questions marked * are required. Hover over a question to read its help.",
        "intro_4": "Do not change the customer IDs, the headers or the hidden sheet: harmonia "
        "needs them to read the file back.",
        "intro_5": "Return the file to your analyst, who loads it with:",
    },
    "fr": {
        "sheet": "Profilage",
        "instructions_sheet": "Mode d'emploi",
        "customer_id": "ID client",
        "name": "Nom",
        "specialty": "Spécialité",
        "city": "Ville",
        "answered_at": "Date du profilage",
        "customer": "Client",
        "yes": "Oui",
        "no": "Non",
        "required": "Obligatoire.",
        "unit": "Unité : {unit}.",
        "only_if": "Répondre seulement si",
        "any_of": "l'une des conditions",
        "answered": "a une réponse",
        "not_answered": "n'a pas de réponse",
        "do_not_edit": "Ne pas modifier : harmonia retrouve le client grâce à cet identifiant.",
        "invalid": "Valeur non valide",
        "choose": "Choisissez une valeur dans la liste.",
        "whole": "Saisissez un nombre entier",
        "number": "Saisissez un nombre",
        "between": "entre {min} et {max}",
        "at_least": "supérieur ou égal à {min}",
        "at_most": "inférieur ou égal à {max}",
        "date": "Saisissez une date (AAAA-MM-JJ).",
        "summary": "Secteur {territory} : {customers} clients. "
        "Questionnaire {id}, version {version}.",
        "intro_1": "Une ligne par client : indiquez la date du profilage et les réponses "
        "connues ; laissez les autres vides.",
        "intro_2": "Choisissez les réponses dans les listes déroulantes. Lorsque plusieurs "
        "réponses s'appliquent, choisissez Oui sous chacune d'elles.",
        "intro_3": "Les questions marquées * sont obligatoires. Survolez une question pour lire "
        "son aide.",
        "intro_4": "Ne modifiez ni les ID clients, ni les en-têtes, ni la feuille masquée : "
        "harmonia en a besoin pour relire le fichier.",
        "intro_5": "Renvoyez le fichier à votre analyste, qui le charge avec :",
    },
    "de": {
        "sheet": "Profilierung",
        "instructions_sheet": "Anleitung",
        "customer_id": "Kunden-ID",
        "name": "Name",
        "specialty": "Fachrichtung",
        "city": "Ort",
        "answered_at": "Datum der Profilierung",
        "customer": "Kunde",
        "yes": "Ja",
        "no": "Nein",
        "required": "Pflichtangabe.",
        "unit": "Einheit: {unit}.",
        "only_if": "Nur beantworten, wenn",
        "any_of": "eine der Bedingungen",
        "answered": "beantwortet ist",
        "not_answered": "nicht beantwortet ist",
        "do_not_edit": "Nicht ändern: harmonia erkennt den Kunden daran.",
        "invalid": "Ungültiger Wert",
        "choose": "Wählen Sie einen Wert aus der Liste.",
        "whole": "Geben Sie eine ganze Zahl ein",
        "number": "Geben Sie eine Zahl ein",
        "between": "zwischen {min} und {max}",
        "at_least": "von mindestens {min}",
        "at_most": "von höchstens {max}",
        "date": "Geben Sie ein Datum ein (JJJJ-MM-TT).",
        "summary": "Gebiet {territory}: {customers} Kunden. Fragebogen {id}, Version {version}.",
        "intro_1": "Eine Zeile pro Kunde: Tragen Sie das Datum der Profilierung und die bekannten "
        "Antworten ein; lassen Sie die übrigen leer.",
        "intro_2": "Wählen Sie die Antworten aus den Auswahllisten. Treffen mehrere Antworten zu, "
        "wählen Sie unter jeder Ja.",
        "intro_3": "Mit * markierte Fragen sind Pflichtangaben. Zeigen Sie auf eine Frage, um "
        "ihre Hilfe zu lesen.",
        "intro_4": "Ändern Sie weder die Kunden-IDs noch die Überschriften noch das ausgeblendete "
        "Blatt: harmonia braucht sie, um die Datei wieder einzulesen.",
        "intro_5": "Senden Sie die Datei an Ihre Analystin oder Ihren Analysten zurück, die sie "
        "so laden:",
    },
    "es": {
        "sheet": "Perfilado",
        "instructions_sheet": "Instrucciones",
        "customer_id": "ID de cliente",
        "name": "Nombre",
        "specialty": "Especialidad",
        "city": "Ciudad",
        "answered_at": "Fecha del perfilado",
        "customer": "Cliente",
        "yes": "Sí",
        "no": "No",
        "required": "Obligatoria.",
        "only_if": "Responder solo si",
        "invalid": "Valor no válido",
        "choose": "Elija un valor de la lista.",
        "date": "Introduzca una fecha (AAAA-MM-DD).",
    },
    "it": {
        "sheet": "Profilazione",
        "instructions_sheet": "Istruzioni",
        "customer_id": "ID cliente",
        "name": "Nome",
        "specialty": "Specialità",
        "city": "Città",
        "answered_at": "Data della profilazione",
        "customer": "Cliente",
        "yes": "Sì",
        "no": "No",
        "required": "Obbligatoria.",
        "only_if": "Rispondere solo se",
        "invalid": "Valore non valido",
        "choose": "Scegliere un valore dall'elenco.",
        "date": "Inserire una data (AAAA-MM-GG).",
    },
}

#: What a rep may type for yes and no, whatever the workbook's language.
YES_WORDS = frozenset(
    {"x", "1", "true", "yes", "y", *(labels["yes"].lower() for labels in LABELS.values())}
)
NO_WORDS = frozenset(
    {"0", "false", "no", "n", *(labels["no"].lower() for labels in LABELS.values())}
)


class Labels:
    """The workbook's words in one language, English where a word is not translated."""

    def __init__(self, language: str) -> None:
        primary = language.split("-")[0].lower()
        self.language = language
        self._words = {**LABELS["en"], **LABELS.get(primary, {}), **LABELS.get(language, {})}

    def __getitem__(self, key: str) -> str:
        return self._words[key]

    def format(self, key: str, **values: object) -> str:
        """The word with ``{placeholders}`` filled in."""
        return self._words[key].format(**values)
