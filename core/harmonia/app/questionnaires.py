"""Profiling questionnaires: the installed versions, validation of definition
files, and FHIR R4 interchange (``harmonia questionnaire``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from harmonia.errors import InputError, NotFoundError
from harmonia.fhir.extensions import QUESTIONNAIRE_BASE

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia
    from harmonia.questionnaires import Questionnaire


@attrs.frozen
class Imported:
    """A questionnaire read from FHIR: what it holds, where it was written, what did not carry."""

    id: str
    version: str
    therapy_area: str
    languages: list[str]
    items: int
    dimensions: list[str]
    file: str | None
    notes: list[str]


class Questionnaires:
    """``app.questionnaires``: what is installed, checked, and exchanged as FHIR."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    def versions(self, questionnaire_id: str | None = None) -> list[Questionnaire]:
        """Installed questionnaire versions (of one id), by id then oldest version first."""
        return self.app.catalog.questionnaire_versions(questionnaire_id)

    def resolve(self, questionnaire_id: str, version: str | None = None) -> Questionnaire:
        """The named version of a questionnaire, or its newest; an error lists what exists."""
        versions = self.versions(questionnaire_id)
        if not versions:
            known = sorted({q.id for q in self.versions()}) or ["none"]
            raise NotFoundError(
                f"no questionnaire {questionnaire_id!r} is installed (installed: "
                f"{', '.join(known)})",
                fix="see `harmonia questionnaire list`, or install the therapy area's pack",
            )
        if version is None:
            return versions[-1]
        for candidate in versions:
            if candidate.version == version:
                return candidate
        raise NotFoundError(
            f"{questionnaire_id} has no version {version!r} "
            f"(installed: {', '.join(q.version for q in versions)})",
            fix="leave out --version for the newest",
        )

    def comparability(self, questionnaire: Questionnaire) -> dict[str, dict[str, dict[str, Any]]]:
        """Per dimension of ``questionnaire``, per installed version: comparable or not, and why."""
        from harmonia.questionnaires import comparable_versions

        versions = self.versions(questionnaire.id) or [questionnaire]
        return {
            dimension.name: {
                version: {"comparable": verdict.comparable, "reason": verdict.reason}
                for version, verdict in comparable_versions(versions, dimension.name).items()
            }
            for dimension in questionnaire.dimensions
        }

    def validate(self, files: Sequence[Path]) -> list[dict[str, Any]]:
        """Each file's verdict: its questionnaires, or every problem with its path.

        A version whose previous version is among the files (or installed) is
        also checked against it.
        """
        from harmonia.definitions import load_file
        from harmonia.errors import DefinitionError
        from harmonia.fhir import definition_readers
        from harmonia.questionnaires import Questionnaire

        verdicts: list[dict[str, Any]] = []
        loaded: dict[Path, list[Questionnaire]] = {}
        for path in files:
            try:
                loaded[path] = load_file(Questionnaire, path, readers=definition_readers())
                problems: list[dict[str, str]] = []
            except DefinitionError as error:
                loaded[path] = []
                problems = [{"path": p.path, "message": p.message} for p in error.problems]
            verdicts.append({"file": str(path), "problems": problems})
        known = {q.key: q for found in loaded.values() for q in found}
        for verdict, path in zip(verdicts, files, strict=True):
            for q in loaded[path]:
                verdict["problems"].extend(self._link_problems(q, known))
            verdict["questionnaires"] = [
                {"id": q.id, "version": q.version, "items": len(q.items)} for q in loaded[path]
            ]
            verdict["ok"] = not verdict["problems"]
        return verdicts

    def _link_problems(
        self, q: Questionnaire, known: dict[tuple[str, str], Questionnaire]
    ) -> list[dict[str, str]]:
        """How ``q`` maps to its previous version, if that version is given or installed."""
        from harmonia.questionnaires import version_problems

        if q.previous is None:
            return []
        older = known.get((q.id, q.previous.version)) or self._installed(q.id, q.previous.version)
        if older is None:
            return []
        return [{"path": p.path, "message": p.message} for p in version_problems(q, older)]

    def _installed(self, questionnaire_id: str, version: str) -> Questionnaire | None:
        try:
            versions = self.versions(questionnaire_id)
        except Exception:  # a broken installation must not hide the file's own verdict
            return None
        return next((q for q in versions if q.version == version), None)

    # -- FHIR interchange ----------------------------------------------------------------

    def export(
        self,
        questionnaire_id: str,
        version: str | None = None,
        *,
        format: str = "fhir",
        base_url: str = QUESTIONNAIRE_BASE,
    ) -> tuple[Questionnaire, str]:
        """A questionnaire as FHIR R4 JSON or as the TOML a pack ships: (it, the text)."""
        chosen = self.resolve(questionnaire_id, version)
        if format == "toml":
            from harmonia.fhir.tomlwrite import dumps, plain

            return chosen, dumps(plain(chosen))
        from harmonia.fhir import to_fhir

        return chosen, _json(to_fhir(chosen, base=base_url))

    def export_responses(
        self,
        questionnaire_id: str,
        version: str | None = None,
        *,
        customers: Sequence[str] = (),
        territory: str | None = None,
        country: str | None = None,
        system: str | None = None,
        base_url: str = QUESTIONNAIRE_BASE,
    ) -> tuple[int, str]:
        """The stored responses as a FHIR Bundle of QuestionnaireResponses: (how many, JSON)."""
        from harmonia.fhir import read_responses, responses_bundle

        stored = read_responses(
            self.app.existing_database,
            questionnaire_id,
            customers=customers,
            system=system,
            territory=territory,
            country=country.upper() if country else None,
        )
        if version is not None:
            stored = [response for response in stored if response.version == version]
        installed = dict(self.app.catalog.questionnaires)
        return len(stored), _json(responses_bundle(stored, installed, base=base_url))

    def import_fhir(
        self,
        file: Path,
        *,
        spec_file: Path | None = None,
        therapy_area: str | None = None,
        questionnaire_id: str | None = None,
        version: str | None = None,
        languages: Sequence[str] = (),
        out: Path | None = None,
    ) -> list[Imported]:
        """Read a FHIR R4 Questionnaire (or a Bundle of them) as harmonia definitions;
        with ``out``, write each as the TOML a pack ships."""
        from harmonia.fhir import ImportSpec, from_fhir, read_document, resources

        found = resources(read_document(file))
        if not found:
            raise InputError(
                "no FHIR Questionnaire in this file",
                where=str(file),
                fix="give a Questionnaire resource or a Bundle of them (responses load with "
                "`harmonia load`)",
            )
        if len(found) > 1 and (questionnaire_id or version):
            raise InputError(
                "--id and --version apply to a file with one questionnaire", where=str(file)
            )
        spec = ImportSpec.from_file(spec_file) if spec_file else ImportSpec()
        spec = spec.updated(
            id=questionnaire_id, therapy_area=therapy_area, version=version, languages=languages
        )
        results = []
        for resource in found:
            imported = from_fhir(resource, spec)
            q = imported.questionnaire
            written = _write_definition(q, out, file) if out else None
            results.append(
                Imported(
                    id=q.id,
                    version=q.version,
                    therapy_area=q.therapy_area,
                    languages=list(q.languages),
                    items=len(q.items),
                    dimensions=[dimension.name for dimension in q.dimensions],
                    file=str(written) if written else None,
                    notes=list(imported.notes),
                )
            )
        return results


def _json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _write_definition(definition: Any, directory: Path, source: Path) -> Path:
    """Write the TOML a pack ships, and check that it loads back as the same definition."""
    import tomllib

    from harmonia.definitions import structure
    from harmonia.fhir.tomlwrite import dumps, plain
    from harmonia.questionnaires import Questionnaire

    header = (
        f"{definition.id} version {definition.version}, imported from {source.name} by "
        f"`harmonia questionnaire import` on {dt.date.today().isoformat()}."
    )
    text = dumps(plain(definition), header=header)
    path = directory / f"{definition.id}-v{definition.version}.toml"
    if structure(tomllib.loads(text), Questionnaire, where=str(path)) != definition:
        raise RuntimeError(f"internal error: {path} would not load back as imported")
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
