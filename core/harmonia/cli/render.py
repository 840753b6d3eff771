"""Terminal rendering: tables a person can read, progress while work runs.

Progress goes to stderr so that ``--json`` output on stdout stays parseable;
when stderr is not a terminal it is timestamped log lines instead of a live bar
(``HARMONIA_PROGRESS``: auto, bar, log or off).
"""

from __future__ import annotations

import os
import re
import time
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


#: Columns whose values must be read whole: ids, line numbers, item codes, amounts,
#: dates. They never wrap or truncate (numbers count too); the other columns fold.
KEY_COLUMN = re.compile(
    r"(^|[ _])(id|ids|batch|cycle|cycles|row|line|where|customer|code|item|date|when|"
    r"started|finished|period|amount|cost|value)$"
)


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    keys: Sequence[str] = (),
    **kwargs: Any,
) -> Any:
    """A rich table; numeric-looking columns align right.

    Key columns (numbers, the names :data:`KEY_COLUMN` matches, and ``keys``) are
    never cut: at 80 columns or piped, the other columns fold, and when even the
    key columns (and a few characters of each other one) do not fit, the rows are
    printed as a list instead.
    """
    from rich.table import Table

    result = Table(title=title, title_justify="left", **kwargs)
    cells = [[format_value(value) for value in row] for row in rows]
    needs = 1  # the table's left border
    for index, column in enumerate(columns):
        numeric = bool(rows) and all(
            isinstance(row[index], int | float) for row in rows if row[index] is not None
        )
        justify = "right" if numeric else "left"
        if numeric or column in keys or KEY_COLUMN.search(column.lower()):
            width = max([len(column), *(_widest_line(row[index]) for row in cells)])
            needs += width + 3  # a cell's padding and its border
            result.add_column(column, justify=justify, no_wrap=True, min_width=width)
        else:
            # Folded, but not into slivers: below this, a list reads better.
            width = min(10, max([len(column), *(_widest_line(row[index]) for row in cells)]))
            needs += width + 3
            result.add_column(column, justify=justify, overflow="fold", min_width=width)
    for row in cells:
        result.add_row(*row)
    return _Fitted(result, list(columns), cells, needs)


def _widest_line(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.splitlines()), default=0)


class _Fitted:
    """A table, or its rows as a list where the key columns alone are too wide."""

    def __init__(self, table: Table, columns: list[str], rows: list[list[str]], needs: int):
        self.table, self.columns, self.rows, self.needs = table, columns, rows, needs

    def __rich_console__(self, console: Console, options: Any) -> Iterator[Any]:
        if self.needs <= options.max_width:
            yield self.table
            return
        from rich.text import Text

        if self.table.title:
            yield Text.from_markup(str(self.table.title), style="italic")
        width = max(len(column) for column in self.columns)
        for row in self.rows:
            for column, value in zip(self.columns, row, strict=False):
                # A value wider than the terminal folds onto the next line, never cut.
                yield Text.from_markup(f"{column:>{width}}: {value}", overflow="fold")
            yield Text("")


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


#: How long jobs report progress: ``auto`` (a live bar on a terminal, timestamped log
#: lines on stderr otherwise: a pipe, a file, a scheduler's log), ``bar``, ``log``, ``off``.
PROGRESS_ENV = "HARMONIA_PROGRESS"


def _progress_mode() -> str:
    mode = os.environ.get(PROGRESS_ENV, "auto").strip().lower()
    if mode not in ("auto", "bar", "log", "off"):
        mode = "auto"
    if mode == "auto":
        return "bar" if stderr._console_now().is_terminal else "log"
    return mode


def _logger(title: str) -> Callable[[str, str], None]:
    """Prints ``HH:MM:SS title [count]: stage`` on stderr, once per new stage."""
    last: list[str] = []

    def log(stage: str, count: str = "") -> None:
        if not stage or last == [stage]:
            return
        last[:] = [stage]
        when = time.strftime("%H:%M:%S")
        stderr.print(
            f"{when} {title}{count}: {stage}", markup=False, highlight=False, soft_wrap=True
        )

    return log


@contextmanager
def stages(title: str) -> Iterator[Callable[[str], None]]:
    """A spinner that shows which stage of a long job is running, and for how long;
    log lines where stderr is not a terminal (see :data:`PROGRESS_ENV`)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    mode = _progress_mode()
    if mode != "bar":
        log = _logger(title)
        yield (lambda stage: log(stage)) if mode == "log" else (lambda stage: None)
        return
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
    """A progress bar over ``total`` steps; call the yielded function to advance.
    Log lines where stderr is not a terminal (see :data:`PROGRESS_ENV`)."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    mode = _progress_mode()
    if mode != "bar":
        log = _logger(title)
        done = [0]

        def advance(steps: int, stage: str) -> None:
            done[0] += steps
            if mode == "log":
                log(stage, f" {min(done[0] + 1, total)}/{total}")

        yield advance
        return
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
