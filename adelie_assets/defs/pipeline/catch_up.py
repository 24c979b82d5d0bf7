"""Missed-day catch-up: request `daily_pipeline` runs for recent trading days that are not done.

Every 15 minutes, for final trading days of the last ADELIE_CATCH_UP_DAYS days of which some asset of
the job (the app feed included) is not materialized, not in flight and not failing repeatedly, at most
MAX_RUNS_PER_TICK a tick; never before the first materialization of `historical_cases`. The rules in
full: docs/dagster-notes.md, "The catch-up sensor".
"""

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRecord,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from adelie_assets.calendar import (
    FIRST_TRADING_DAY,
    KST,
    PARTITION_KEY_FORMAT,
    PartitionKeyError,
    is_final,
    parse_partition_key,
    trading_days,
)
from adelie_assets.defs.pipeline.jobs import DAILY_ASSETS, daily_pipeline

SENSOR_NAME = "catch_up_missed_days"
CATCH_UP_DAYS_ENV = "ADELIE_CATCH_UP_DAYS"
DEFAULT_CATCH_UP_DAYS = 10
HISTORY_ASSET = AssetKey("historical_cases")
# A long window (ADELIE_CATCH_UP_DAYS=3650 is ~2,450 days) is caught up a few runs a tick, not all
# at once: the queue stays readable and the schedule's run is never behind thousands of others.
MAX_RUNS_PER_TICK = 10
SCHEDULE_TIME = time(8, 0)
# The 08:00 run is created within seconds and then counts as in flight; half an hour also covers
# a daemon that was briefly down at 08:00.
SCHEDULE_GRACE = timedelta(minutes=30)
FAILED_RUN_COOLDOWN = timedelta(hours=6)
MAX_FAILED_RUNS = 3

IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
UNSUCCESSFUL = [DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]


def now() -> datetime:
    """The sensor's clock (tests replace it)."""
    return datetime.now(KST)


def catch_up_days() -> int:
    raw = os.environ.get(CATCH_UP_DAYS_ENV, "").strip()
    if not raw:
        return DEFAULT_CATCH_UP_DAYS
    try:
        days = int(raw)
    except ValueError:
        days = -1
    if days < 0:
        raise ValueError(
            f"{CATCH_UP_DAYS_ENV} must be a whole number of days >= 0 (0 switches catch-up off), not {raw!r}."
        )
    return days


def scheduled_at(day: date) -> datetime:
    """The schedule's first tick that targets `day`: 08:00 KST on the next weekday after it."""
    tick = day + timedelta(days=1)
    while tick.weekday() >= 5:
        tick += timedelta(days=1)
    return datetime.combine(tick, SCHEDULE_TIME, tzinfo=KST)


def due_days(current: datetime, lookback_days: int) -> list[date]:
    """Trading days of the lookback window whose data is final and whose scheduled run is past."""
    start = max(current.astimezone(KST).date() - timedelta(days=lookback_days), FIRST_TRADING_DAY)
    due = []
    for day in trading_days(start, current.astimezone(KST).date()):
        if not is_final(day, current) or current < scheduled_at(day) + SCHEDULE_GRACE:
            continue
        try:
            parse_partition_key(day.strftime(PARTITION_KEY_FORMAT), current)
        except PartitionKeyError:
            continue
        due.append(day)
    return due


def _covered_keys(records: Iterable[RunRecord], keys: Sequence[str]) -> set[str]:
    covered: set[str] = set()
    for record in records:
        tags = record.dagster_run.tags
        if "dagster/partition" in tags:
            covered.add(tags["dagster/partition"])
        start = tags.get("dagster/asset_partition_range_start")
        end = tags.get("dagster/asset_partition_range_end")
        if start and end:
            # YYYY-MM-DD keys sort like the days they name.
            covered.update(key for key in keys if start <= key <= end)
    return covered


@dataclass(frozen=True)
class Attempts:
    count: int
    last_ended: datetime | None


def _failed_attempts(instance: DagsterInstance, keys: Sequence[str]) -> dict[str, Attempts]:
    records = instance.get_run_records(
        RunsFilter(statuses=UNSUCCESSFUL, tags={"dagster/partition": list(keys)})
    )
    attempts: dict[str, Attempts] = {}
    for record in records:
        key = record.dagster_run.tags["dagster/partition"]
        ended = (
            datetime.fromtimestamp(record.end_time, KST)
            if record.end_time is not None
            else record.update_timestamp.astimezone(KST)
        )
        previous = attempts.get(key, Attempts(0, None))
        latest = max(d for d in (previous.last_ended, ended) if d is not None)
        attempts[key] = Attempts(previous.count + 1, latest)
    return attempts


def plan(
    instance: DagsterInstance, current: datetime, lookback_days: int, materialized: set[str]
) -> tuple[list[RunRequest], list[str]]:
    """The runs to request now, oldest day first, and one line per due day that is left out."""
    due = [day.strftime(PARTITION_KEY_FORMAT) for day in due_days(current, lookback_days)]
    missing = [key for key in due if key not in materialized]
    if not missing:
        return [], []
    in_flight = _covered_keys(instance.get_run_records(RunsFilter(statuses=IN_FLIGHT)), missing)
    attempts = _failed_attempts(instance, missing)
    requests: list[RunRequest] = []
    notes: list[str] = []
    for key in missing:
        tried = attempts.get(key, Attempts(0, None))
        if key in in_flight:
            notes.append(f"{key}: a run is already queued or running")
        elif tried.count >= MAX_FAILED_RUNS:
            notes.append(f"{key}: gave up after {tried.count} failed runs; re-run it by hand once fixed")
        elif tried.last_ended is not None and current - tried.last_ended < FAILED_RUN_COOLDOWN:
            retry_at = (tried.last_ended + FAILED_RUN_COOLDOWN).astimezone(KST)
            notes.append(f"{key}: its last run failed; retrying after {retry_at:%Y-%m-%d %H:%M} KST")
        elif len(requests) == MAX_RUNS_PER_TICK:
            later = len(missing) - missing.index(key)
            notes.append(
                f"{later} more days from {key} on: at most {MAX_RUNS_PER_TICK} runs a tick, the next ones "
                "at the next ticks (a backfill is faster for a long range)"
            )
            break
        else:
            run_key = f"catch-up-{key}" + (f"-retry-{tried.count}" if tried.count else "")
            requests.append(
                RunRequest(run_key=run_key, partition_key=key, tags={"adelie/trigger": "catch-up"})
            )
    return requests, notes


def done_days(instance: DagsterInstance) -> set[str]:
    """The days of which every asset of daily_pipeline is materialized."""
    done: set[str] | None = None
    for key in DAILY_ASSETS:
        materialized = instance.get_materialized_partitions(key)
        done = materialized if done is None else done & materialized
    return done or set()


@sensor(
    name=SENSOR_NAME,
    job=daily_pipeline,
    minimum_interval_seconds=15 * 60,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        f"Requests daily_pipeline runs, oldest first, for final KRX trading days of the last "
        f"{CATCH_UP_DAYS_ENV} (default {DEFAULT_CATCH_UP_DAYS}) days that some asset of the job lacks "
        f"and that are not in flight or failing repeatedly, at most {MAX_RUNS_PER_TICK} a tick."
    ),
)
def catch_up_missed_days(context: SensorEvaluationContext) -> SensorResult | SkipReason:
    lookback = catch_up_days()
    if lookback == 0:
        return SkipReason(f"Catch-up is off ({CATCH_UP_DAYS_ENV}=0).")
    current = now()
    if not context.instance.get_materialized_partitions(HISTORY_ASSET):
        return SkipReason(
            "historical_cases has never been materialized on this instance: catch-up fills holes in "
            "an existing history; start one with the schedule or a backfill."
        )
    requests, notes = plan(context.instance, current, lookback, done_days(context.instance))
    for note in notes:
        context.log.info(f"Not requested: {note}.")
    if not requests:
        detail = f" Left out: {'; '.join(notes)}." if notes else ""
        return SkipReason(
            f"Every final trading day of the last {lookback} days is materialized or accounted for.{detail}"
        )
    context.log.info(f"Requesting {', '.join(r.partition_key or '' for r in requests)}.")
    return SensorResult(run_requests=requests)
