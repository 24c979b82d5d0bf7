"""08:00 KST, Monday to Friday: materialize the previous KRX trading day.

The target comes from the KRX calendar, and a day an earlier tick already submitted is skipped
(why: docs/dagster-notes.md, "The schedule targets the previous trading day").
"""

from dagster import (
    DagsterRunStatus,
    DefaultScheduleStatus,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from adelie_assets.calendar import KST, previous_trading_day
from adelie_assets.defs.pipeline.jobs import daily_pipeline

SCHEDULE_NAME = "daily_pipeline_schedule"


@schedule(
    name=SCHEDULE_NAME,
    job=daily_pipeline,
    cron_schedule="0 8 * * 1-5",
    execution_timezone="Asia/Seoul",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Weekdays 08:00 KST: market_data and historical_cases of the previous KRX trading day.",
)
def daily_pipeline_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    tick_day = context.scheduled_execution_time.astimezone(KST).date()
    target = previous_trading_day(tick_day).isoformat()
    earlier = context.instance.get_run_records(
        RunsFilter(
            tags={"dagster/schedule_name": SCHEDULE_NAME, "dagster/partition": target},
            statuses=[status for status in DagsterRunStatus if status != DagsterRunStatus.NOT_STARTED],
        ),
        limit=1,
    )
    if earlier:
        return SkipReason(
            f"{target} (previous trading day of {tick_day}) was already requested by run "
            f"{earlier[0].dagster_run.run_id}."
        )
    return RunRequest(run_key=target, partition_key=target)
