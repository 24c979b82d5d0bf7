"""Checks of the published day, read back from the app's tables: blocking where the app would break.
The verdicts are those of published_checks.py, which `publish_day` also runs before it commits.

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
from adelie_assets.defs.app.published_checks import PUBLISHED_CHECKS
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


# One list with the publish's own guard (published_checks.py): the check and the guard cannot drift.
app_feed_checks = [
    published_check(
        check.asset,
        check.name,
        check.verdict_of,
        check.description,
        severity=check.severity,
        blocking=check.blocking,
    )
    for check in PUBLISHED_CHECKS
]
