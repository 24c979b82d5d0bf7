"""One trading day, end to end: read the warehouse, build the feed, publish it into the app's tables."""

from __future__ import annotations

from datetime import date, datetime

from adelie_assets.defs.app.content import DayFeed, build_day
from adelie_assets.defs.app.inputs import read_day
from adelie_assets.defs.app.publish import PublishResult, publish_day
from adelie_assets.resources.app_database import AppDatabase, AppTarget, translated
from adelie_assets.resources.warehouse import Warehouse
from adelie_assets.resources.warehouse_engine import translated as warehouse_translated


def build_feed(warehouse: Warehouse, day: date) -> DayFeed:
    """The day's feed from the warehouse; AppFeedError when an upstream asset is missing or unusable."""
    with warehouse_translated(f"Reading the inputs of the app feed for {day}", warehouse.resolved_url):
        with warehouse.engine().connect() as conn:
            return build_day(read_day(conn, day))


def publish_trading_day(
    warehouse: Warehouse, app_database: AppDatabase, day: date, now: datetime | None = None
) -> tuple[AppTarget, DayFeed, PublishResult]:
    """Build the feed first (a bad input fails before the app's database is touched), then publish."""
    feed = build_feed(warehouse, day)
    target = app_database.target(warehouse)
    with translated(f"Publishing {day}", target):
        result = publish_day(target.engine, target.tables, feed, now)
    return target, feed, result
