"""Checks of the published day, read back from the app's tables: blocking where the app would break."""

from collections.abc import Callable, Iterator

from dagster import AssetCheckExecutionContext, AssetChecksDefinition, AssetKey, asset_check

from adelie_assets.calendar import trading_day_partitions
from adelie_assets.defs.app import published
from adelie_assets.defs.app.assets import APP_BRIEFING, APP_CASES
from adelie_assets.defs.market.checks import CheckEvent, Verdict, checked_days, day_results
from adelie_assets.resources.app_database import AppDatabase, translated
from adelie_assets.resources.warehouse import Warehouse

VerdictOf = Callable[[published.PublishedDay], tuple[bool, str, dict[str, object]]]


def _published_check(
    asset: AssetKey, name: str, verdict_of: VerdictOf, description: str
) -> AssetChecksDefinition:
    @asset_check(
        asset=asset,
        name=name,
        partitions_def=trading_day_partitions,
        blocking=True,
        description=description,
    )
    def _check(
        context: AssetCheckExecutionContext, warehouse: Warehouse, app_database: AppDatabase
    ) -> Iterator[CheckEvent]:
        target = app_database.target(warehouse)
        verdicts = {}
        with translated(f"Checking {name}", target), target.engine.connect() as conn:
            for day in checked_days(context):
                passed, text, metadata = verdict_of(published.read_published(conn, target.tables, day))
                verdicts[day] = Verdict(passed, text, metadata)
        yield from day_results(context, verdicts)

    return _check


app_feed_checks = [
    _published_check(
        APP_BRIEFING,
        "one_briefing",
        published.one_briefing,
        "Exactly one daily_briefings row for the day (the app's Home reads one).",
    ),
    _published_check(
        APP_BRIEFING,
        "five_keywords_with_cases",
        published.keywords_with_cases,
        "Five keywords, each found by the app's Home query (latest case_matches row on or after "
        "the briefing date) with its case.",
    ),
    _published_check(
        APP_BRIEFING,
        "selection_reasons",
        published.selection_reasons,
        "Every mover's selection_reason is one the app filters by: top_gainer, top_loser, high_volume.",
    ),
    _published_check(
        APP_CASES,
        "similarity_score_range",
        published.similarity_in_range,
        "Every case_matches.similarity_score of the day within 0-1.",
    ),
    _published_check(
        APP_CASES,
        "three_devils_advocate_bullets",
        published.three_devils_advocate_bullets,
        "Every case matched that day has exactly three devil's-advocate bullets.",
    ),
]
