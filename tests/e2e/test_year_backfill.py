"""Load test (issue 6): a long range of trading days of every asset, backfilled through the daemon.

The whole year by default (245 trading days: one run of the KRX assets, then 10 of the others);
ADELIE_LOAD_TEST_DAYS=N bounds it to the last N days of the year below. Timings of the full year are
bench/bench_backfill.py's, not this test's.

One launchPartitionBackfill of those KRX trading days; the daemon splits it by the assets'
backfill policies into runs: the two KRX assets 250 days a run, then (once their days are
materialized, a daemon loop later) every other asset 25 days a run; the run queue runs them one at a time
(tag limit dagster/backfill: 1), the fakes answer with no latency, and the KRX polite delay is 0
(ADELIE_KRX_DELAY_SECONDS). Checked: every partition materialized, exact row counts, no duplicate
keys, no retried request; printed: the wall time and the peak memory of the daemon, code servers
and run workers (sampled from /proc).

Executor: the code location's default executor is in-process (definitions.py). With Dagster's
default multiprocess executor every step and every asset check was its own Python process (~3-5 s
of imports each), which made the year take 630 s here instead of 240 s.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from datetime import date

import pytest

from adelie_assets.calendar import trading_days
from adelie_assets.resources.warehouse import Warehouse
from tests.e2e.harness import start_platform
from tests.e2e.test_platform import ASSETS, EPISODES
from tests.history import seed_history_before

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.postgres]

FIRST_DAY, LAST_DAY = date(2025, 11, 27), date(2026, 11, 27)
ROWS_PER_DAY = 2388
CASES_PER_DAY = 5
KRX_PARTITIONS_PER_RUN, MAX_PARTITIONS_PER_RUN = 250, 25
LOAD_TEST_DAYS = int(os.environ.get("ADELIE_LOAD_TEST_DAYS", "245"))
TIMEOUT = float(os.environ.get("ADELIE_YEAR_BACKFILL_TIMEOUT", "1500"))
RSS_LIMIT_KIB = 2 * 1024 * 1024  # 2 GiB, generous: a leak per partition would still show


def test_year_backfill_of_every_asset() -> None:
    year = trading_days(FIRST_DAY, LAST_DAY)
    assert 240 <= len(year) <= 250
    days = year[-LOAD_TEST_DAYS:]
    assert len(days) > MAX_PARTITIONS_PER_RUN, "the load test must span more than one run"
    first_day = days[0]
    keys = [day.isoformat() for day in days]

    platform = start_platform(krx_delay_seconds=0.0)
    try:
        assert platform.krx is not None and platform.llm is not None
        # market_analogs of the first days needs ~100 trading days before them: synthetic history,
        # written straight into the warehouse as the unit tests do (not part of the timing).
        seed_history_before(Warehouse(url=platform.warehouse_url), first_day)
        sampler = platform.sample_rss(interval=0.5)
        started = time.monotonic()
        backfill_id = platform.launch_asset_backfill(
            ASSETS,
            keys,
            title="e2e year load test",
        )
        backfill = platform.wait_for_backfill(backfill_id, timeout=TIMEOUT)
        elapsed = time.monotonic() - started
        report = sampler.stop()

        runs = [platform.run(r["runId"]) for r in backfill["runs"]]
        durations = [r["endTime"] - r["startTime"] for r in runs if r["startTime"] and r["endTime"]]
        print(
            f"\nload backfill: {len(days)} trading days {keys[0]}..{keys[-1]}, "
            f"{len(runs)} runs, {elapsed:.0f} s wall (platform start {platform.startup_seconds:.0f} s)"
        )
        if durations:
            print(
                f"run durations: min {min(durations):.0f} s, median {statistics.median(durations):.0f} s, "
                f"max {max(durations):.0f} s"
            )
        print(
            f"KRX data requests {platform.krx.data_request_count} (max {platform.krx.max_concurrent} at "
            f"once), LLM completions {platform.llm.completion_count}"
        )
        print("\n".join(report.lines()))

        assert backfill["status"] == "COMPLETED_SUCCESS", backfill
        assert [r["status"] for r in runs] == ["SUCCESS"] * len(runs)
        # A run per chunk, not one per asset: the KRX assets' 250-day chunk, then the other assets'
        # 25-day chunks of the days it materialized, every downstream asset of a chunk in one run.
        krx_runs = [r for r in runs if r["assetSelection"] == ["market_data", "market_indices"]]
        assert len(krx_runs) == math.ceil(len(days) / KRX_PARTITIONS_PER_RUN), runs
        assert len(runs) - len(krx_runs) == math.ceil(len(days) / MAX_PARTITIONS_PER_RUN), runs

        stats = platform.graphql(
            "{ assetNodes { assetKey { path } partitionStats { numMaterialized numFailed } } }"
        )["assetNodes"]
        assert {"/".join(node["assetKey"]["path"]) for node in stats} == {*ASSETS, EPISODES}
        for node in stats:
            if node["assetKey"]["path"] != [EPISODES]:  # the external episode calendar: not partitioned
                assert node["partitionStats"] == {"numMaterialized": len(days), "numFailed": 0}, node

        # Exact rows, per day and in total, and no key twice.
        assert platform.warehouse_query(
            "SELECT trade_date::text FROM market_data WHERE trade_date >= %s GROUP BY 1 ORDER BY 1",
            (first_day,),
        ) == [(k,) for k in keys]
        assert platform.warehouse_query(
            "SELECT count(*), count(DISTINCT (trade_date, ticker)) FROM market_data WHERE trade_date >= %s",
            (first_day,),
        ) == [(ROWS_PER_DAY * len(days), ROWS_PER_DAY * len(days))]
        assert (
            platform.warehouse_query(
                "SELECT trade_date FROM market_data WHERE trade_date >= %s GROUP BY 1 HAVING count(*) <> %s",
                (first_day, ROWS_PER_DAY),
            )
            == []
        )
        assert platform.warehouse_query(
            "SELECT trade_date::text FROM historical_cases GROUP BY 1 ORDER BY 1"
        ) == [(k,) for k in keys]
        assert platform.warehouse_query(
            "SELECT count(*), count(DISTINCT (trade_date, theme_rank)) FROM historical_cases"
        ) == [(CASES_PER_DAY * len(days), CASES_PER_DAY * len(days))]

        assert platform.warehouse_query(
            "SELECT count(*), count(DISTINCT briefing_date) FROM app_daily_briefings"
        ) == [(len(days), len(days))]
        # No KRX request twice (market_data and market_indices), one completion per case: nothing
        # retried or fetched twice.
        seen = [(r.bld, r.mkt_id, r.trd_dd, r.ind_idx, r.strt_dd, r.end_dd) for r in platform.krx.requests]
        assert len(seen) == len(set(seen)) == platform.krx.data_request_count
        quotes = [r for r in platform.krx.requests if not r.ind_idx]  # market_data: one per market and day
        assert len(quotes) == 2 * len(days)
        assert platform.krx.max_concurrent == 1
        assert platform.llm.completion_count == CASES_PER_DAY * len(days)

        peaks = report.peak_by_role()
        assert {"daemon", "code server", "run worker"} <= set(peaks), peaks
        assert max(peaks.values()) < RSS_LIMIT_KIB, peaks
        assert report.peak_tree_rss_kib["daemon"] < RSS_LIMIT_KIB, report.peak_tree_rss_kib
    finally:
        platform.stop()
    assert platform.leftovers == [] and platform.strays == []
