"""Shared machinery of the per-day asset checks: a verdict per trading day, one result per day.

A check is declared with `daily_check` (a verdict per day from that day's rows) or `range_check`
(all the checked days' verdicts at once, for checks that need more than the day's rows), and an
asset's declarations become ONE `@multi_asset_check` step with `asset_checks`: the step reads each
table once for all its checks and days, and still records one result per check and day. Why:
docs/dagster-notes.md, "Partitioned checks".
"""

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, partial

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetsDefinition,
    Failure,
    Output,
    multi_asset_check,
)

from adelie_assets.calendar import PARTITION_KEY_FORMAT, trading_day_partitions
from adelie_assets.lib.verdicts import Verdict
from adelie_assets.resources.warehouse import Warehouse

EXAMPLES = 10
SEVERITY = "severity"  # check-spec metadata key: the severity every result of the check carries

CheckEvent = AssetCheckResult | AssetCheckEvaluation | Output
DayReader = Callable[[Warehouse, list[date]], pd.DataFrame]


@cache
def table_reader(table: sa.Table) -> DayReader:
    """The reader of `table`'s rows for the checked days; one per table, so that a check step reads
    a table once however many of its checks use it (CheckedDays caches by reader)."""

    def read(warehouse: Warehouse, days: list[date]) -> pd.DataFrame:
        return warehouse.read(table, days)

    return read


class CheckedDays:
    """The days a check step checks, and their rows: each reader runs once per step, whatever the
    number of checks that use it."""

    def __init__(self, days: list[date], warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.days = days
        self._rows: dict[DayReader, dict[date, pd.DataFrame]] = {}

    def rows(self, read: DayReader) -> dict[date, pd.DataFrame]:
        """Each checked day's rows of what `read` returns for all of them."""
        if read not in self._rows:
            self._rows[read] = rows_by_day(read(self.warehouse, self.days), self.days)
        return self._rows[read]


RangeVerdicts = Callable[[CheckedDays], Mapping[date, Verdict]]


@dataclass(frozen=True)
class DailyCheck:
    """The declaration of one partitioned check of `asset`; `asset_checks` turns an asset's
    declarations into its check step."""

    asset: AssetsDefinition
    name: str
    verdicts_of: RangeVerdicts
    description: str
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
    blocking: bool = True
    additional_deps: tuple[AssetsDefinition, ...] = ()

    def spec(self) -> AssetCheckSpec:
        return AssetCheckSpec(
            name=self.name,
            asset=self.asset,
            description=self.description,
            blocking=self.blocking,
            additional_deps=list(self.additional_deps) or None,
            metadata=severity_metadata(self.severity),
            partitions_def=trading_day_partitions,
        )


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
    # One pass over the frame instead of one comparison per day (a 25-day chunk is ~60,000 rows).
    groups = {key: rows for key, rows in frame.groupby("trade_date", sort=False)}
    return {day: groups.get(day, frame.iloc[0:0]) for day in days}


def severity_metadata(severity: AssetCheckSeverity) -> dict[str, str]:
    """The check spec's metadata that sets, and shows in the UI, the severity of its results."""
    return {SEVERITY: severity.value}


def day_results(
    context: AssetCheckExecutionContext,
    verdicts: Mapping[date, Verdict],
    spec: AssetCheckSpec | None = None,
) -> Iterator[CheckEvent]:
    """One result per checked day (a range run would otherwise record one result with no partition),
    with the severity named in the spec's metadata. `spec`: which check of a multi-check step; a
    hand-written single `@asset_check` may leave it out."""
    # A single @asset_check has one output, "result"; a multi-check step one per spec.
    output_name = "result" if spec is None else spec.get_python_identifier()
    if spec is None:
        (spec,) = context.check_specs
    declared = spec.metadata.get(SEVERITY, AssetCheckSeverity.ERROR.value)
    severity = AssetCheckSeverity(getattr(declared, "value", declared))
    if context.has_partition_key and len(verdicts) == 1:
        (verdict,) = verdicts.values()
        yield AssetCheckResult(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=verdict.passed,
            severity=severity,
            description=verdict.description,
            metadata=verdict.metadata,
        )
        return
    yield Output(None, output_name=output_name)
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
) -> DailyCheck:
    """A partitioned check of `asset`: `verdict_of(*frames)` per day, one frame per reader in `reads`."""

    def verdicts_of(checked: CheckedDays) -> dict[date, Verdict]:
        frames = [checked.rows(read) for read in reads]
        return {day: verdict_of(*(frame[day] for frame in frames)) for day in checked.days}

    return range_check(
        asset,
        name,
        verdicts_of,
        description=description,
        severity=severity,
        blocking=blocking,
        additional_deps=additional_deps,
    )


def range_check(
    asset: AssetsDefinition,
    name: str,
    verdicts_of: RangeVerdicts,
    *,
    description: str,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    blocking: bool = True,
    additional_deps: Sequence[AssetsDefinition] = (),
) -> DailyCheck:
    """A partitioned check of `asset` that needs more than each day's rows (the run's config, another
    day): `verdicts_of(checked)` returns a verdict for every day of `checked.days`."""
    return DailyCheck(asset, name, verdicts_of, description, severity, blocking, tuple(additional_deps))


def asset_checks(declarations: Sequence[DailyCheck]) -> list[AssetChecksDefinition]:
    """One check step per asset (`<asset>_checks`) holding all its declared checks."""
    by_asset: dict[str, list[DailyCheck]] = defaultdict(list)
    for declaration in declarations:
        by_asset[declaration.asset.key.to_python_identifier()].append(declaration)
    return [_multi_check(f"{asset}_checks", checks) for asset, checks in by_asset.items()]


def selected_results(
    context: AssetCheckExecutionContext,
    checks: Sequence[tuple[AssetCheckSpec, Callable[[], Mapping[date, Verdict]]]],
) -> Iterator[CheckEvent]:
    """The per-day results of each selected check of a multi-check step. A check whose verdicts raise
    does not hide the others' results; the step then fails naming it."""
    errors: list[tuple[str, Exception]] = []
    for spec, verdicts_of in checks:
        try:
            verdicts = verdicts_of()
        except Exception as error:
            errors.append((spec.name, error))
            continue
        yield from day_results(context, verdicts, spec)
    if errors:
        names = ", ".join(name for name, _ in errors)
        error = errors[0][1]
        raise Failure(f"Check(s) {names} could not be evaluated: {type(error).__name__}: {error}") from error


def _multi_check(step_name: str, checks: list[DailyCheck]) -> AssetChecksDefinition:
    specs = {AssetCheckKey(c.asset.key, c.name): (c, c.spec()) for c in checks}

    @multi_asset_check(
        name=step_name,
        specs=[spec for _, spec in specs.values()],
        # The UI can still execute one check alone; it then reads only what that check needs.
        can_subset=True,
    )
    def _checks(context: AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[CheckEvent]:
        checked = CheckedDays(checked_days(context), warehouse)
        selected = [
            (spec, partial(check.verdicts_of, checked))
            for key, (check, spec) in specs.items()
            if key in context.selected_asset_check_keys
        ]
        yield from selected_results(context, selected)

    return _checks


def examples(values: pd.Series) -> str:
    """The first few values, sorted, for a description that stays short."""
    shown = sorted(str(v) for v in values)[:EXAMPLES]
    more = len(values) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
