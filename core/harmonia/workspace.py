"""The workspace configuration: ``harmonia.toml`` in a market's project folder.

Everything in it is optional; command-line options and environment variables
win over it::

    database = "postgresql://analyst@db.internal/harmonia"
    engine = "database"
    output = "out"
    required_packs = ["harmonia-fr>=0.1", "harmonia-oncology"]

    [[sinks]]
    name = "csv"
    outputs = ["target_list", "segment_summary"]

    [[sinks]]
    name = "xlsx"
    outputs = ["target_list"]

    # Where `--engine spark` runs and finds the market's data (docs/scale.md).
    [spark]
    master = "local[2]"                  # or spark://host:7077, yarn, k8s://...
    # remote = "sc://spark.internal:15002" # a Spark Connect server, instead of master
    lake = "lake"                         # Parquet from `harmonia lake export`
    # catalog = "main"                    # or tables: <catalog>.<database>.customer ...
    # database = "harmonia_fr"
    output = "lake/cycles"                # Parquet folder for assignments and target lists
    conf = { "spark.sql.shuffle.partitions" = "8" }

``required_packs`` makes a missing or outdated pack an error before anything
runs, so every analyst of a market runs with the same packs.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import attrs

from harmonia.errors import ConfigError, DefinitionError

FILENAME = "harmonia.toml"


@attrs.frozen
class SinkSetting:
    name: str
    outputs: tuple[str, ...] = ("target_list", "segment_summary")
    options: dict[str, str] = attrs.Factory(dict)


@attrs.frozen
class SparkSettings:
    """``[spark]``: the Spark the cycle runs on, and where the market's data lives there.

    Data is either a lake of Parquet folders (``lake``, as ``harmonia lake
    export`` writes it; a local folder or a URL such as ``s3a://bucket/fr``)
    or tables of a catalog (``catalog`` and ``database``). Results go to
    Parquet under ``output`` (default ``<lake>/cycles``), else to tables of
    ``database``.
    """

    master: str = "local[2]"
    remote: str | None = None
    app_name: str = "harmonia"
    conf: dict[str, str] = attrs.Factory(dict)
    lake: str | None = None
    catalog: str | None = None
    database: str | None = None
    output: str | None = None


@attrs.frozen
class Workspace:
    """Settings shared by everyone working in one folder."""

    database: str | None = None
    engine: str | None = None
    output: str | None = None
    required_packs: tuple[str, ...] = ()
    sinks: tuple[SinkSetting, ...] = ()
    spark: SparkSettings = attrs.Factory(SparkSettings)
    path: str | None = attrs.field(default=None, eq=False)


def find(start: Path | None = None) -> Workspace:
    """The workspace of ``start`` (default: the current folder) or one of its parents."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / FILENAME
        if path.is_file():
            from harmonia.definitions.loading import load_file

            try:
                (workspace,) = load_file(Workspace, path)
            except DefinitionError as error:
                # The whole path: a parent folder's harmonia.toml is easy to forget.
                raise DefinitionError(
                    error.problems,
                    where=str(path),
                    fix=error.fix
                    or "correct the setting (README.md, section harmonia.toml, lists them)",
                ) from None
            return attrs.evolve(workspace, path=str(path))
    return Workspace()


def check_required(workspace: Workspace) -> None:
    """Refuse to run without the packs the workspace requires, at the versions it names."""
    if not workspace.required_packs:
        return
    from packaging.requirements import InvalidRequirement, Requirement

    problems = []
    for text in workspace.required_packs:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            problems.append(f"{text!r} is not a requirement ({error})")
            continue
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{requirement.name} is not installed")
            continue
        if requirement.specifier and not requirement.specifier.contains(
            installed, prereleases=True
        ):
            problems.append(f"{requirement.name} {installed} is installed, {text} is required")
    if problems:
        raise ConfigError(
            "; ".join(problems),
            where=workspace.path or FILENAME,
            fix="pip install " + " ".join(f"'{text}'" for text in workspace.required_packs),
        )
