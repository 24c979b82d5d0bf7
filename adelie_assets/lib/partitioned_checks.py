"""Shared machinery of the per-day asset checks: a verdict per trading day, one result per day.

A check is declared with `daily_check` (a verdict per day from that day's rows) or `range_check`
(all the checked days' verdicts at once, for checks that need more than the day's rows). The asset's
own step records them (`check_specs` on its `@multi_asset`): it evaluates them on the rows it has
just computed, without reading them back, and yields one result per check and day
(`check_results`). A check-only run (the UI's "Execute checks") evaluates them on the stored rows
(`stored_check_results`). Why: docs/dagster-notes.md, "Checks recorded by the asset's step".
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, cached_property
from typing import Any

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    Output,
)

from adelie_assets.calendar import PARTITION_KEY_FORMAT, trading_day_partitions
from adelie_assets.resources.warehouse import Warehouse

SEVERITY = "severity"  # check-spec metadata key: the severity every result of the check carries


@dataclass(frozen=True)
class Verdict:
    """One check's outcome for one trading day."""

    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


CheckEvent = AssetCheckResult | AssetCheckEvaluation | Output
DayReader = Callable[[Warehouse, list[date]], pd.DataFrame]
# check name -> each checked day's verdict
Verdicts = dict[str, dict[date, Verdict]]


@cache
def table_reader(table: sa.Table) -> DayReader:
    """The reader of `table`'s rows for the checked days; one per table, so that the checks of a step
    read a table once however many of them use it (CheckedDays caches by reader)."""

    def read(warehouse: Warehouse, days: list[date]) -> pd.DataFrame:
        return warehouse.read(table, days)

    return read


class CheckedDays:
    """The days being checked, and their rows: each reader runs once, whatever the number of checks
    that use it; `staged` rows (the ones a step is writing, a frame or each day's) are never read from
    the warehouse."""

    def __init__(
        self,
        days: list[date],
        warehouse: Warehouse | None,
        staged: Mapping[DayReader, pd.DataFrame | Mapping[date, Any]] | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.days = days
        self._rows: dict[DayReader, Mapping[date, Any]] = {
            read: rows if isinstance(rows, Mapping) else rows_by_day(rows, days)
            for read, rows in (staged or {}).items()
        }
        self.staged = set(staged or {})
        self.staged_reads: set[DayReader] = set()

    def rows(self, read: DayReader) -> Mapping[date, Any]:
        """Each checked day's rows of what `read` returns for all of them."""
        if read in self.staged:
            self.staged_reads.add(read)
        if read not in self._rows:
            self._rows[read] = rows_by_day(read(self.warehouse, self.days), self.days)
        return self._rows[read]


@dataclass(frozen=True)
class DailyCheck:
    """The declaration of one partitioned check of `asset`, recorded by the asset's own step."""

    asset: AssetKey
    name: str
    verdicts_of: Callable[[CheckedDays], Mapping[date, Verdict]]
    description: str
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
    blocking: bool = True
    additional_deps: tuple[AssetKey, ...] = ()

    @property
    def key(self) -> AssetCheckKey:
        return AssetCheckKey(self.asset, self.name)

    @cached_property  # once, at definition time: the steps that record results reuse it
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
    context: AssetExecutionContext, verdicts: Mapping[date, Verdict], spec: AssetCheckSpec
) -> Iterator[CheckEvent]:
    """One result per checked day (a range run would otherwise record one result with no partition),
    with the severity named in the spec's metadata."""
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
    yield Output(None, output_name=spec.get_python_identifier())
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
    asset: AssetKey | str | AssetsDefinition,
    name: str,
    verdict_of: Callable[..., Verdict],
    *,
    reads: Sequence[DayReader],
    description: str,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    blocking: bool = True,
    additional_deps: Sequence[AssetKey] = (),
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
    asset: AssetKey | str | AssetsDefinition,
    name: str,
    verdicts_of: Callable[[CheckedDays], Mapping[date, Verdict]],
    *,
    description: str,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    blocking: bool = True,
    additional_deps: Sequence[AssetKey] = (),
) -> DailyCheck:
    """A partitioned check of `asset` that needs more than each day's rows (the run's config, another
    day): `verdicts_of(checked)` returns a verdict for every day of `checked.days`."""
    key = AssetKey.from_coercible_or_definition(asset)
    return DailyCheck(key, name, verdicts_of, description, severity, blocking, tuple(additional_deps))


def check_specs(declarations: Sequence[DailyCheck]) -> list[AssetCheckSpec]:
    """The specs of an asset's declared checks, for its `@multi_asset(check_specs=...)`."""
    return [declaration.spec for declaration in declarations]


class CheckError(Exception):
    """A blocking check could not be evaluated: its verdict is unknown, so the days are not judged.
    `verdicts`: those of the checks that could be."""

    def __init__(self, message: str, verdicts: Verdicts) -> None:
        super().__init__(message)
        self.verdicts = verdicts


def evaluate(declarations: Sequence[DailyCheck], checked: CheckedDays, table: str | None = None) -> Verdicts:
    """Every declared check's verdicts on `checked`. A WARN check that raises is recorded as failed
    (it blocks nothing); a blocking one raises `CheckError` naming it. `table`: the name of the table
    whose new rows are staged in `checked`; each check must read them (else it would judge the
    stored rows, not the new ones: a `TypeError` names it)."""
    verdicts: Verdicts = {}
    errors: list[tuple[str, Exception]] = []
    for declaration in declarations:
        checked.staged_reads.clear()
        try:
            verdicts[declaration.name] = dict(declaration.verdicts_of(checked))
        except Exception as error:
            if declaration.blocking:
                errors.append((declaration.name, error))
                continue
            reason = f"The check could not be evaluated: {type(error).__name__}: {error}"
            verdicts[declaration.name] = {day: Verdict(False, reason) for day in checked.days}
            continue
        if table is not None and checked.staged and not checked.staged_reads:
            raise TypeError(
                f"The check {declaration.name} does not read {table} through the reader its new rows "
                f"are staged under (table_reader({table}) for a derived table): it would judge the "
                f"stored rows of {table}, not the new ones."
            )
    if errors:
        names = ", ".join(name for name, _ in errors)
        error = errors[0][1]
        message = f"Check(s) {names} could not be evaluated: {type(error).__name__}: {error}"
        raise CheckError(message, verdicts) from error
    return verdicts


def merged(parts: Sequence[Verdicts]) -> Verdicts:
    """The verdicts of several evaluations (e.g. one per day) as one."""
    verdicts: Verdicts = {}
    for part in parts:
        for name, by_day in part.items():
            verdicts.setdefault(name, {}).update(by_day)
    return verdicts


def check_results(
    context: AssetExecutionContext, declarations: Sequence[DailyCheck], verdicts: Verdicts
) -> Iterator[CheckEvent]:
    """The per-day results of each check of `declarations` the run selected."""
    for declaration in declarations:
        if declaration.key in context.selected_asset_check_keys:
            yield from day_results(context, verdicts[declaration.name], declaration.spec)


def stored_check_results(
    context: AssetExecutionContext, declarations: Sequence[DailyCheck], warehouse: Warehouse
) -> Iterator[CheckEvent]:
    """A check-only run (the UI's "Execute checks"): the selected checks on the stored rows of the
    run's days, each table read once. A blocking check that raises fails the step after the others
    reported."""
    if not (context.has_partition_key or context.has_partition_key_range):
        raise Failure(
            "This check reads one trading day from the warehouse: run it with a partition "
            "(a KRX trading day, YYYY-MM-DD) or a partition range.",
            allow_retries=False,
        )
    days = [datetime.strptime(key, PARTITION_KEY_FORMAT).date() for key in context.partition_keys]
    selected = [d for d in declarations if d.key in context.selected_asset_check_keys]
    try:
        verdicts = evaluate(selected, CheckedDays(days, warehouse))
    except CheckError as error:
        yield from check_results(context, [d for d in selected if d.name in error.verdicts], error.verdicts)
        raise Failure(str(error)) from error.__cause__
    yield from check_results(context, selected, verdicts)


def examples(values: pd.Series) -> str:
    """The first few values, sorted, for a description that stays short."""
    shown = sorted(str(v) for v in values)[:10]
    more = len(values) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
