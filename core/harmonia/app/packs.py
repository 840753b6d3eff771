"""The installed packs and what they provide; rule sets and their checks
(``harmonia plugins``, ``harmonia rules``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia
    from harmonia.definitions import RuleSet
    from harmonia.errors import Problem
    from harmonia.packkit import PackProblem


@attrs.frozen
class PacksReport:
    """Every registered pack with what it provides, and what went wrong."""

    packs: list[dict[str, Any]]
    warnings: list[str]
    conflicts: list[str]

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class RuleSetCheck:
    """One rule set's verdict: valid, or its problems."""

    name: str
    problems: list[Problem]


class Packs:
    """``app.packs``: what is installed, and rule sets checked against it."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    def report(self, *, builtin: bool = False) -> PacksReport:
        """The packs (with the built-ins if asked), the hooks each implements and what it
        provides. Conflicts are listed, not raised, so a broken setup can be seen."""
        catalog = self.app.packs_report_catalog()
        packs = [pack for pack in catalog.packs if builtin or not pack.builtin]
        return PacksReport(
            packs=[
                {
                    "name": pack.name,
                    "distribution": pack.distribution,
                    "version": pack.version,
                    "builtin": pack.builtin,
                    "hooks": list(pack.hooks),
                    "provides": catalog.describe(pack) if pack.error is None else {},
                    "error": pack.error,
                }
                for pack in packs
            ],
            warnings=list(catalog.warnings),
            conflicts=list(catalog.conflicts),
        )

    def rule_sets(self) -> list[RuleSet]:
        """The installed rule sets."""
        return list(self.app.catalog.rule_sets.values())

    def rule_set(self, name: str) -> RuleSet:
        """The installed rule set ``name``, or an error naming the ones there are."""
        return self.app.catalog.rule_sets.get_or_fail(name)

    def rejected_rule_sets(self) -> list[str]:
        """Why each installed rule set that was refused was refused."""
        return list(self.app.catalog.rule_sets.rejected.values())

    def check_rule_set_files(self, files: Sequence[Path]) -> list[RuleSetCheck]:
        """Rule set files checked like an installed pack's, against the installed
        questionnaires: every problem with its path (``segment.rules[2].when``).

        A file that does not load raises :class:`~harmonia.errors.DefinitionError`.
        """
        from harmonia import load_definitions
        from harmonia.definitions import RuleSet

        catalog = self.app.catalog
        return [
            RuleSetCheck(rule_set.name, catalog.check_rule_set(rule_set))
            for rule_set in load_definitions(RuleSet, *files)
        ]

    # -- the pack kit (docs/packs.md) ------------------------------------------------

    def new_country(
        self, code: str, directory: Path, *, name: str | None = None, language: str = "en"
    ) -> list[Path]:
        """Write a new country pack into ``directory``; returns the files written."""
        from harmonia.packkit import new_country_pack

        return new_country_pack(code, directory, name=name, language=language)

    def new_therapy_area(self, name: str, directory: Path) -> list[Path]:
        """Write a new therapy-area pack into ``directory``; returns the files written."""
        from harmonia.packkit import new_therapy_area_pack

        return new_therapy_area_pack(name, directory)

    def check(self, path: Path) -> list[PackProblem]:
        """Every problem of the pack at ``path``, found without installing it."""
        from harmonia.packkit import check_pack

        return check_pack(path)
