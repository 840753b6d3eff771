"""Master data: the application's operations (match, review queue, merge, unmerge, history).

The work lives in :mod:`harmonia.master`; the one resolver of merged ids in
:mod:`harmonia.store.identity`. Matching needs the ``master`` extra
(splink, openpyxl): ``pip install 'harmonia[master]'``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harmonia.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia


class Master:
    """Matching customers across sources, the review queue, merges and their history."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    def profile(self, country: str) -> Any:
        catalog = self.app.catalog
        profile = catalog.country_profiles.get(country.upper())
        if profile is None:
            known = ", ".join(sorted(catalog.country_profiles)) or "none installed"
            raise NotFoundError(
                f"no country profile for {country}", fix=f"install its pack; installed: {known}"
            )
        return profile

    def thresholds(self, country: str) -> tuple[float, float]:
        """The country's (review, merge) match thresholds, from its profile or the catalogue."""
        catalog = self.app.catalog
        profile = self.profile(country)
        return (
            profile.parameter("match_review_threshold", catalog.option_catalogue),
            profile.parameter("match_merge_threshold", catalog.option_catalogue),
        )

    def match(
        self,
        country: str,
        *,
        apply: bool = False,
        on_stage: Callable[[str], None] | None = None,
    ) -> Any:
        """Find the country's duplicates; queue the grey zone; merge sure pairs with ``apply``."""
        _need_master_extra()
        from harmonia.master.matching import match

        review, merge = self.thresholds(country)
        stage = on_stage or (lambda _: None)
        result = match(
            self.app.database,
            country.upper(),
            review_threshold=review,
            merge_threshold=merge,
            apply=apply,
            actor=self.app.actor,
            on_stage=stage,
        )
        if result.merged:
            import time

            import attrs

            stage("golden records")
            started = time.perf_counter()
            self.golden(country=country)
            took = round(time.perf_counter() - started, 2)
            result = attrs.evolve(
                result,
                seconds=round(result.seconds + took, 2),
                stages={**result.stages, "golden records": took},
            )
        return result

    def golden(self, *, country: str | None = None, customer_ids: Iterable[int] = ()) -> int:
        """Recompute golden records (a country's, or the customers'); returns values written."""
        from harmonia.master.golden import compute

        ids = sorted(set(customer_ids))
        database = self.app.database
        if country is not None:
            profile = self.profile(country)
            return compute(database, profile.survivorship, country=profile.code)
        written = 0
        for code, chosen in self._countries_of(ids).items():
            written += compute(database, self.survivorship(code), customer_ids=chosen)
        return written

    def refresh_golden(self, batch_id: int) -> int:
        """Recompute the golden records of the persons a customers load batch touched
        (after it committed); returns values written."""
        from harmonia.master.golden import refresh

        return refresh(self.app.database, batch_id, self.survivorship)

    def refresh_owed_golden(self) -> list[int]:
        """Refresh the golden records every customers batch still owes (its refresh was
        cut short); returns those batches."""
        from harmonia.master.golden import owed

        batches = owed(self.app.database)
        for batch_id in batches:
            self.refresh_golden(batch_id)
        return batches

    def survivorship(self, country: str) -> Any:
        """The country's survivorship rules: its profile's, else the default (most recent)."""
        from harmonia.definitions import Survivorship

        profile = self.app.catalog.country_profiles.get(country.upper())
        return profile.survivorship if profile is not None else Survivorship()

    def golden_record(self, customer_id: int) -> list[dict[str, Any]]:
        from harmonia.master.golden import golden_record

        return golden_record(self.app.existing_database, customer_id)

    def _countries_of(self, ids: list[int]) -> dict[str, list[int]]:
        from sqlalchemy import text

        if not ids:
            return {}
        found: dict[str, list[int]] = {}
        with self.app.database.session() as session:
            rows = session.connection().execute(
                text(f"SELECT id, country FROM customer WHERE id IN ({', '.join(map(str, ids))})")
            )
            for customer_id, country in rows:
                found.setdefault(country, []).append(customer_id)
        return found

    def pending(self, *, country: str | None = None, limit: int | None = None) -> list[Any]:
        from harmonia.master.review import pending

        return pending(self.app.existing_database, country=country, limit=limit)

    def decide(self, decisions: Iterable[tuple[int, str]]) -> Any:
        from harmonia.master.review import decide

        result = decide(self.app.database, decisions, actor=self.app.actor)
        self.golden(customer_ids=result.survivors)
        return result

    def export_review(self, path: Path, *, country: str | None = None) -> int:
        _need_master_extra()
        from harmonia.master.review import export_workbook

        pairs = export_workbook(self.app.existing_database, path, country=country)
        self.app.privacy.wrote("review workbook", [path])
        return pairs

    def import_review(self, path: Path) -> Any:
        _need_master_extra()
        from harmonia.master.review import read_workbook

        return self.decide(read_workbook(path))

    def quality(self, country: str | None = None) -> Any:
        """Completeness, validity, duplicates and conflicts per source and country."""
        from harmonia.master.quality import quality

        return quality(self.app.existing_database, country)

    def merge(self, survivor_id: int, merged_id: int, *, reason: str = "") -> Any:
        from harmonia.master.merging import merge

        result = merge(
            self.app.database, survivor_id, merged_id, actor=self.app.actor, reason=reason
        )
        self.golden(customer_ids=[result.survivor_id])
        return result

    def unmerge(self, merged_id: int) -> Any:
        from harmonia.master.merging import unmerge

        result = unmerge(self.app.database, merged_id, actor=self.app.actor)
        self.golden(customer_ids=[result.survivor_id, result.merged_id])
        return result

    def history(self, customer_id: int) -> list[Any]:
        from harmonia.master.merging import history

        return history(self.app.existing_database, customer_id)


def _need_master_extra() -> None:
    import importlib.util

    missing = [m for m in ("splink", "openpyxl") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"matching needs {' and '.join(missing)}, which is not installed",
            fix="pip install 'harmonia[master]'",
        )
