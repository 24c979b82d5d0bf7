"""The deployed platform end to end, through the webserver's GraphQL API only.

Real dagster-webserver and dagster-daemon subprocesses on Postgres storage, the fake KRX and fake
OpenAI, a Postgres warehouse. What unit tests cannot show: that the daemon, the run queue, the
pools and the code server actually run the assets, and that the UI's API describes them right.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from adelie_assets.calendar import FIRST_TRADING_DAY, KST, trading_days
from tests.e2e.harness import (
    LOCATION_NAME,
    REPOSITORY_NAME,
    Platform,
    database_exists,
    processes_with_env,
    roles,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

ASSETS = ["market_data", "historical_cases"]
ROWS_PER_DAY = 2388  # KOSPI + KOSDAQ tickers of the fake KRX (KONEX is left out)
CASES_PER_DAY = 5

# Each backfill waits up to 30 s for the backfill daemon to pick it up and up to 30 s more to be
# marked finished (Dagster's fixed loop interval); runs take seconds.
BACKFILL_TIMEOUT = 240


def asset_nodes(platform: Platform) -> dict[str, dict]:
    query = """{
      assetNodes {
        assetKey { path }
        groupName
        dependencyKeys { path }
        dependedByKeys { path }
        partitionDefinition { type description }
        backfillPolicy { policyType maxPartitionsPerRun }
        pools
        partitionKeys
      }
    }"""
    nodes = platform.graphql(query)["assetNodes"]
    return {"/".join(n["assetKey"]["path"]): n for n in nodes}


def test_lineage_and_trading_day_partitions(platform: Platform) -> None:
    nodes = asset_nodes(platform)
    assert set(ASSETS) <= set(nodes)
    market, cases = nodes["market_data"], nodes["historical_cases"]

    assert [k["path"] for k in cases["dependencyKeys"]] == [["market_data"]]
    assert [k["path"] for k in market["dependedByKeys"]] == [["historical_cases"]]
    assert market["dependencyKeys"] == []

    for node in (market, cases):
        assert node["partitionDefinition"]["type"] == "TIME_WINDOW"
        assert node["partitionDefinition"]["description"].startswith("0 18 * * 1-5, starting 2000-01-04")
        assert node["backfillPolicy"] == {"policyType": "MULTI_RUN", "maxPartitionsPerRun": 25}
    assert market["pools"] == ["krx"] and cases["pools"] == ["llm"]

    keys = market["partitionKeys"]
    assert keys == cases["partitionKeys"]
    assert "2026-11-27" in keys  # a Friday
    assert "2026-11-28" not in keys  # a Saturday
    assert "2026-09-24" not in keys  # Chuseok
    # Up to the last day that is surely final, the UI's partitions are exactly the KRX calendar's.
    through = date(2026, 11, 27)
    expected = [d.isoformat() for d in trading_days(FIRST_TRADING_DAY, through)]
    assert [k for k in keys if k <= through.isoformat()] == expected


def next_weekday_0800_kst(now: datetime) -> datetime:
    candidate = now.astimezone(KST).replace(hour=8, minute=0, second=0, microsecond=0)
    if candidate <= now:
        candidate += timedelta(days=1)
    while candidate.weekday() >= 5:
        candidate += timedelta(days=1)
    return candidate


def test_schedule_is_running_with_the_next_weekday_0800_kst_tick(platform: Platform) -> None:
    query = """query Schedule($selector: ScheduleSelector!) {
      scheduleOrError(scheduleSelector: $selector) {
        __typename
        ... on Schedule {
          cronSchedule executionTimezone
          scheduleState { status }
          futureTicks(limit: 1) { results { timestamp } }
        }
      }
    }"""
    selector = {
        "repositoryLocationName": LOCATION_NAME,
        "repositoryName": REPOSITORY_NAME,
        "scheduleName": "daily_pipeline_schedule",
    }
    before = next_weekday_0800_kst(datetime.now(KST))
    schedule = platform.graphql(query, {"selector": selector})["scheduleOrError"]
    after = next_weekday_0800_kst(datetime.now(KST))  # in case 08:00 passed during the request

    assert schedule["__typename"] == "Schedule"
    assert schedule["scheduleState"]["status"] == "RUNNING"
    assert (schedule["cronSchedule"], schedule["executionTimezone"]) == ("0 8 * * 1-5", "Asia/Seoul")
    [tick] = schedule["futureTicks"]["results"]
    assert datetime.fromtimestamp(tick["timestamp"], KST) in {before, after}


GOOD_DAYS = ["2026-11-24", "2026-11-25", "2026-11-26"]
FAULT_BACKFILL_DAY, FAULT_RUN_DAY = "2026-11-20", "2026-11-19"


@pytest.fixture(scope="module")
def backfills(platform: Platform) -> dict[str, Any]:
    """Both scenarios, overlapped to save a backfill-daemon loop (30 s): the three good days first;
    once their run finished, with KRX answering LOGOUT, a one-day backfill and a `daily_pipeline`
    run (the schedule's job); then every backfill is awaited until the daemon marks it finished."""
    assert platform.krx is not None and platform.llm is not None
    started = time.monotonic()
    good_id = platform.launch_asset_backfill(ASSETS, GOOD_DAYS, title="e2e three days")
    platform.wait_for_backfill_runs(good_id, timeout=BACKFILL_TIMEOUT)
    good_runs_seconds = time.monotonic() - started

    completions_before = platform.llm.completion_count
    platform.krx.set_fault("logout")
    try:
        bad_id = platform.launch_asset_backfill(ASSETS, [FAULT_BACKFILL_DAY], title="e2e KRX logout")
        daily_id = platform.launch_job_run("daily_pipeline", FAULT_RUN_DAY)
        daily = platform.wait_for_run(daily_id, timeout=BACKFILL_TIMEOUT)
        platform.wait_for_backfill_runs(bad_id, timeout=BACKFILL_TIMEOUT)
    finally:
        platform.krx.clear_fault()
    completions_during_fault = platform.llm.completion_count - completions_before

    good = platform.wait_for_backfill(good_id, timeout=BACKFILL_TIMEOUT)
    good_seconds = time.monotonic() - started
    bad = platform.wait_for_backfill(bad_id, timeout=BACKFILL_TIMEOUT)
    print(
        f"three-day backfill: runs done after {good_runs_seconds:.0f} s, marked "
        f"{good['status']} after {good_seconds:.0f} s; both scenarios {time.monotonic() - started:.0f} s"
    )
    return {"good": good, "bad": bad, "daily": daily, "completions_during_fault": completions_during_fault}


def test_backfill_of_three_days_writes_both_tables(platform: Platform, backfills: dict[str, Any]) -> None:
    backfill = backfills["good"]
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    assert backfill["isAssetBackfill"] and backfill["numPartitions"] == 3
    assert backfill["runs"], "the daemon launched no run"
    for run in backfill["runs"]:
        assert run["status"] == "SUCCESS"
        stats = platform.step_stats(run["runId"])
        assert stats["market_data"] == "SUCCESS" and stats["historical_cases"] == "SUCCESS", stats

    market = platform.warehouse_query(
        "SELECT trade_date::text, count(*), count(DISTINCT ticker) FROM market_data GROUP BY 1 ORDER BY 1"
    )
    assert market == [(day, ROWS_PER_DAY, ROWS_PER_DAY) for day in GOOD_DAYS]
    cases = platform.warehouse_query(
        "SELECT trade_date::text, count(*), count(DISTINCT theme_rank) FROM historical_cases "
        "GROUP BY 1 ORDER BY 1"
    )
    assert cases == [(day, CASES_PER_DAY, CASES_PER_DAY) for day in GOOD_DAYS]


def test_failing_krx_fails_market_data_and_never_runs_historical_cases(
    platform: Platform, backfills: dict[str, Any]
) -> None:
    """Both paths that reach KRX: a backfill (asset job, Dagster's default executor) and the
    schedule's job `daily_pipeline` (in-process executor)."""
    backfill = backfills["bad"]
    assert backfill["status"] == "COMPLETED_FAILED", backfill
    # One run: run_retries must not retry an asset failure (retry_on_asset_or_op_failure: false).
    [backfill_run] = backfill["runs"]
    for run in (backfill_run, backfills["daily"]):
        assert run["status"] == "FAILURE", run
        stats = platform.step_stats(run["runId"])
        assert stats["market_data"] == "FAILURE", stats
        assert stats.get("historical_cases") in (None, "SKIPPED"), stats

    assert backfills["completions_during_fault"] == 0, "an LLM call was made for a failed day"
    rows = platform.warehouse_query(
        "SELECT count(*) FROM historical_cases WHERE trade_date IN (%s, %s)",
        (FAULT_BACKFILL_DAY, FAULT_RUN_DAY),
    )
    assert rows == [(0,)]


def test_stop_mid_run_leaves_no_process_and_no_database(platform: Platform) -> None:
    """Last in this module: stops the shared platform while a run worker waits on a hung KRX."""
    assert platform.krx is not None and platform.dagster_home is not None
    platform.krx.set_fault("hang", hang_seconds=120)
    platform.launch_job_run("daily_pipeline", "2026-11-18")

    def run_worker_in_flight() -> bool:
        by_role = roles(platform.processes()).values()
        return "run worker" in by_role and platform.krx is not None and platform.krx.in_flight > 0

    wait_until(run_worker_in_flight, 60, "a run worker blocked on KRX")
    home = str(platform.dagster_home)
    root = platform.root
    databases = (platform.dagster_db, platform.warehouse_db)
    assert processes_with_env("DAGSTER_HOME", home)

    platform.stop()
    print(f"stopped mid-run in {platform.stop_seconds:.1f} s")

    assert platform.leftovers == [] and platform.strays == []
    assert processes_with_env("DAGSTER_HOME", home) == []
    assert not any(database_exists(str(name)) for name in databases)
    assert root is not None and not root.exists()
