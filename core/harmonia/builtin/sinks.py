"""Built-in output sinks: CSV (in the market's conventions) and Parquet files.

They go through the same hook as any installed sink.
"""

from __future__ import annotations

from harmonia import FILE_NAME_OPTION, OUTPUT_KINDS, Option, OutputSink, SinkRequest, hookimpl

#: Delimiters a CSV output may use (``tab`` for a tab).
DELIMITERS = (",", ";", "|", "tab")


def write_csv(request: SinkRequest) -> list[str]:
    from harmonia.files import write_table_csv

    delimiter = request.options.get("delimiter", request.delimiter)
    delimiter = "\t" if delimiter == "tab" else delimiter
    decimal = request.options.get("decimal", request.decimal)
    path = write_table_csv(
        request.table, request.path(".csv"), delimiter=delimiter, decimal=decimal
    )
    return [str(path)]


def write_parquet(request: SinkRequest) -> list[str]:
    import pyarrow.parquet as pq

    path = request.path(".parquet")
    pq.write_table(request.table, path)
    return [str(path)]


@hookimpl
def harmonia_output_sinks():
    return [
        OutputSink(
            name="csv",
            description="CSV files in the market's conventions (';' and decimal commas in FR, DE ...).",
            accepts=set(OUTPUT_KINDS),
            write=write_csv,
            options=(
                Option("delimiter", "the delimiter (default: the country's)", choices=DELIMITERS),
                Option("decimal", "the decimal mark (default: the country's)", choices=(".", ",")),
                FILE_NAME_OPTION,
            ),
        ),
        OutputSink(
            name="parquet",
            description="Parquet files, for analytics tools and data lakes.",
            accepts=set(OUTPUT_KINDS),
            write=write_parquet,
            options=(FILE_NAME_OPTION,),
        ),
    ]
