"""Provenance: which pack declared a definition or a record.

A leaf of the contract layer: definitions (what packs write as data) and the
plugin records (what packs build in Python) both carry it, and the plugin
manager fills it in, so it may import nothing else of harmonia.
"""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class Provenance:
    """Which pack (entry-point name), distribution and version declared a record."""

    pack: str
    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.pack} ({self.distribution} {self.version})"


def provenance_field() -> Any:
    """The ``provenance`` attribute every record and definition carries.

    Filled in by the plugin manager, never compared: two otherwise identical
    records from different packs are a conflict, not two different things.
    """
    return attrs.field(default=None, eq=False, kw_only=True, repr=False)
