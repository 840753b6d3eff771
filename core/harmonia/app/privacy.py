"""Privacy: the application's operations (objections, erasure, pseudonymised exports).

The rules live in :mod:`harmonia.master.privacy`; cycles honour objections
through :mod:`harmonia.store.identity`, whatever pack or command runs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia


class Privacy:
    """Objections to profiling, erasure of a person, pseudonymised exports."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    def object(self, customer_ids: Sequence[int], *, source: str = "command") -> Any:
        from harmonia.master.privacy import object_to_profiling

        return object_to_profiling(
            self.app.database, customer_ids, actor=self.app.actor, source=source
        )

    def withdraw(self, customer_ids: Sequence[int]) -> list[int]:
        from harmonia.master.privacy import withdraw_objection

        return withdraw_objection(self.app.database, customer_ids, actor=self.app.actor)

    def objections(self) -> list[Any]:
        from harmonia.master.privacy import objections

        return objections(self.app.existing_database)

    def erase(self, customer_id: int) -> Any:
        from harmonia.master.privacy import erase

        return erase(
            self.app.database,
            customer_id,
            actor=self.app.actor,
            sinks=self.app.catalog.output_sinks,
        )

    def rotate_key(self) -> str:
        """A new current key for the suppression list; returns the key file's path."""
        from harmonia.master.privacy import rotate_suppression_key

        return rotate_suppression_key(self.app.database, actor=self.app.actor)

    def wrote(self, kind: str, locations: Sequence[Path | str]) -> None:
        """Remember files written for people (workbooks, exports, a lake), so that an
        erasure cleans them (a lake) or names them (the rest). Packs call it too."""
        from harmonia.master.privacy import record_written

        located = [str(Path(location).resolve()) for location in locations]
        record_written(self.app.database, kind, located, actor=self.app.actor)

    def pseudonymised(self, cycle_id: int, key_file: Path) -> Any:
        """A cycle's segmentation with HMAC pseudonyms instead of ids (an Arrow table)."""
        from harmonia.master.privacy import pseudonymised_assignments, read_key

        return pseudonymised_assignments(self.app.existing_database, cycle_id, read_key(key_file))

    def export(self, cycle_id: int, key_file: Path, output: Path) -> int:
        """Write :meth:`pseudonymised` to ``output`` (.parquet or .csv); returns the rows."""
        from harmonia.files.writing import check_table_path, write_table

        check_table_path(output)
        rows = self.pseudonymised(cycle_id, key_file)
        write_table(rows, output)
        return int(rows.num_rows)
