"""A range run (a backfill chunk) whose step fails on some days: the blast radius stays those days.

Dagster records a range step's materializations only when the step succeeds, one per partition of
the range. When a chunk of a KRX asset fails on one day, the other days it wrote are in the
warehouse all the same (each day is replaced atomically on its own), so the step records them
before it fails: one materialization per written day, with that day's check results. The asset
backfill then counts those days as done (it subtracts every materialized partition from a failed
ranged run's range) and runs their downstream assets; only the refused days, and what depends on
them, are failed. Why and what Dagster does: docs/dagster-notes.md, "Larger runs, one day's blast
radius".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date

from dagster import AssetExecutionContext, AssetKey, AssetMaterialization, Failure

from adelie_assets.calendar import PARTITION_KEY_FORMAT
from adelie_assets.lib.partitioned_checks import CheckEvent, DailyCheck, Verdicts, check_results

# The day's metadata: what a materialization of that day records.
DayMetadata = Mapping[str, object]


def written_days(
    context: AssetExecutionContext,
    asset: AssetKey,
    written: Mapping[date, DayMetadata],
    declarations: Sequence[DailyCheck],
    verdicts: Verdicts,
) -> Iterator[AssetMaterialization | CheckEvent]:
    """The events of the days a failing range step wrote: a materialization per day, then the
    selected checks' results of those days (nothing when no day was written)."""
    if not written:
        return
    for day, metadata in sorted(written.items()):
        yield AssetMaterialization(
            asset_key=asset, partition=day.strftime(PARTITION_KEY_FORMAT), metadata=dict(metadata)
        )
    days = set(written)
    of_written = {name: {d: v for d, v in by_day.items() if d in days} for name, by_day in verdicts.items()}
    yield from check_results(context, declarations, of_written)


def refused_days_failure(refused: Mapping[date, Failure], written: int, run_days: int) -> Failure:
    """The step's failure for the refused days of a range (one `refusal` per day): the first day's
    message and metadata, the other refused days named, and what became of the rest of the run."""
    days = sorted(refused)
    first = refused[days[0]]
    message = first.description or ""
    if len(days) > 1:
        others = ", ".join(str(day) for day in days[1:])
        message += (
            f" Also refused ({len(days) - 1} more day(s), each for its own reason in the step's log):"
            f" {others}."
        )
    if run_days > 1:
        message += (
            f" The run's other {written} of {run_days} day(s) were written and recorded as materialized;"
            f" only the refused day(s) need a re-run."
        )
    metadata = {**first.metadata, "refused_days": ", ".join(str(day) for day in days)}
    return Failure(message, metadata=metadata, allow_retries=False)
