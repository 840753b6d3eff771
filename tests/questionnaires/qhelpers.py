"""Helpers shared by the questionnaire tests (a uniquely named module, not conftest:
pytest's importlib mode keeps conftest modules out of reach of imports)."""

from __future__ import annotations

from typing import Any

from harmonia import hookimpl
from harmonia.definitions import structure
from harmonia.engine.dialects import transpile
from harmonia.plugin.types import RESPONSES
from harmonia.questionnaires import Questionnaire


def option(code: str, score: float | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"code": code, "text": {"en": code.title()}}
    if score is not None:
        found["score"] = score
    return found


def questionnaire_data(**fields: Any) -> dict[str, Any]:
    """A valid one-language questionnaire as plain data; ``fields`` override or add."""
    data: dict[str, Any] = {
        "id": "probe",
        "therapy_area": "oncology",
        "version": "1",
        "languages": ["en"],
        "title": {"en": "Probe"},
        "items": [
            {
                "id": "a",
                "type": "single",
                "text": {"en": "A?"},
                "options": [option("x", 0), option("y", 1)],
            }
        ],
    }
    data.update(fields)
    return data


def build(data: dict[str, Any]) -> Questionnaire:
    return structure(data, Questionnaire, where="test")


class QuestionnairePack:
    """A pack providing the given questionnaire versions."""

    def __init__(self, *questionnaires: Questionnaire):
        self.questionnaires = questionnaires

    @hookimpl
    def harmonia_questionnaires(self) -> list[Questionnaire]:
        return list(self.questionnaires)


RESPONSE_HEADER = RESPONSES.column_names
CUSTOMER_HEADER = ("customer_id", "country", "type", "last_name", "specialty", "territory")


def customers(count: int, *, prefix: str = "C", specialty: str = "medical_oncology") -> list[tuple]:
    return [
        (f"{prefix}{n:04d}", "FR", "HCP", f"Name{n}", specialty, "FR-T1")
        for n in range(1, count + 1)
    ]


# --- engines to run scoring SQL in ---------------------------------------------------------

STORE_TABLES = {
    "response": (
        "CREATE TABLE response (id BIGINT, customer_id BIGINT, questionnaire VARCHAR, "
        "version VARCHAR, respondent VARCHAR, answered_at VARCHAR)"
    ),
    "answer": "CREATE TABLE answer (response_id BIGINT, question VARCHAR, value VARCHAR)",
    "customer": "CREATE TABLE customer (id BIGINT, country VARCHAR)",
}


class Engine:
    """A SQL engine holding ``response``/``answer``/``customer`` tables like the store's."""

    def __init__(self, name: str, connection: Any, dialect: str):
        self.name, self.connection, self.dialect = name, connection, dialect

    def setup(self, responses: list[tuple], answers: list[tuple], customers: list[tuple]) -> None:
        for table, ddl in STORE_TABLES.items():
            self._execute(f"DROP TABLE IF EXISTS {table}")
            self._execute(transpile(ddl, self.dialect))
        for table, rows in (("response", responses), ("answer", answers), ("customer", customers)):
            if rows:
                marks = ", ".join([self.mark] * len(rows[0]))
                self._many(f"INSERT INTO {table} VALUES ({marks})", rows)

    def query(self, sql: str) -> list[tuple]:
        cursor = self.connection.cursor()
        cursor.execute(transpile(sql, self.dialect))
        return [tuple(row) for row in cursor.fetchall()]

    @property
    def mark(self) -> str:
        return "%s" if self.dialect == "postgresql" else "?"

    def _execute(self, sql: str) -> None:
        self.connection.cursor().execute(sql)

    def _many(self, sql: str, rows: list[tuple]) -> None:
        self.connection.cursor().executemany(sql, rows)
