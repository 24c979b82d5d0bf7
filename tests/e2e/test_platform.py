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
from adelie_assets.resources.warehouse import Warehouse
from tests.e2e.harness import (
    LOCATION_NAME,
    REPOSITORY_NAME,
    Platform,
    database_exists,
    processes_with_env,
    roles,
    wait_until,
)
from tests.history import seed_history_before

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

# Upstream assets of each asset, as the code location declares them (test_ui_browser.py draws them).
LINEAGE = {
    "market_data": set(),
    "market_indices": set(),
    "daily_themes": {"market_data"},
    "analog_features": {"market_data", "market_indices"},
    "market_analogs": {"market_data", "analog_features", "daily_themes", "market_episodes"},
    "historical_cases": {"daily_themes", "market_analogs", "market_indices"},
    "app_briefing": {"market_data", "market_indices", "daily_themes"},
    "app_cases": {"historical_cases", "market_analogs", "market_data"},
}
GROUPS = {
    "market_data": "market",
    "market_indices": "market",
    "analog_features": "analogs",
    "market_analogs": "analogs",
    "daily_themes": "cases",
    "historical_cases": "cases",
    "app_briefing": "app",
    "app_cases": "app",
}
POOLS = {"market_data": ["krx"], "market_indices": ["krx"], "historical_cases": ["llm"]}
ASSETS = list(LINEAGE)
# The reviewed episode calendar (defs/episodes/): an external asset, not partitioned, never run.
EPISODES = "market_episodes"
# The steps of a run of every asset: the app's two assets are one step (they publish together).
ASSET_STEPS = [*ASSETS[:-2], "app_feed"]
ROWS_PER_DAY = 2388  # KOSPI + KOSDAQ tickers of the fake KRX (KONEX is left out)
INDICES = ["KOSDAQ", "KOSPI"]
THEMES_PER_DAY = CASES_PER_DAY = 5

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
    assert set(nodes) == {*ASSETS, EPISODES}
    episodes = nodes.pop(EPISODES)
    assert episodes["partitionDefinition"] is None and episodes["groupName"] == "market"

    upstream = {name: {"/".join(k["path"]) for k in node["dependencyKeys"]} for name, node in nodes.items()}
    assert upstream == LINEAGE
    downstream = {name: {"/".join(k["path"]) for k in node["dependedByKeys"]} for name, node in nodes.items()}
    assert downstream == {name: {d for d, ups in LINEAGE.items() if name in ups} for name in LINEAGE}
    assert {"/".join(k["path"]) for k in episodes["dependedByKeys"]} == {"market_analogs"}
    assert {name: node["groupName"] for name, node in nodes.items()} == GROUPS

    for node in nodes.values():
        assert node["partitionDefinition"]["type"] == "TIME_WINDOW"
        assert node["partitionDefinition"]["description"].startswith("0 18 * * 1-5, starting 2000-01-04")
    # The KRX assets refuse a bad day alone, so their chunks are larger (defs/market/assets.py).
    policies = {name: node["backfillPolicy"]["maxPartitionsPerRun"] for name, node in nodes.items()}
    assert policies == {name: 250 if name in POOLS and POOLS[name] == ["krx"] else 25 for name in nodes}
    assert {node["backfillPolicy"]["policyType"] for node in nodes.values()} == {"MULTI_RUN"}
    assert {name: node["pools"] for name, node in nodes.items() if node["pools"]} == POOLS

    market = nodes["market_data"]
    keys = market["partitionKeys"]
    assert all(node["partitionKeys"] == keys for node in nodes.values())
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


GOOD_DAYS = ["2026-11-23", "2026-11-24", "2026-11-25"]
# After the good days, whose history they have: with KRX up, every asset of these days would succeed.
FAULT_BACKFILL_DAY, FAULT_RUN_DAY = "2026-11-26", "2026-11-27"
PARTLY_BAD_ASSETS = ["market_data", "market_indices", "daily_themes"]


@pytest.fixture(scope="module")
def backfills(platform: Platform) -> dict[str, Any]:
    """Both scenarios, overlapped to save a backfill-daemon loop (30 s): the three good days first;
    once their run finished, with KRX answering LOGOUT, a one-day backfill and a `daily_pipeline`
    run (the schedule's job); then every backfill is awaited until the daemon marks it finished.

    market_analogs searches the warehouse's own past (~100 trading days before a day, or it fails
    asking for a backfill): synthetic history is written straight into the warehouse first, as
    the unit tests do, instead of backfilling 110 days through the daemon."""
    assert platform.krx is not None and platform.llm is not None
    seed_history_before(Warehouse(url=platform.warehouse_url), date.fromisoformat(GOOD_DAYS[0]))
    started = time.monotonic()
    good_id = platform.launch_asset_backfill(ASSETS, GOOD_DAYS, title="e2e three days")
    # The KRX assets' run first, the others' a daemon loop later: both done before KRX breaks.
    good = platform.wait_for_backfill(good_id, timeout=BACKFILL_TIMEOUT)
    good_seconds = time.monotonic() - started

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

    # One bad day inside a chunk: KRX answers the middle good day's KOSPI quotes with dashes only.
    # The days around it are re-run with the same answers, so the tables stay as the good backfill
    # left them.
    platform.krx.set_fault("all_dash", markets="STK", days=GOOD_DAYS[1].replace("-", ""))
    try:
        partly_id = platform.launch_asset_backfill(
            PARTLY_BAD_ASSETS, GOOD_DAYS, title="e2e one bad day in a chunk"
        )
        platform.wait_for_backfill_runs(partly_id, timeout=BACKFILL_TIMEOUT)  # the KRX assets' run
    finally:
        platform.krx.clear_fault()

    bad = platform.wait_for_backfill(bad_id, timeout=BACKFILL_TIMEOUT)
    partly = platform.wait_for_backfill(partly_id, timeout=BACKFILL_TIMEOUT)
    print(
        f"three-day backfill: marked {good['status']} after {good_seconds:.0f} s; "
        f"all three scenarios {time.monotonic() - started:.0f} s"
    )
    return {
        "good": good,
        "bad": bad,
        "partly": partly,
        "daily": daily,
        "completions_during_fault": completions_during_fault,
    }


def run_days(run: dict[str, Any]) -> tuple[str, str]:
    """The first and last partition of a run (one partition: twice the same)."""
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    if "dagster/partition" in tags:
        return tags["dagster/partition"], tags["dagster/partition"]
    return tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]


def per_day(platform: Platform, sql: str) -> list[tuple[Any, ...]]:
    """Rows of `sql` (grouped by day, its first column) for the good days only: the seeded history
    before them is not the backfill's."""
    return [row for row in platform.warehouse_query(sql) if str(row[0]) >= GOOD_DAYS[0]]


def test_backfill_of_three_days_writes_every_table(platform: Platform, backfills: dict[str, Any]) -> None:
    backfill = backfills["good"]
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    assert backfill["isAssetBackfill"] and backfill["numPartitions"] == 3
    # Two runs, one per backfill policy: the KRX assets, then every other asset of the three days
    # in one run, in dependency order.
    runs = sorted((platform.run(r["runId"]) for r in backfill["runs"]), key=lambda r: r["startTime"])
    assert [r["assetSelection"] for r in runs] == [
        ["market_data", "market_indices"],
        sorted(set(ASSETS) - {"market_data", "market_indices"}),
    ]
    assert [run_days(r) for r in runs] == [(GOOD_DAYS[0], GOOD_DAYS[-1])] * 2
    stats = {step: status for r in runs for step, status in platform.step_stats(r["runId"]).items()}
    assert {step: stats.get(step) for step in ASSET_STEPS} == dict.fromkeys(ASSET_STEPS, "SUCCESS"), stats
    assert all(status == "SUCCESS" for status in stats.values()), stats  # the asset checks too
    assert [r["status"] for r in runs] == ["SUCCESS", "SUCCESS"]

    assert per_day(
        platform,
        "SELECT trade_date::text, count(*), count(DISTINCT ticker) FROM market_data GROUP BY 1 ORDER BY 1",
    ) == [(day, ROWS_PER_DAY, ROWS_PER_DAY) for day in GOOD_DAYS]
    assert per_day(
        platform,
        "SELECT trade_date::text, array_agg(index_name ORDER BY index_name) FROM market_indices "
        "GROUP BY 1 ORDER BY 1",
    ) == [(day, INDICES) for day in GOOD_DAYS]
    assert per_day(
        platform,
        "SELECT trade_date::text, count(*), count(DISTINCT theme_rank), min(json_array_length(stocks)) > 0 "
        "FROM daily_themes GROUP BY 1 ORDER BY 1",
    ) == [(day, THEMES_PER_DAY, THEMES_PER_DAY, True) for day in GOOD_DAYS]
    assert per_day(
        platform,
        "SELECT trade_date::text, array_agg(kind ORDER BY kind), min(row_count) > 0 FROM analog_features "
        "GROUP BY 1 ORDER BY 1",
    ) == [(day, ["index", "stock"], True) for day in GOOD_DAYS]
    # Analogs of both indices, found in the seeded past. The themes' stocks get none: the seeded
    # history has other tickers, so theirs lacks the 20 days a feature vector needs.
    assert per_day(
        platform,
        "SELECT trade_date::text, array_agg(DISTINCT subject ORDER BY subject), "
        "bool_and(analog_date < trade_date) FROM market_analogs GROUP BY 1 ORDER BY 1",
    ) == [(day, INDICES, True) for day in GOOD_DAYS]
    assert per_day(
        platform,
        "SELECT trade_date::text, count(*), count(DISTINCT theme_rank) FROM historical_cases "
        "GROUP BY 1 ORDER BY 1",
    ) == [(day, CASES_PER_DAY, CASES_PER_DAY) for day in GOOD_DAYS]

    # The app's tables (in the warehouse, prefixed app_: ADELIE_APP_DATABASE_URL is unset).
    assert platform.warehouse_query(
        "SELECT briefing_date::text, jsonb_array_length(top_keywords->'keywords') > 0, "
        "(SELECT count(*) FROM app_briefing_stocks s WHERE s.briefing_id = b.id) > 0 "
        "FROM app_daily_briefings b ORDER BY 1"
    ) == [(day, True, True) for day in GOOD_DAYS]
    assert platform.warehouse_query(
        "SELECT matched_at::date::text, count(DISTINCT matched_case_id) FROM app_case_matches "
        "GROUP BY 1 ORDER BY 1"
    ) == [(day, CASES_PER_DAY) for day in GOOD_DAYS]


def test_failing_krx_fails_market_data_and_never_runs_historical_cases(
    platform: Platform, backfills: dict[str, Any]
) -> None:
    """Both paths that reach KRX: a backfill of every asset (one run, the code location's
    in-process executor) and the schedule's job `daily_pipeline`. The days have the history
    market_analogs needs: only the KRX failure keeps everything downstream from running."""
    backfill = backfills["bad"]
    assert backfill["status"] == "COMPLETED_FAILED", backfill
    # One run: run_retries must not retry an asset failure (retry_on_asset_or_op_failure: false).
    [backfill_run] = backfill["runs"]
    for run in (backfill_run, backfills["daily"]):
        assert run["status"] == "FAILURE", run
        stats = platform.step_stats(run["runId"])
        # market_indices calls KRX too and fails on the same LOGOUT.
        assert (stats["market_data"], stats["market_indices"]) == ("FAILURE", "FAILURE"), stats
        for step in ASSET_STEPS[2:]:
            assert stats.get(step) in (None, "SKIPPED"), (step, stats)

    assert backfills["completions_during_fault"] == 0, "an LLM call was made for a failed day"
    fault_days = (FAULT_BACKFILL_DAY, FAULT_RUN_DAY)
    for table in ("market_data", "market_indices", "daily_themes", "market_analogs", "historical_cases"):
        rows = platform.warehouse_query(
            f"SELECT count(*) FROM {table} WHERE trade_date IN (%s, %s)", fault_days
        )
        assert rows == [(0,)], table
    briefings = platform.warehouse_query(
        "SELECT count(*) FROM app_daily_briefings WHERE briefing_date IN (%s, %s)", fault_days
    )
    assert briefings == [(0,)]


def test_one_bad_day_in_a_chunk_fails_that_day_alone(platform: Platform, backfills: dict[str, Any]) -> None:
    """A KRX asset's chunk with one refused day records the days it wrote, so the backfill fails that
    day (and what depends on it) only: daily_themes runs for the two other days, not for it."""
    backfill = backfills["partly"]
    assert backfill["status"] == "COMPLETED_FAILED", backfill
    runs = sorted((platform.run(r["runId"]) for r in backfill["runs"]), key=lambda r: r["startTime"])
    krx, *downstream = runs
    assert krx["assetSelection"] == ["market_data", "market_indices"] and krx["status"] == "FAILURE"
    stats = platform.step_stats(krx["runId"])
    assert (stats["market_data"], stats["market_indices"]) == ("FAILURE", "SUCCESS"), stats
    assert [(r["assetSelection"], r["status"]) for r in downstream] == [(["daily_themes"], "SUCCESS")] * 2
    first, bad, last = GOOD_DAYS
    assert sorted(run_days(r) for r in downstream) == [(first, first), (last, last)]
    # The refused day kept the good backfill's rows.
    assert platform.warehouse_query("SELECT count(*) FROM market_data WHERE trade_date = %s", (bad,)) == [
        (ROWS_PER_DAY,)
    ]


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
