"""Shared machinery of the per-day asset checks: a verdict per trading day, one result per day.

The verdicts are pure functions of one day's rows; `daily_check` wraps one into a partitioned
`@asset_check`. Why ranges are reported day by day: docs/dagster-notes.md, "Partitioned checks".
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime

import pandas as pd
from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetsDefinition,
    Failure,
    Output,
    asset_check,
)

from adelie_assets.calendar import PARTITION_KEY_FORMAT, trading_day_partitions
from adelie_assets.lib.verdicts import Verdict
from adelie_assets.resources.warehouse import Warehouse

EXAMPLES = 10
SEVERITY = "severity"  # check-spec metadata key: the severity every result of the check carries

CheckEvent = AssetCheckResult | AssetCheckEvaluation | Output
DayReader = Callable[[Warehouse, list[date]], pd.DataFrame]


def checked_days(context: AssetCheckExecutionContext) -> list[date]:
    if not (context.has_partition_key or context.has_partition_key_range):
        raise Failure(
            "This check reads one trading day from the warehouse: run it with a partition "
            "(a KRX trading day, YYYY-MM-DD) or a partition range.",
            allow_retries=False,
        )
    return [datetime.strptime(key, PARTITION_KEY_FORMAT).date() for key in context.partition_keys]


def rows_by_day(frame: pd.DataFrame, days: list[date]) -> dict[date, pd.DataFrame]:
    """Each checked day's rows of a frame read for all of them (by its `trade_date` column)."""
    if frame.empty:
        return {day: frame for day in days}
    return {day: frame[frame["trade_date"] == day] for day in days}


def severity_metadata(severity: AssetCheckSeverity) -> dict[str, str]:
    """The check spec's metadata that sets, and shows in the UI, the severity of its results."""
    return {SEVERITY: severity.value}


def day_results(
    context: AssetCheckExecutionContext, verdicts: Mapping[date, Verdict]
) -> Iterator[CheckEvent]:
    """One result per checked day (a range run would otherwise record one result with no partition),
    with the severity named in the check spec's metadata."""
    (spec,) = context.check_specs
    declared = spec.metadata.get(SEVERITY, AssetCheckSeverity.ERROR.value)
    severity = AssetCheckSeverity(getattr(declared, "value", declared))
    if context.has_partition_key and len(verdicts) == 1:
        (verdict,) = verdicts.values()
        yield AssetCheckResult(
            passed=verdict.passed,
            severity=severity,
            description=verdict.description,
            metadata=verdict.metadata,
        )
        return
    yield Output(None, output_name=context.op_def.output_defs[0].name)
    for day, verdict in sorted(verdicts.items()):
        yield AssetCheckEvaluation(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=verdict.passed,
            severity=severity,
            description=verdict.description,
            metadata=verdict.metadata,
            blocking=spec.blocking,
            partition=day.strftime(PARTITION_KEY_FORMAT),
        )


def daily_check(
    asset: AssetsDefinition,
    name: str,
    verdict_of: Callable[..., Verdict],
    *,
    reads: Sequence[DayReader],
    description: str,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    blocking: bool = True,
    additional_deps: Sequence[AssetsDefinition] = (),
) -> AssetChecksDefinition:
    """A partitioned check of `asset`: `verdict_of(*frames)` per day, one frame per reader in `reads`."""

    @asset_check(
        asset=asset,
        name=name,
        blocking=blocking,
        partitions_def=trading_day_partitions,
        additional_deps=list(additional_deps) or None,
        description=description,
        metadata=severity_metadata(severity),
    )
    def _check(context: AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[CheckEvent]:
        days = checked_days(context)
        frames = [rows_by_day(read(warehouse, days), days) for read in reads]
        verdicts = {day: verdict_of(*(frame[day] for frame in frames)) for day in days}
        yield from day_results(context, verdicts)

    return _check


def examples(values: pd.Series) -> str:
    """The first few values, sorted, for a description that stays short."""
    shown = sorted(str(v) for v in values)[:EXAMPLES]
    more = len(values) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
