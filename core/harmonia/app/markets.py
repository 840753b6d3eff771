"""One therapy area in every market: run the cycles, compare their segment
distributions (``harmonia markets``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from harmonia.errors import HarmoniaError, NotFoundError

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia
    from harmonia.engine.cycle import CycleResult, SinkChoice
    from harmonia.engine.markets import MarketComparison


@attrs.frozen
class MarketsRun:
    """The cycles run, the markets skipped (with why), and their comparison."""

    cycles: list[CycleResult]
    skipped: dict[str, str]
    comparison: MarketComparison | None


class Markets:
    """``app.markets``: the global view of one therapy area."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    def run(
        self,
        *,
        therapy_area: str,
        period: str | None = None,
        countries: Sequence[str] = (),
        threshold: float | None = None,
        sinks: Sequence[SinkChoice] | None = None,
        outputs: Sequence[str] = (),
        directory: Path | None = None,
        on_stage: Callable[[str], None] | None = None,
    ) -> MarketsRun:
        """Run the therapy area's cycle for ``period`` in every installed market with
        customers (or in ``countries``), then compare the markets.

        A market without customers in the store, or whose cycle cannot run (its
        profile chooses a rule set that is not installed ...), is skipped with
        the reason; the others still run.
        """
        from harmonia.engine.markets import DEFAULT_THRESHOLD, countries_with_customers

        profiles = self.app.catalog.country_profiles
        wanted = [c.upper() for c in countries] or sorted(profiles)
        unknown = [c for c in wanted if c not in profiles]
        if unknown:
            raise NotFoundError(
                f"no installed country profile {', '.join(unknown)}",
                fix=f"installed: {', '.join(sorted(profiles)) or 'none'}",
            )
        stage = on_stage or (lambda _: None)
        loaded = set(countries_with_customers(self.app.database))
        results: list[CycleResult] = []
        skipped: dict[str, str] = {}
        for country in wanted:
            if country not in loaded:
                skipped[country] = "no customers loaded"
                continue
            try:
                results.append(
                    self.app.cycles.run(
                        country=country,
                        therapy_area=therapy_area,
                        period=period,
                        sinks=sinks,
                        outputs=outputs,
                        directory=directory,
                        on_stage=lambda step, c=country: stage(f"{c}: {step}"),
                    )
                )
            except HarmoniaError as error:  # one market's problem must not stop the others
                skipped[country] = str(error)
        comparison = None
        if results:
            comparison = self._compare(
                therapy_area,
                results[0].cycle.period,
                [result.cycle for result in results],
                DEFAULT_THRESHOLD if threshold is None else threshold,
            )
        return MarketsRun(results, skipped, comparison)

    def compare(
        self, *, therapy_area: str, period: str, threshold: float | None = None
    ) -> MarketComparison:
        """Compare the latest completed cycles of ``therapy_area`` in ``period``, market by market."""
        from harmonia.engine.markets import DEFAULT_THRESHOLD, compare_markets
        from harmonia.periods import Period

        return compare_markets(
            self.app.database,
            therapy_area,
            str(Period.parse(period)),
            threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
        )

    def _compare(self, therapy_area, period, cycles, threshold) -> MarketComparison:
        from harmonia.engine.markets import compare_markets

        return compare_markets(
            self.app.database, therapy_area, period, cycles=cycles, threshold=threshold
        )
