"""The app feed's checks: the verdicts of published_checks.py on each published day, blocking where
the app would break. `publish_day` takes them on the day as committed (read back on the publishing
connection, the way the app reads it; a failed blocking one rolls the day back), and the app feed's
own step records them: nothing is read twice.
"""

from collections.abc import Iterator, Mapping, Sequence
from datetime import date

from dagster import AssetCheckSpec, AssetExecutionContext

from adelie_assets.calendar import trading_day_partitions
from adelie_assets.defs.app.published_checks import PUBLISHED_CHECKS, PublishedCheck
from adelie_assets.lib.partitioned_checks import CheckEvent, day_results, severity_metadata
from adelie_assets.lib.verdicts import Verdict


def _spec(check: PublishedCheck) -> AssetCheckSpec:
    return AssetCheckSpec(
        name=check.name,
        asset=check.asset,
        description=check.description,
        blocking=check.blocking,
        metadata=severity_metadata(check.severity),
        partitions_def=trading_day_partitions,
    )


APP_FEED_CHECK_SPECS: list[AssetCheckSpec] = [_spec(check) for check in PUBLISHED_CHECKS]


def published_results(
    context: AssetExecutionContext, verdicts_by_day: Sequence[tuple[date, Mapping[str, Verdict]]]
) -> Iterator[CheckEvent]:
    """One result per check and published day, from the verdicts `publish_day` took."""
    for check, spec in zip(PUBLISHED_CHECKS, APP_FEED_CHECK_SPECS, strict=True):
        if spec.key in context.selected_asset_check_keys:
            yield from day_results(context, {day: found[check.name] for day, found in verdicts_by_day}, spec)
