"""harmonia-excel: Excel workbooks in and out of harmonia.

The pack provides

* the ``xlsx`` data source: canonical sheets (``customers``, ``metrics``,
  ``responses``) and filled rep profiling workbooks, through the normal
  loader (``harmonia load data.xlsx``);
* the ``xlsx`` output sink: cycle outputs (target lists ...) as formatted
  workbooks (``harmonia cycle run --sink xlsx``);
* the ``harmonia questionnaire workbook`` command: a rep profiling workbook
  for one territory, in the country's language;
* ``harmonia refinement workbook`` and ``submit``: the field refinement round
  trip (a territory's proposal with the moves the policy allows, read back as
  requests).

openpyxl loads when a workbook is read or written, never at CLI start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harmonia import (
    FILE_NAME_OPTION,
    OUTPUT_KINDS,
    Command,
    DataSource,
    Option,
    OutputSink,
    SinkRequest,
    SourceRequest,
    hookimpl,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from harmonia import Batch


def _read(request: SourceRequest) -> Iterator[Batch]:
    from harmonia_excel.source import read_xlsx

    yield from read_xlsx(request)


def _write(request: SinkRequest) -> list[str]:
    from harmonia_excel.sink import write_xlsx

    return write_xlsx(request)


@hookimpl
def harmonia_data_sources() -> list[DataSource]:
    """The ``xlsx`` source, for ``.xlsx`` files."""
    return [
        DataSource(
            name="xlsx",
            description="Excel workbooks: sheets customers, metrics and responses in the CSV "
            "formats, or a filled rep profiling workbook (its answers as responses).",
            kinds={"customers", "metrics", "responses"},
            family="local",
            read=_read,
            suffixes={".xlsx"},
            options=(
                Option("path", "the workbook to read", required=True),
                Option("kind", "the kind of a workbook's one sheet, when its header is unclear"),
            ),
        )
    ]


@hookimpl
def harmonia_output_sinks() -> list[OutputSink]:
    """The ``xlsx`` sink."""
    return [
        OutputSink(
            name="xlsx",
            description="Formatted Excel workbooks: styled frozen header, filters, number formats.",
            accepts=set(OUTPUT_KINDS),
            write=_write,
            options=(FILE_NAME_OPTION,),
        )
    ]


@hookimpl
def harmonia_commands() -> list[Command]:
    """``workbook`` in the core's ``harmonia questionnaire`` group, imported only when it runs."""
    return [
        Command(
            name="workbook",
            group="questionnaire",
            path="harmonia_excel.cli:workbook",
            help="Write a rep profiling workbook (XLSX) for one territory.",
        ),
        Command(
            name="workbook",
            group="refinement",
            path="harmonia_excel.refinement_cli:workbook",
            help="Write reps' refinement workbooks (XLSX): the proposal and the allowed moves.",
        ),
        Command(
            name="submit",
            group="refinement",
            path="harmonia_excel.refinement_cli:submit",
            help="Read filled refinement workbooks back as requests.",
        ),
    ]
