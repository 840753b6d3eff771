"""Built-in output sinks: CSV (in the market's conventions) and Parquet files.

They go through the same hook as any installed sink.
"""

from __future__ import annotations

from harmonia import OUTPUT_KINDS, Option, OutputSink, SinkRequest, hookimpl


def _path(request: SinkRequest, suffix: str):
    request.directory.mkdir(parents=True, exist_ok=True)
    name = request.options.get("name") or f"{request.cycle.slug}-{request.kind}"
    return request.directory / f"{name}{suffix}"


def write_csv(request: SinkRequest) -> list[str]:
    from harmonia.canonical import write_table_csv

    delimiter = request.options.get("delimiter", request.delimiter)
    decimal = request.options.get("decimal", request.decimal)
    path = write_table_csv(
        request.table, _path(request, ".csv"), delimiter=delimiter, decimal=decimal
    )
    return [str(path)]


def write_parquet(request: SinkRequest) -> list[str]:
    import pyarrow.parquet as pq

    path = _path(request, ".parquet")
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
                Option("delimiter", "the delimiter (default: the country's)"),
                Option("decimal", "the decimal mark (default: the country's)"),
                Option("name", "the file name without suffix (default: <cycle>-<output>)"),
            ),
        ),
        OutputSink(
            name="parquet",
            description="Parquet files, for analytics tools and data lakes.",
            accepts=set(OUTPUT_KINDS),
            write=write_parquet,
            options=(Option("name", "the file name without suffix (default: <cycle>-<output>)"),),
        ),
    ]
