"""harmonia-synthetic: a realistic, deterministic synthetic customer universe.

It feeds the demo, the tests and the benchmarks (up to 10M customers): HCPs
and HCOs with names, places, territories and national identifiers; potential,
prescriptions and calls; answers to any installed questionnaire; optionally a
share of deliberately bad rows. The pack provides

* :func:`generate`, yielding canonical :class:`harmonia.Batch` objects;
* the ``synthetic`` data source (``harmonia load --source synthetic``);
* the ``harmonia synthetic write`` command, writing canonical CSV files.

    from harmonia_synthetic import generate

    for batch in generate(100_000, seed=7, country="FR"):
        print(batch.kind, batch.table.num_rows)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harmonia import Command, DataSource, hookimpl

if TYPE_CHECKING:
    from harmonia_synthetic.generator import generate

__all__ = ["generate"]


def __getattr__(name: str) -> Any:
    # numpy loads on the first universe, not at CLI start: `harmonia --help` stays fast.
    if name == "generate":
        from harmonia_synthetic.generator import generate

        return generate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@hookimpl
def harmonia_data_sources() -> list[DataSource]:
    from harmonia_synthetic.source import data_source

    return [data_source()]


@hookimpl
def harmonia_commands() -> list[Command]:
    """``harmonia synthetic``, imported only when it runs."""
    return [
        Command(
            name="synthetic",
            path="harmonia_synthetic.cli:synthetic",
            help="Synthetic customer universes for demos, tests and benchmarks.",
        )
    ]
