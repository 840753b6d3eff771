"""The ``fhir`` data source: QuestionnaireResponse Bundles as canonical responses.

``harmonia load responses.json --system crm`` reads a Bundle of FHIR R4
QuestionnaireResponses (or a single one) into canonical response rows; the
loader validates every answer against its questionnaire and quarantines what
is wrong, exactly as for CSV. Registered like any pack's source; being part
of the FHIR adapter, it imports the contract's own modules rather than the
public facade (which sits above every layer).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from harmonia.errors import InputError
from harmonia.plugin.hookspecs import hookimpl
from harmonia.plugin.types import RECORD_KINDS, Batch, DataSource, Option, SourceRequest


def read_bundle(request: SourceRequest) -> Iterator[Batch]:
    """Yield one ``responses`` batch for the bundle at ``path``."""
    import pyarrow as pa

    from harmonia.fhir.responses import bundle_rows, response_resources

    path = Path(request.option("path") or "")
    document = read_document(path)
    if not response_resources(document):
        raise InputError(
            "no QuestionnaireResponse in this file",
            where=str(path),
            fix="give a QuestionnaireResponse or a Bundle of them; import a Questionnaire with "
            "`harmonia questionnaire import`",
        )
    read = bundle_rows(
        document,
        installed=request.questionnaires,
        questionnaire=request.option("questionnaire"),
        version=request.option("version"),
    )
    columns = RECORD_KINDS["responses"].column_names
    table = pa.table(
        {name: pa.array([row.get(name) for row in read.rows], pa.string()) for name in columns}
        | {"_row": pa.array(range(1, len(read.rows) + 1), pa.int64())}
    )
    yield Batch("responses", table, str(path))


def read_document(path: Path) -> dict:
    """A FHIR JSON file as a dict, or an :class:`InputError` saying why not."""
    if not path.is_file():
        raise InputError("no such file", where=str(path), fix="check the path")
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"not valid JSON: {error}", where=str(path)) from None
    if not isinstance(document, dict):
        raise InputError("not a FHIR resource (expected a JSON object)", where=str(path))
    return document


@hookimpl
def harmonia_data_sources() -> list[DataSource]:
    """The ``fhir`` source, for ``.json`` files."""
    return [
        DataSource(
            name="fhir",
            description="FHIR R4 QuestionnaireResponses (a Bundle or one resource, JSON) as "
            "questionnaire responses.",
            kinds={"responses"},
            family="local",
            read=read_bundle,
            suffixes={".json"},
            options=(
                Option("path", "the JSON file to read", required=True),
                Option(
                    "questionnaire",
                    "the harmonia questionnaire id the responses answer (default: the last "
                    "segment of QuestionnaireResponse.questionnaire)",
                ),
                Option(
                    "version",
                    "the version they answered (default: after '|' in the reference, else the "
                    "newest installed)",
                ),
            ),
        )
    ]
