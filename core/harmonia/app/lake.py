"""The lake: the store's customers and facts as Parquet for Spark (``harmonia lake``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia


class Lake:
    """``app.lake``: moving a market's data to where ``--engine spark`` reads it."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    def export(
        self,
        folder: Path | None = None,
        *,
        country: str | None = None,
        on_table: Callable[[str, int], None] | None = None,
    ) -> tuple[Path, dict[str, int]]:
        """Write the store's tables as Parquet folders; returns the lake and the rows per table.

        ``folder`` defaults to the workspace's ``[spark] lake``, else ``./lake``.
        """
        from harmonia.engine.lake import export

        lake = folder or Path(self.app.workspace.spark.lake or "lake")
        written = export(self.app.existing_database, lake, country=country, on_table=on_table)
        self.app.privacy.wrote("lake", [lake])
        return lake, written
