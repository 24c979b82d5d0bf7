"""Checks of the published day, read back from the app's tables: blocking where the app would break.
The verdicts are those of published_checks.py, which `publish_day` also runs before it commits.

They use the per-day machinery of lib/partitioned_checks.py; not `daily_check` itself, whose readers
get the warehouse only, while these read the app's database (ADELIE_APP_DATABASE_URL). All of them
are one step, `app_feed_checks`, that reads each published day once.
"""

from collections.abc import Iterator, Sequence
from datetime import date
from functools import partial

from dagster import (
    AssetCheckExecutionContext,
    AssetChecksDefinition,
    AssetCheckSpec,
    multi_asset_check,
)

from adelie_assets.calendar import trading_day_partitions
from adelie_assets.defs.app import published
from adelie_assets.defs.app.published_checks import PUBLISHED_CHECKS, PublishedCheck
from adelie_assets.lib.partitioned_checks import (
    CheckEvent,
    checked_days,
    selected_results,
    severity_metadata,
)
from adelie_assets.lib.verdicts import Verdict
from adelie_assets.resources.app_database import AppDatabase, translated
from adelie_assets.resources.warehouse import Warehouse


def _spec(check: PublishedCheck) -> AssetCheckSpec:
    return AssetCheckSpec(
        name=check.name,
        asset=check.asset,
        description=check.description,
        blocking=check.blocking,
        metadata=severity_metadata(check.severity),
        partitions_def=trading_day_partitions,
    )


def _verdicts(check: PublishedCheck, days: dict[date, published.PublishedDay]) -> dict[date, Verdict]:
    return {day: check.verdict_of(read) for day, read in days.items()}


def published_checks(step_name: str, checks: Sequence[PublishedCheck]) -> AssetChecksDefinition:
    """All the checks in ONE step that reads each published day once (a step per check read it once
    per check and cost ~0.15 s of step start/end each: bench/README.md), one result per check and day."""
    specs = [(check, _spec(check)) for check in checks]

    @multi_asset_check(
        name=step_name,
        specs=[spec for _, spec in specs],
        # The UI can still execute one check alone.
        can_subset=True,
    )
    def _checks(
        context: AssetCheckExecutionContext, warehouse: Warehouse, app_database: AppDatabase
    ) -> Iterator[CheckEvent]:
        target = app_database.target(warehouse)
        with translated("Checking the published app feed", target), target.engine.connect() as conn:
            days = {day: published.read_published(conn, target.tables, day) for day in checked_days(context)}
        yield from selected_results(
            context,
            [
                (spec, partial(_verdicts, check, days))
                for check, spec in specs
                if spec.key in context.selected_asset_check_keys
            ],
        )

    return _checks


# One step for both assets: app_feed writes them together, and their checks read the same tables.
# The verdicts are the list publish_day runs before it commits: the check and the guard cannot drift.
app_feed_checks = [published_checks("app_feed_checks", PUBLISHED_CHECKS)]
