"""Offline demo: every asset of the code location for the recent trading days, with no credentials.

    python -m adelie_fakes.demo [--days 3] [--history-days 90] [--state-dir .adelie/demo] [--top-up]

Starts the fake KRX and the fake OpenAI server on 127.0.0.1, points the real pykrx and openai code
at them (demo mode, adelie_fakes/demo_mode.py) and materializes into a SQLite warehouse and the
demo Dagster instance under --state-dir (kept apart from real data):
1. history: the source assets of the asset graph (those with no partitioned upstream, e.g.
   market_data) for --history-days trading days before the first analysed day, in range runs and
   without their checks, so that assets looking back (the analogs' 60 + 20 trading days) find
   enough history;
2. every partitioned asset for each analysed day: the last --days final trading days and every day
   the catch-up sensor would look at, so that the playground's daemon finds nothing to catch up;
   and one day inside a market episode of the calendar (EPISODE_DAY, after its own history): every
   analog of that day sits in the 2025 rally to KOSPI 4,000, so the demo shows episode-named cases
   (--no-episode-day leaves it out);
3. the unpartitioned assets, once.
Days already materialized are skipped, so a second run only tops the instance up (--top-up prints
nothing else when there is nothing to do). Everything it writes is DEMO DATA.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from adelie_assets.calendar import KST, is_final, is_trading_day, previous_trading_day
from adelie_assets.lib.history import HISTORY_TAG
from adelie_fakes.demo_mode import DEMO_LABEL, DEMO_RUN_TAG

BANNER = DEMO_LABEL
DEFAULT_HISTORY_DAYS = 110  # the analogs need ~100 trading days before a day (docs/analogs.md)
RANGE_RUN_DAYS = 25  # as BACKFILL_POLICY (adelie_assets/defs/market/assets.py); KRX backfills take 100
# A day whose analogs all sit in a market episode (episodes.toml's rally_2025, 2025-04-09 .. 2025-10-27):
# with the 100 trading days its search needs before it (docs/analogs.md, "Too little history"), every
# candidate (at least 60 trading days back, after the 20 of look-back) is a day of May 2025
# (tests/test_analog_episodes.py runs the same span).
EPISODE_DAY = date(2025, 8, 29)
EPISODE_HISTORY_DAYS = 100
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def last_final_trading_days(count: int, now: datetime) -> list[date]:
    """The `count` latest trading days whose data is final at `now`, oldest first."""
    day = now.astimezone(KST).date()
    if not (is_trading_day(day) and is_final(day, now)):
        day = previous_trading_day(day)
    days = [day]
    while len(days) < count:
        days.append(previous_trading_day(days[-1]))
    return sorted(days)


def analysed_days(count: int, now: datetime) -> list[date]:
    """The last `count` final trading days plus every day the catch-up sensor would request."""
    from adelie_assets.defs.pipeline.catch_up import catch_up_days, due_days

    return sorted(set(last_final_trading_days(count, now)) | set(due_days(now, catch_up_days())))


def history_days(first_analysed: date, count: int) -> list[date]:
    days: list[date] = []
    day = first_analysed
    while len(days) < count:
        day = previous_trading_day(day)
        days.append(day)
    return sorted(days)


@dataclass(frozen=True)
class AssetPlan:
    """The code location's assets, sorted by what the demo does with them."""

    sources: list[Any]  # tagged adelie/history: backfilled over the history the analogs search
    partitioned: list[Any]
    unpartitioned: list[Any]


def asset_plan(defs: Any) -> AssetPlan:
    graph = defs.resolve_asset_graph()
    keys = sorted(graph.materializable_asset_keys, key=lambda k: k.to_user_string())
    partitioned = [k for k in keys if graph.get(k).partitions_def is not None]
    sources = [k for k in partitioned if graph.get(k).tags.get(HISTORY_TAG)]
    unpartitioned = [k for k in keys if k not in partitioned]
    return AssetPlan(sources=sources, partitioned=partitioned, unpartitioned=unpartitioned)


def missing_days(instance: Any, keys: Sequence[Any], days: Sequence[date]) -> list[date]:
    done = [instance.get_materialized_partitions(key) for key in keys]
    return [day for day in days if any(day.isoformat() not in keys_done for keys_done in done)]


def chunks(days: Sequence[date], size: int) -> list[list[date]]:
    """Runs of at most `size` days, each within one stretch of consecutive trading days: a range run
    covers every partition between its first and last day."""
    stretches: list[list[date]] = []
    for day in sorted(days):
        if stretches and previous_trading_day(day) == stretches[-1][-1] and len(stretches[-1]) < size:
            stretches[-1].append(day)
        else:
            stretches.append([day])
    return stretches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adelie_fakes.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3, help="How many recent trading days (default 3).")
    parser.add_argument(
        "--history-days",
        type=int,
        default=DEFAULT_HISTORY_DAYS,
        help=f"Trading days of source history before them (default {DEFAULT_HISTORY_DAYS}).",
    )
    parser.add_argument(
        "--state-dir", default=".adelie/demo", help="Where the demo writes (default .adelie/demo)."
    )
    parser.add_argument("--top-up", action="store_true", help="Say nothing when nothing is missing.")
    parser.add_argument(
        "--no-episode-day",
        action="store_true",
        help=f"Leave out {EPISODE_DAY}, the day inside a market episode, and its history.",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.days <= 20:
        parser.error("--days must be between 1 and 20")
    if not 0 <= args.history_days <= 500:
        parser.error("--history-days must be between 0 and 500")

    from adelie_fakes import demo_instance
    from adelie_fakes.servers import running_fakes

    state = Path(args.state_dir).resolve()
    demo_instance.write_instance_yaml(state)
    days = analysed_days(args.days, datetime.now(KST))
    history = history_days(days[0], args.history_days)
    if not args.no_episode_day:
        history = sorted(set(history) | set(history_days(EPISODE_DAY, EPISODE_HISTORY_DAYS)) - {EPISODE_DAY})
        days = sorted({EPISODE_DAY, *days})

    with running_fakes(
        krx_credentials=demo_instance.KRX_CREDENTIALS, llm_api_key=demo_instance.LLM_API_KEY
    ) as (krx, llm):
        env = demo_instance.demo_env(state, krx.url, llm.base_url)
        os.environ.clear()  # nothing inherited may point this process at real storage or services
        os.environ.update(env)
        from dagster import DagsterInstance

        from adelie_fakes.demo_definitions import defs

        plan = asset_plan(defs)
        job = defs.resolve_implicit_global_asset_job_def()
        failed: list[str] = []
        with DagsterInstance.get() as instance:
            demo_instance.set_pool_limits(instance)
            todo_history = missing_days(instance, plan.sources, history)
            todo_days = missing_days(instance, plan.partitioned, days)
            todo_once = [
                k for k in plan.unpartitioned if instance.get_latest_materialization_event(k) is None
            ]
            nothing_to_do = not (todo_history or todo_days or todo_once)
            if nothing_to_do and args.top_up:
                print(f"== Demo instance {state} is up to date ({days[0]} .. {days[-1]}).")
                return 0
            print(f"== {BANNER}")
            print(f"== Trading days: {', '.join(map(str, days))}")
            if history:
                stretches = chunks(history, len(history))
                print(
                    f"== History: {', '.join(f'{s[0]} .. {s[-1]}' for s in stretches)} ({len(history)} "
                    f"trading days) of {', '.join(k.to_user_string() for k in plan.sources)}"
                )

            def execute(label: str, selection: Sequence[Any], checks: bool = True, **kwargs: Any) -> None:
                # Without checks, the history takes half the time; the analysed days get them all.
                subset = job.get_subset(
                    asset_selection=set(selection), asset_check_selection=None if checks else set()
                )
                result = subset.execute_in_process(
                    instance=instance,
                    # Step logs stay in the run (see the UI); the terminal gets the summary.
                    run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                    raise_on_error=False,
                    **kwargs,
                )
                print(f"-- {label}: run {result.run_id} {'succeeded' if result.success else 'FAILED'}")
                if not result.success:
                    failed.append(label)

            tags = {DEMO_RUN_TAG: "true", "adelie/trigger": "demo"}
            for chunk in chunks(todo_history, RANGE_RUN_DAYS):
                execute(
                    f"history {chunk[0]} .. {chunk[-1]}",
                    plan.sources,
                    checks=False,
                    tags={
                        **tags,
                        RANGE_START_TAG: chunk[0].isoformat(),
                        RANGE_END_TAG: chunk[-1].isoformat(),
                    },
                )
            for day in todo_days:
                execute(str(day), plan.partitioned, partition_key=day.isoformat(), tags=tags)
            if plan.unpartitioned and (todo_once or todo_days):
                execute(
                    ", ".join(k.to_user_string() for k in plan.unpartitioned), plan.unpartitioned, tags=tags
                )

    _print_summary(days, state)
    print(
        "\nOpen the live playground on this demo instance (the fakes keep running next to the UI):\n"
        "  make demo-ui   then browse http://127.0.0.1:3000"
    )
    if failed:
        print(f"Demo runs failed: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _print_summary(days: list[date], state: Path) -> None:
    from adelie_assets.resources.warehouse import Warehouse
    from adelie_fakes.demo_instance import warehouse_url

    warehouse = Warehouse(url=warehouse_url(state))
    market = warehouse.read_market_data(days)
    cases = warehouse.read_historical_cases(days)
    print(f"\n== Summary ({BANNER})")
    print(f"   warehouse: {warehouse.describe()}")
    for day in days:
        rows = market[market["trade_date"] == day]
        by_market = rows["market"].value_counts().to_dict()
        day_cases = cases[cases["trade_date"] == day]
        print(
            f"\n{day}: {len(rows)} market_data rows (KOSPI {by_market.get('KOSPI', 0)}, "
            f"KOSDAQ {by_market.get('KOSDAQ', 0)}), {len(day_cases)} themes"
        )
        for case in day_cases.itertuples():
            # Every figure printed here is a column of market_analogs (the analog the case is about).
            outcome = case.outcome if isinstance(case.outcome, dict) else json.loads(case.outcome or "{}")
            facts = [
                f"analog {case.analog_id}",
                f"event_date {case.event_date}",
                f"sync_rate {case.sync_rate}",
                f"+20d {outcome.get('after_20_pct')}%",
            ]
            print(f"   {case.theme_rank}. [{case.theme_label}] {case.title}")
            print(f"      {'; '.join(facts)}")
            print(f"      {case.summary}")


if __name__ == "__main__":
    raise SystemExit(main())
