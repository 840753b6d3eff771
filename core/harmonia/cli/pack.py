"""``harmonia pack``: start a pack, and check one before it is installed."""

from __future__ import annotations

from pathlib import Path

import click

from harmonia.cli import app, echo_json
from harmonia.cli.lazy import LazyGroup
from harmonia.cli.render import stdout, table


@click.group(cls=LazyGroup)
def pack() -> None:
    """Write a new country or therapy-area pack, or check one (docs/packs.md)."""


@pack.group(cls=LazyGroup)
def new() -> None:
    """Write a new pack that installs with pip and passes its own tests."""


@new.command("country")
@click.argument("code")
@click.option("--name", help="The country's name (default: the code).")
@click.option("--language", default="en", show_default=True, help="The market's language tag.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Folder to write (default: ./harmonia-<code>).")  # fmt: skip
def new_country(code: str, name: str | None, language: str, out: Path | None) -> None:
    """A country pack: the market's choices among the global options.

    harmonia pack new country PT --name Portugal --language pt
    """
    directory = out or Path(f"harmonia-{code.lower()}")
    written = app().packs.new_country(code, directory, name=name, language=language)
    _next_steps(directory, written)


@new.command("therapy-area")
@click.argument("name")
@click.option("--out", type=click.Path(path_type=Path),
              help="Folder to write (default: ./harmonia-<name>).")  # fmt: skip
def new_therapy_area(name: str, out: Path | None) -> None:
    """A therapy-area pack: questionnaire, rules with a matrix, strategies.

    harmonia pack new therapy-area respiratory
    """
    directory = out or Path(f"harmonia-{name}")
    written = app().packs.new_therapy_area(name, directory)
    _next_steps(directory, written)


def _next_steps(directory: Path, written: list[Path]) -> None:
    for path in written:
        stdout.print(f"wrote {path}")
    stdout.print(
        f"\nNext: edit the TOML files, then\n"
        f"  harmonia pack check {directory}\n"
        f"  pip install -e {directory}\n"
        f"  pytest {directory}/tests"
    )


@pack.command("check")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def check(path: Path, as_json: bool) -> None:
    """Check a pack without installing it: every problem with its file and position.

    Exits with 1 when there is a problem.

    harmonia pack check harmonia-pt
    """
    problems = app().packs.check(path)
    if as_json:
        echo_json({"pack": str(path), "problems": [p.to_json() for p in problems]})
    elif not problems:
        stdout.print(f"{path}: no problems.")
    else:
        rows = [(p.file or "-", p.position or "-", p.problem) for p in problems]
        title = f"{path}: {len(problems)} problem{'s' if len(problems) > 1 else ''}"
        stdout.print(table(title, ["file", "where", "problem"], rows))
    if problems:
        raise SystemExit(1)
