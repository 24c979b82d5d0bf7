"""Validate, then replace: the one write path of every table (docs/reliability.md, "Validate before
replace").

The checks an asset declares (`check_specs`) are evaluated once per day on the new rows, before
anything is written (`replace_validated`). A day a blocking check fails on is refused: nothing of it is
replaced, and the step fails naming the table, the day, each failed check and what it found. The other
days are replaced, in one transaction. The step records the verdicts as its check results: nothing is
evaluated twice. In a range run the days written are recorded as materialized before the step fails
(`record_refused`), so only the refused days, and what depends on them, are lost (docs/dagster-notes.md,
"Larger runs, one day's blast radius").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
import sqlalchemy as sa
from dagster import AssetExecutionContext, AssetKey, AssetMaterialization, Failure

from adelie_assets.calendar import PARTITION_KEY_FORMAT
from adelie_assets.lib.partitioned_checks import (
    CheckedDays,
    CheckError,
    CheckEvent,
    DailyCheck,
    DayReader,
    Verdict,
    Verdicts,
    check_results,
    evaluate,
    merged,
    table_reader,
)
from adelie_assets.resources.warehouse import Warehouse


class DataGuardError(Exception):
    """New rows failed a blocking check of their table: a problem of the data, nothing was replaced."""

    def __init__(self, message: str, failed: dict[str, Verdict], day: date | None = None) -> None:
        super().__init__(message)
        self.failed = failed
        self.day = day


def blocking_failures(
    checks: Sequence[DailyCheck], verdicts: Verdicts, table: str, source: str, store: str = "warehouse"
) -> dict[date, DataGuardError]:
    """Each day a blocking check of `checks` failed on, with the error naming every such check, what
    it found, and that nothing was replaced (`store`: where the rows would have gone)."""
    refused = {}
    for day in sorted({day for by_day in verdicts.values() for day in by_day}):
        failed = {
            c.name: verdict
            for c in checks
            if c.blocking and c.name in verdicts and not (verdict := verdicts[c.name][day]).passed
        }
        if not failed:
            continue
        reasons = " ".join(
            f"[{name}] {v.description.rstrip()}"
            + ("" if v.description.rstrip().endswith((".", "!", "?")) else ".")
            for name, v in failed.items()
        )
        article = "an" if store[:1].lower() in "aeiou" else "a"
        refused[day] = DataGuardError(
            f"The new {table} rows of {day} were refused before writing: {reasons} "
            f"This is a data problem ({source}), not {article} {store} problem; nothing was replaced, "
            f"the previous rows of {day} are kept. Re-run the partition once {source} gives correct rows.",
            failed,
            day,
        )
    return refused


def refusal(exc: Exception, day: object, more: str = "") -> Failure:
    """The step's failure for a data problem (refused rows, an unreadable answer): a retry of the same
    data would fail the same way, so none is allowed. Metadata: the day and each failed check."""
    metadata: dict[str, str] = {"refused_day": str(day), "refused_by": type(exc).__name__}
    for name, verdict in getattr(exc, "failed", {}).items():
        metadata[f"guard_{name}"] = verdict.description
    return Failure(f"{exc}{more}", metadata=metadata, allow_retries=False)


@dataclass
class Validated:
    """What a validated write did: every check's verdicts per day, the days written and their rows,
    and the refused days with why."""

    verdicts: Verdicts = field(default_factory=dict)
    written: dict[date, int] = field(default_factory=dict)
    refused: dict[date, Exception] = field(default_factory=dict)

    def add(self, other: Validated) -> None:
        self.verdicts = merged([self.verdicts, other.verdicts])
        self.written.update(other.written)
        self.refused.update(other.refused)


def replace_validated(
    warehouse: Warehouse,
    table: sa.Table,
    days: Sequence[date],
    frame: pd.DataFrame,
    checks: Sequence[DailyCheck],
    source: str,
    read: DayReader | None = None,
) -> Validated:
    """Evaluate `checks` once on `frame`, the new rows of `days` of `table` (staged under `read`,
    `table_reader(table)` unless told), then replace, in one transaction, the days no blocking check
    failed on. A blocking check that cannot be evaluated fails the step: nothing is written."""
    checked = CheckedDays(list(days), warehouse, staged={read or table_reader(table): frame})
    try:
        verdicts = evaluate(checks, checked, table.name)
    except CheckError as exc:
        written = ", ".join(str(day) for day in sorted(days))
        raise Failure(
            f"{exc}. The new rows of {table.name} for {written} were not written.", allow_retries=False
        ) from exc
    refused = blocking_failures(checks, verdicts, table.name, source)
    passing = [day for day in days if day not in refused]
    if passing:
        rows = frame[frame["trade_date"].isin(passing)] if refused and not frame.empty else frame
        warehouse.replace_partition(table, passing, rows)
    counts = frame["trade_date"].value_counts() if not frame.empty else pd.Series(dtype=int)
    return Validated(verdicts, {day: int(counts.get(day, 0)) for day in passing}, dict(refused))


def written_days(
    context: AssetExecutionContext,
    asset: AssetKey,
    written: Mapping[date, Mapping[str, object]],
    checks: Sequence[DailyCheck],
    verdicts: Verdicts,
) -> Iterator[AssetMaterialization | CheckEvent]:
    """The events of the days a failing range step wrote: a materialization per day (Dagster records
    none for a failed step), then the selected checks' results of those days."""
    for day, metadata in sorted(written.items()):
        yield AssetMaterialization(
            asset_key=asset, partition=day.strftime(PARTITION_KEY_FORMAT), metadata=dict(metadata)
        )
    days = set(written)
    of_written = {name: {d: v for d, v in by_day.items() if d in days} for name, by_day in verdicts.items()}
    if days:
        yield from check_results(context, checks, of_written)


def record_refused(
    context: AssetExecutionContext,
    asset: AssetKey,
    checks: Sequence[DailyCheck],
    validated: Validated,
    run_days: int,
    metadata_of: Callable[[date, int], Mapping[str, object]] = lambda _day, rows: {"dagster/row_count": rows},
) -> Iterator[AssetMaterialization | CheckEvent]:
    """Nothing when no day was refused. Else the written days recorded (`written_days`), then the
    step's failure: the first refused day's message and metadata, the others named, and what became
    of the rest of the run."""
    if not validated.refused:
        return
    days = sorted(validated.refused)
    for day in days:
        refused = validated.refused[day]
        context.log.error(f"{asset.to_user_string()} {day} refused, nothing replaced: {refused}")
    written = {day: metadata_of(day, rows) for day, rows in validated.written.items()}
    yield from written_days(context, asset, written, checks, validated.verdicts)
    first = refusal(validated.refused[days[0]], days[0])
    message = first.description or ""
    if len(days) > 1:
        others = ", ".join(str(day) for day in days[1:])
        message += (
            f" Also refused ({len(days) - 1} more day(s), each for its own reason in the step's log):"
            f" {others}."
        )
    if run_days > 1:
        message += (
            f" The run's other {len(written)} of {run_days} day(s) were written and recorded as"
            " materialized; only the refused day(s) need a re-run."
        )
    metadata = {**first.metadata, "refused_days": ", ".join(str(day) for day in days)}
    raise Failure(message, metadata=metadata, allow_retries=False)
