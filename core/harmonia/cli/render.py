"""Terminal rendering: tables a person can read, progress while work runs.

Progress goes to stderr so that ``--json`` output on stdout stays parseable;
when stderr is not a terminal, rich prints nothing animated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


class _Console:
    """A rich console made on first use: importing rich costs ``harmonia --help`` a tenth
    of a second it does not need."""

    def __init__(self, **options: Any):
        self._options = options
        self._console: Console | None = None

    def _console_now(self) -> Console:
        self.__getattr__("print")
        assert self._console is not None
        return self._console

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


stdout = _Console(highlight=False, soft_wrap=False)
stderr = _Console(stderr=True, highlight=False)


def escape(text: str) -> str:
    """Text shown as is, even where it holds rich markup such as ``[bold]``."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def table(
    title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]], **kwargs: Any
) -> Table:
    """A rich table; numeric-looking columns align right."""
    from rich.table import Table

    result = Table(title=title, title_justify="left", **kwargs)
    for index, column in enumerate(columns):
        numeric = bool(rows) and all(
            isinstance(row[index], int | float) for row in rows if row[index] is not None
        )
        result.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        result.add_row(*(format_value(value) for value in row))
    return result


def format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}" if not value.is_integer() or abs(value) >= 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@contextmanager
def stages(title: str) -> Iterator[Callable[[str], None]]:
    """A spinner that shows which stage of a long job is running, and for how long."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
        console=stderr._console_now(),
        transient=True,
    )
    with progress:
        task = progress.add_task(title, total=None, stage="")
        yield lambda stage: progress.update(task, stage=stage)


@contextmanager
def counting(title: str, total: int) -> Iterator[Callable[[int, str], None]]:
    """A progress bar over ``total`` steps; call the yielded function to advance."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
        console=stderr._console_now(),
        transient=True,
    )
    with progress:
        task = progress.add_task(title, total=total, stage="")
        yield lambda advance, stage: progress.update(task, advance=advance, stage=stage)
