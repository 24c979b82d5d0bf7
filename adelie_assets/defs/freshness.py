"""When each asset is expected to be fresh, as Dagster 1.13 freshness policies.

What Dagster 1.13 OSS does with them (read in dagster/_core/definitions/freshness*.py and
dagster/_daemon/freshness.py): `@asset(freshness_policy=FreshnessPolicy.cron(...))` is stable API.
The FreshnessDaemon, part of `dagster-daemon run` (and `dagster dev`), evaluates every policy every
30 s and records PASS / FAIL as FRESHNESS_STATE_CHANGE events; the UI shows the state on the asset.
It runs whenever the instance setting `freshness: enabled` is true, which is the default, so
dagster.yaml needs nothing (`freshness: {enabled: false}` would switch it off). Alerting on a
freshness FAIL is a Dagster+ feature; in OSS the failure sensor and the catch-up sensor
(adelie_assets/defs/pipeline) are what act on a missed day.

Limits of a cron policy, accepted here:
* It looks at the latest materialization of ANY partition, not at "the previous trading day's
  partition": a backfill of an old day in the window also counts as fresh.
* Cron knows no KRX closures: on the morning after a weekday closure the schedule has nothing new
  to run (the previous trading day was already done the morning before), so the asset shows FAIL
  from 08:30 until the next trading day's run. The superseded `build_time_partition_freshness_checks`
  would follow the partition calendar, but Dagster #33551 makes it expect a not-yet-final day during
  long closures, and it needs its own sensor and runs.

The windows: KRX data of day D is final at D 18:00 KST and the schedule runs at 08:00 KST the next
weekday, so each weekday morning's deadline accepts any materialization since 18:00 the evening
before (14 h 30 min before the 08:30 deadline; for historical_cases 15 h before 09:00).
"""

from datetime import timedelta

from dagster import FreshnessPolicy

MARKET_DATA_FRESHNESS = FreshnessPolicy.cron(
    deadline_cron="30 8 * * 1-5",
    lower_bound_delta=timedelta(hours=14, minutes=30),
    timezone="Asia/Seoul",
)

# The LLM step follows market_data in the same run; 30 minutes more covers retries and the queue.
HISTORICAL_CASES_FRESHNESS = FreshnessPolicy.cron(
    deadline_cron="0 9 * * 1-5",
    lower_bound_delta=timedelta(hours=15),
    timezone="Asia/Seoul",
)
