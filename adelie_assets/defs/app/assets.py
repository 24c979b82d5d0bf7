"""`app_briefing` and `app_cases`: the trading day published into the investing app's tables.

One step writes both, so that a day's briefing and its cases land in the same transaction: the app
never shows keywords whose cases are missing. Upstream tables are read from the warehouse.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from adelie_assets import markdown
from adelie_assets.calendar import parse_partition_key, trading_day_partitions
from adelie_assets.defs.app.content import DayFeed
from adelie_assets.defs.app.feed import build_feed
from adelie_assets.defs.app.inputs import AppFeedError
from adelie_assets.defs.app.publish import PublishResult, publish_day
from adelie_assets.defs.app.published_checks import APP_BRIEFING, APP_CASES, PUBLISHED_CHECKS
from adelie_assets.defs.market.assets import BACKFILL_POLICY
from adelie_assets.lib.partitioned_checks import check_results, check_specs, merged
from adelie_assets.lib.validate import DataGuardError, refusal
from adelie_assets.resources.app_database import AppDatabase, AppDatabaseError, translated
from adelie_assets.resources.warehouse import Warehouse, WarehouseError

_COMMON = {"group_name": "app", "kinds": {"postgres"}, "owners": ["team:data-engineering"]}


@multi_asset(
    name="app_feed",
    specs=[
        AssetSpec(
            APP_BRIEFING,
            deps=[AssetKey("market_data"), AssetKey("market_indices"), AssetKey("daily_themes")],
            description=(
                "The app's daily_briefings row of the trading day (market summary, five keywords), its "
                "briefing_stocks (movers by selection_reason) and the day's KOSPI/KOSDAQ bars in "
                "market_daily_history (the narrative's market chart), in the app's database."
            ),
            **_COMMON,
        ),
        AssetSpec(
            APP_CASES,
            deps=[AssetKey("historical_cases"), AssetKey("market_analogs"), AssetKey("market_data")],
            description=(
                "The day's cases in the app's historical_cases (narrative with Plotly charts from "
                "market_analogs, glossary marks placed by code), with their case_matches and "
                "case_stock_relations."
            ),
            **_COMMON,
        ),
    ],
    # Recorded by this step from the verdicts publish_day took on each day as committed.
    check_specs=check_specs(PUBLISHED_CHECKS),
    partitions_def=trading_day_partitions,
    backfill_policy=BACKFILL_POLICY,
    can_subset=False,
)
def app_feed(context: AssetExecutionContext, warehouse: Warehouse, app_database: AppDatabase):  # noqa: ANN201
    days = [parse_partition_key(key) for key in context.partition_keys]
    try:
        # Every day's feed first: a bad input fails the run before the app's database is touched.
        feeds = [build_feed(warehouse, day) for day in days]
        target = app_database.target(warehouse)
    except (AppFeedError, AppDatabaseError, WarehouseError) as exc:
        raise Failure(f"Nothing was published: {exc}", allow_retries=False) from None
    results: list[tuple[DayFeed, PublishResult]] = []
    for feed in feeds:
        try:
            with translated(f"Publishing {feed.day}", target):
                results.append((feed, publish_day(target.engine, target.tables, feed)))
        except DataGuardError as exc:  # the day rolled back: a data problem, re-running cannot fix it
            raise refusal(exc, feed.day, _published_so_far(results)) from None
        except AppDatabaseError as exc:
            raise Failure(f"{exc}{_published_so_far(results)}") from None
    for feed, _ in results:
        for warning in feed.warnings:
            context.log.warning(f"{feed.day}: {warning}")
    context.log.info(f"app feed: {len(results)} day(s) published to {target.description}")
    yield MaterializeResult(asset_key=APP_BRIEFING, metadata=_briefing_metadata(results, target.description))
    yield MaterializeResult(asset_key=APP_CASES, metadata=_cases_metadata(results, target.description))
    yield from check_results(context, PUBLISHED_CHECKS, merged([result.verdicts for _, result in results]))


def _published_so_far(results: list[tuple[DayFeed, PublishResult]]) -> str:
    done = ", ".join(str(f.day) for f, _ in results) or "none"
    return f" Days already published in this run (complete): {done}."


def _briefing_metadata(results: list[tuple[DayFeed, PublishResult]], where: str) -> dict[str, object]:
    rows = [
        [feed.day, k["category"], k["title"], len(k["stocks"])]
        for feed, _ in results
        for k in feed.briefing["top_keywords"]["keywords"]
    ]
    return {
        "app_database": where,
        "days": len(results),
        "dagster/row_count": sum(r.stocks for _, r in results),
        "keywords": len(rows),
        "market_summary": (results[-1][0].briefing["market_summary"] or "") if results else "",
        "warnings": MetadataValue.json([f"{f.day}: {w}" for f, _ in results for w in f.warnings]),
        "preview": MetadataValue.md(markdown.table(["day", "category", "keyword", "stocks"], rows[-25:])),
    }


def _cases_metadata(results: list[tuple[DayFeed, PublishResult]], where: str) -> dict[str, object]:
    totals: dict[str, int] = {}
    for _, result in results:
        for key, value in result.as_metadata().items():
            if key not in ("briefing_id", "stocks"):
                totals[key] = totals.get(key, 0) + value
    rows = [
        [
            feed.day,
            case.title,
            case.event_year,
            len(case.matches),
            case.values["keywords"]["comparison"]["sync_rate"],
        ]
        for feed, _ in results
        for case in feed.cases
    ]
    return {
        "app_database": where,
        "dagster/row_count": sum(len(feed.cases) for feed, _ in results),
        **totals,
        "preview": MetadataValue.md(
            markdown.table(["day", "case", "year", "keywords", "sync %"], rows[-25:])
        ),
    }
