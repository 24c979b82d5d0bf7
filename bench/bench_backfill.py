"""A backfill of the daily_pipeline's assets (or a selection), launched as the UI does and executed by
the daemon, vs the bare loop over the same days.

Dagster side: `tests/e2e/harness.py`'s `Platform` (scratch Postgres for Dagster's storage and the
warehouse, a DAGSTER_HOME with the repository's dagster.yaml, the krx/llm pool limits set as in
production, dagster-webserver + dagster-daemon as subprocesses, the fake KRX and fake OpenAI as threads
of this process). The backfill of the selected assets (`--assets`, default every asset of the
daily_pipeline; `app_feed` = app_briefing + app_cases, one step) is launched over GraphQL like the UI
does; the wall time runs from the launch to the moment the backfill and all its runs are terminal
(polled every second). Bare side: `bench/bare_daily.py --start --end --chunk 25 --krx-chunk 250` (the
assets' backfill policies' batching: KRX assets 250 days, the others 25; same `--assets`) against the same
fakes, into its own scratch warehouse. Both warehouses start the same: empty, or, when market_analogs
is selected, seeded with tests/history.py's ~110 days of analog history before the first day (not
timed), so an empty `llm_cache`; the bench checks that both wrote the same rows in every table and
made the same number of KRX and LLM calls.

The fakes' latencies and the polite delay default small (KRX 0.1 s, LLM 0.25 s, delay 0) so the bench
takes minutes; the floor a real KRX imposes (2 calls a day x the polite delay) is printed separately.
Memory: the peak summed PSS of the whole platform tree (webserver, daemon, code servers, run and step
workers), sampled, and each role's peak VmHWM.

    python bench/bench_backfill.py                   # ~245 trading days ending at the latest final day
    python bench/bench_backfill.py --days 50 --skip-bare
    python bench/bench_backfill.py --days 2450 --assets market_data,market_indices   # ten years
    python bench/bench_backfill.py --days 21 --realistic   # a month, KRX 0.5 s + 1 s pause, LLM 5 s
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _common import (  # noqa: E402
    PYTHON,
    REPO,
    TreeMemorySampler,
    check,
    create_pg_database,
    drop_pg_database,
    fmt_mib,
    pg_url,
    print_table,
    run_measured,
    seed_analog_history,
    warehouse_counts,
)
from bare_daily import ORDER, selection  # noqa: E402
from bench_daily import REALISTIC  # noqa: E402

HARNESS = REPO / "tests" / "e2e" / "harness.py"
THEMES_PER_DAY = 5
TARGET_RATIO = 1.30  # against fast fakes (issue 15)
REALISTIC_TARGET_RATIO = 1.10  # issue 31: a year of every asset against realistic fakes
PLATFORM_MEMORY_TARGET_KIB = int(1.5 * 1024 * 1024)  # 1.5 GiB, issue 15 (ten-year backfill)
# The Dagster asset keys of each step of bare_daily.ORDER.
ASSET_KEYS = {name: [name] for name in ORDER} | {"app_feed": ["app_briefing", "app_cases"]}
REAL_KRX_DELAY = 1.0  # KRX resource default and production setting
RUN_QUERY = """query Run($id: ID!) {
  runOrError(runId: $id) {
    ... on Run {
      runId status creationTime startTime endTime
      tags { key value }
      stepStats { stepKey status startTime endTime }
    }
  }
}"""


def load_platform(wait_seconds: float) -> type:
    """`tests.e2e.harness.Platform`, waiting up to `wait_seconds` for another engineer to land it."""
    deadline = time.monotonic() + wait_seconds
    while not HARNESS.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{HARNESS} does not exist (waited {wait_seconds:.0f} s)")
        time.sleep(5)
    from tests.e2e.harness import Platform

    return Platform


def year_of_days(count: int) -> list[str]:
    """The last `count` trading days up to the latest final day."""
    from bench_daily import latest_final_day

    from adelie_assets.calendar import trading_days

    end = latest_final_day()
    # KRX trades ~245 days a year; two years of slack (a window of two years alone once gave 712
    # days for --days 2450).
    days = trading_days(date(max(2000, end.year - count // 240 - 2), 1, 1), end)
    if len(days) < count:
        raise SystemExit(f"--days {count}: only {len(days)} trading days up to {end} since {days[0]}")
    return [d.isoformat() for d in days[-count:]]


def set_latency(platform: object, krx_latency: float, llm_latency: float) -> None:
    platform.krx.reset()  # type: ignore[attr-defined]
    platform.llm.reset()  # type: ignore[attr-defined]  # (restores the constructor's latency: set after)
    platform.krx.latency = krx_latency  # type: ignore[attr-defined]
    platform.llm.latency = llm_latency  # type: ignore[attr-defined]


def run_bare(
    platform: object, keys: list[str], chunk: int, krx_chunk: int, names: list[str], seed: bool
) -> dict[str, object]:
    database = create_pg_database("adelie_bench_bare")
    try:
        if seed:
            seed_analog_history(pg_url(database), keys[0])
        env = {k: v for k, v in platform.env.items() if not k.startswith("DAGSTER_")}  # type: ignore[attr-defined]
        env["ADELIE_WAREHOUSE_URL"] = pg_url(database)
        cmd = [
            PYTHON,
            str(HERE / "bare_daily.py"),
            "--start",
            keys[0],
            "--end",
            keys[-1],
            "--chunk",
            str(chunk),
            "--krx-chunk",
            str(krx_chunk),
            "--assets",
            ",".join(names),
        ]
        measured = run_measured(cmd, env, timeout=7200)
        check(measured, "bare loop")
        counts = warehouse_counts(pg_url(database))
    finally:
        drop_pg_database(database)
    return {"measured": measured, "counts": counts}


def run_dagster(platform: object, keys: list[str], timeout: float, names: list[str]) -> dict[str, object]:
    groups = platform.process_groups()  # type: ignore[attr-defined]
    idle = TreeMemorySampler(list(groups.values()))
    with idle:
        time.sleep(1.0)
    rss = platform.sample_rss(interval=0.5)  # type: ignore[attr-defined]
    with TreeMemorySampler(list(groups.values()), interval=0.25) as tree:
        launched = time.time()
        asset_keys = [key for name in names for key in ASSET_KEYS[name]]
        backfill_id = platform.launch_asset_backfill(asset_keys, keys)  # type: ignore[attr-defined]
        backfill = platform.wait_for_backfill(backfill_id, timeout=timeout)  # type: ignore[attr-defined]
        finished = time.time()
    report = rss.stop()
    runs = [platform.graphql(RUN_QUERY, {"id": r["runId"]})["runOrError"] for r in backfill["runs"]]  # type: ignore[attr-defined]
    counts = warehouse_counts(platform.warehouse_url)  # type: ignore[attr-defined]
    return {
        "backfill": backfill,
        "runs": sorted(runs, key=lambda r: r["creationTime"]),
        "launched": launched,
        "finished": finished,
        "idle_pss_kib": idle.peak_kib,
        "peak_pss_kib": tree.peak_kib,
        "peak_processes": tree.peak_processes,
        "rss_report": report,
        "counts": counts,
    }


def describe_runs(result: dict[str, object]) -> list[str]:
    """Where the Dagster wall time went: daemon pickup, queueing, run processes, steps."""
    runs = result["runs"]
    launched, finished = result["launched"], result["finished"]
    lines = []
    step_totals: dict[str, float] = {}
    run_seconds = 0.0
    for run in runs:
        run_seconds += run["endTime"] - run["startTime"]
        for step in run["stepStats"]:
            if step["startTime"] and step["endTime"]:
                kind = step["stepKey"] if step["stepKey"] in ORDER else "checks"
                step_totals[kind] = step_totals.get(kind, 0.0) + step["endTime"] - step["startTime"]
    by_start = sorted(runs, key=lambda r: r["startTime"])
    gaps = [b["startTime"] - a["endTime"] for a, b in zip(by_start, by_start[1:], strict=False)]
    first_start = by_start[0]["startTime"]
    last_end = max(r["endTime"] for r in runs)
    lines.append(f"  runs: {len(runs)} (statuses {sorted({r['status'] for r in runs})}), one at a time")
    lines.append(
        f"  launch -> first run created (backfill daemon pickup): {runs[0]['creationTime'] - launched:7.1f} s"
    )
    lines.append(f"  launch -> first run started:                          {first_start - launched:7.1f} s")
    lines.append(f"  first run start -> last run end:                      {last_end - first_start:7.1f} s")
    lines.append(f"  sum of run durations (start -> end):                  {run_seconds:7.1f} s")
    lines.append(f"  sum of gaps, a run's end -> the next run's start:     {sum(gaps):7.1f} s")
    for kind, seconds in sorted(step_totals.items()):
        lines.append(f"  sum of step durations, {kind:29} {seconds:7.1f} s")
    lines.append(f"  last run end -> backfill seen terminal:               {finished - last_end:7.1f} s")
    lines.append("  per run (run s = start -> end; steps = compute time of each step, checks summed):")
    for run in by_start:
        tags = {t["key"]: t["value"] for t in run["tags"]}
        span = "{}..{}".format(
            tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
        )
        steps = {s["stepKey"]: (s["endTime"] or 0) - (s["startTime"] or 0) for s in run["stepStats"]}
        main = " ".join(f"{k}={steps[k]:.1f}" for k in ORDER if k in steps)
        checks = sum(v for k, v in steps.items() if k not in ORDER)
        lines.append(
            f"    {span:24} run {run['endTime'] - run['startTime']:6.1f}  {main} checks={checks:.1f} "
            f"({len(steps)} steps)"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=245, help="trading days ending at the latest final day")
    parser.add_argument("--krx-latency", type=float, default=0.1)
    parser.add_argument("--llm-latency", type=float, default=0.25)
    parser.add_argument("--krx-delay", type=float, default=0.0, help="ADELIE_KRX_DELAY_SECONDS for both")
    parser.add_argument(
        "--realistic",
        action="store_true",
        help=f"the fakes at {REALISTIC} (overrides the three above), target {REALISTIC_TARGET_RATIO}x",
    )
    parser.add_argument("--bare-chunk", type=int, default=25, help="days per batch of the bare loop")
    parser.add_argument(
        "--bare-krx-chunk", type=int, default=250, help="days per batch of the bare loop's KRX assets"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the backfill")
    parser.add_argument("--wait-for-harness", type=float, default=0, help="seconds to poll for the harness")
    parser.add_argument(
        "--assets", default=None, help="comma-separated selection (default: every asset of daily_pipeline)"
    )
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--skip-dagster", action="store_true")
    args = parser.parse_args(argv)
    target = TARGET_RATIO
    if args.realistic:
        vars(args).update(REALISTIC)
        target = REALISTIC_TARGET_RATIO

    Platform = load_platform(args.wait_for_harness)
    keys = year_of_days(args.days)
    n = len(keys)
    names = selection(args.assets)
    seed = "market_analogs" in names
    print(
        f"bench_backfill: {n} trading days {keys[0]}..{keys[-1]}, assets {','.join(names)}"
        f"{' (analog history seeded)' if seed else ''}, fake KRX {args.krx_latency} s/call, "
        f"fake LLM {args.llm_latency} s/call, polite delay {args.krx_delay} s; "
        "load average "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )
    started = time.monotonic()
    with Platform(krx_delay_seconds=args.krx_delay) as platform:
        print(f"platform up in {time.monotonic() - started:.0f} s ({platform.url})", flush=True)
        if seed:
            seed_analog_history(platform.warehouse_url, keys[0])
        bare = dagster = None
        calls: dict[str, tuple[int, int]] = {}
        if not args.skip_bare:
            set_latency(platform, args.krx_latency, args.llm_latency)
            print(f"  bare loop starts; load average {os.getloadavg()[0]:.2f}", flush=True)
            bare = run_bare(platform, keys, args.bare_chunk, args.bare_krx_chunk, names, seed)
            calls["bare"] = (platform.krx.data_request_count, platform.llm.completion_count)
            print(f"  bare loop: {bare['measured'].wall:.1f} s", flush=True)
        if not args.skip_dagster:
            set_latency(platform, args.krx_latency, args.llm_latency)
            print(f"  dagster backfill starts; load average {os.getloadavg()[0]:.2f}", flush=True)
            dagster = run_dagster(platform, keys, args.timeout, names)
            calls["dagster"] = (platform.krx.data_request_count, platform.llm.completion_count)
            print(f"  dagster backfill: {dagster['finished'] - dagster['launched']:.1f} s", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")

    chunks = -(-n // args.bare_krx_chunk)  # market_indices: one call per index and batch
    expected_calls = (
        2 * n * ("market_data" in names) + 2 * chunks * ("market_indices" in names),
        THEMES_PER_DAY * n * ("historical_cases" in names),
    )
    for name, result in (("bare", bare), ("dagster", dagster)):
        if result is None:
            continue
        print(f"{name}: rows {result['counts']}, KRX and LLM calls {calls[name]}")
        if calls[name] != expected_calls:
            print(f"WARNING: {name} made {calls[name]} KRX and LLM calls, expected {expected_calls}")
    if bare and dagster and bare["counts"] != dagster["counts"]:
        print(f"WARNING: the two sides wrote different rows: {bare['counts']} vs {dagster['counts']}")

    rows = []
    if bare:
        m = bare["measured"]
        rows.append(
            ["bare loop", f"{m.wall:.1f} s", f"{n / (m.wall / 60):.1f}", fmt_mib(m.tree_peak_kib), "-"]
        )
    if dagster:
        wall = dagster["finished"] - dagster["launched"]
        hwm = dagster["rss_report"].peak_by_role()
        roles = ", ".join(f"{role} {fmt_mib(kib)}" for role, kib in sorted(hwm.items()))
        rows.append(
            [
                "dagster backfill",
                f"{wall:.1f} s",
                f"{n / (wall / 60):.1f}",
                f"{fmt_mib(dagster['peak_pss_kib'])} (idle platform {fmt_mib(dagster['idle_pss_kib'])}, "
                f"up to {dagster['peak_processes']} processes)",
                roles,
            ]
        )
    print()
    print_table(["", "wall", "partitions/min", "peak memory (PSS of the tree)", "peak VmHWM by role"], rows)
    if bare and dagster:
        ratio = (dagster["finished"] - dagster["launched"]) / bare["measured"].wall
        verdict = "MET" if ratio <= target else "MISSED"
        print(f"\nratio dagster/bare: {ratio:.2f}x (target <= {target}x: {verdict})")
    if dagster:
        peak = dagster["peak_pss_kib"]
        verdict = "MET" if peak <= PLATFORM_MEMORY_TARGET_KIB else "MISSED"
        print(f"peak platform memory (PSS of the tree): {fmt_mib(peak)} (target <= 1536 MiB: {verdict})")
    floor = 2 * n * REAL_KRX_DELAY
    print(
        f"floor of a real KRX at the default {REAL_KRX_DELAY:g} s polite delay: 2 calls/day x {n} days x "
        f"{REAL_KRX_DELAY:g} s = {floor:.0f} s ({floor / 60:.1f} min, "
        f"{n / (floor / 60):.1f} partitions/min), "
        "before any KRX latency; neither side can beat it"
    )
    if dagster:
        print("\ndagster timeline:")
        for line in describe_runs(dagster):
            print(line)
        for line in dagster["rss_report"].lines():
            print("  " + line)
    if bare:
        print("\nbare loop phases:", bare["measured"].stdout.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
