"""Checks of the published day, read back from the app's tables: blocking where the app would break.

They use the per-day machinery of lib/partitioned_checks.py; not `daily_check` itself, whose readers
get the warehouse only, while these read the app's database (ADELIE_APP_DATABASE_URL).
"""

from collections.abc import Callable, Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    asset_check,
)

from adelie_assets.calendar import trading_day_partitions
from adelie_assets.defs.app import published
from adelie_assets.defs.app.assets import APP_BRIEFING, APP_CASES
from adelie_assets.lib.partitioned_checks import (
    CheckEvent,
    Verdict,
    checked_days,
    day_results,
    severity_metadata,
)
from adelie_assets.resources.app_database import AppDatabase, translated
from adelie_assets.resources.warehouse import Warehouse


def published_check(
    asset: AssetKey,
    name: str,
    verdict_of: Callable[[published.PublishedDay], Verdict],
    description: str,
    *,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    blocking: bool = True,
) -> AssetChecksDefinition:
    """A check of each published day, as the app reads it (blocking and ERROR unless told)."""

    @asset_check(
        asset=asset,
        name=name,
        blocking=blocking,
        partitions_def=trading_day_partitions,
        description=description,
        metadata=severity_metadata(severity),
    )
    def _check(
        context: AssetCheckExecutionContext, warehouse: Warehouse, app_database: AppDatabase
    ) -> Iterator[CheckEvent]:
        target = app_database.target(warehouse)
        with translated(f"Checking {name}", target), target.engine.connect() as conn:
            verdicts = {
                day: verdict_of(published.read_published(conn, target.tables, day))
                for day in checked_days(context)
            }
        yield from day_results(context, verdicts)

    return _check


app_feed_checks = [
    published_check(
        APP_BRIEFING,
        "one_briefing",
        published.one_briefing,
        "Exactly one daily_briefings row for the day (the app's Home reads one).",
    ),
    published_check(
        APP_BRIEFING,
        "five_keywords_with_cases",
        published.keywords_with_cases,
        "Five keywords, each found by the app's Home query (latest case_matches row with its title on or "
        "after the briefing date) with its case.",
    ),
    published_check(
        APP_BRIEFING,
        "selection_reasons",
        published.selection_reasons,
        "Every mover's selection_reason is one the app filters by: top_gainer, top_loser, high_volume.",
    ),
    published_check(
        APP_CASES,
        "similarity_score_range",
        published.similarity_in_range,
        "Every case_matches.similarity_score of the day within 0-1.",
    ),
    published_check(
        APP_CASES,
        "three_devils_advocate_bullets",
        published.three_devils_advocate_bullets,
        "Every case matched that day has exactly three devil's-advocate bullets.",
    ),
    published_check(
        APP_BRIEFING,
        "market_summary_present",
        published.market_summary_present,
        "The briefing has its one-line market summary (from market_indices); the app works without it.",
        severity=AssetCheckSeverity.WARN,
        blocking=False,
    ),
]
