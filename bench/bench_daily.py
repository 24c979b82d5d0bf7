"""One trading day end to end: a Dagster run of `daily_pipeline` as a whole process vs the bare script.

Dagster side: a fresh process `dagster job execute -m adelie_assets.definitions -j daily_pipeline`
with the partition as the `dagster/partition` tag, the job's in-process executor and a persistent
DAGSTER_HOME holding a copy of the repository's dagster.yaml (storage selectors -> SQLite, pools
with op granularity), or with `--instance postgres` of deploy/dagster.yaml (production: run, event
and schedule storage in a scratch Postgres database, and the image's DAGSTER_EVENT_BATCH_SIZE),
i.e. what the schedule's run worker does.
Bare side: `bench/bare_daily.py`.
Both run every asset of the job (market_data, market_indices, daily_themes, analog_features,
market_analogs, historical_cases, app_feed) against the same fake KRX and fake OpenAI (subprocesses,
fixed latency), the same polite delay (ADELIE_KRX_DELAY_SECONDS), each run on a fresh copy of one
warehouse seeded with the analogs' history before the day (tests/history.py; empty llm_cache, so
every LLM call is fresh). The Dagster side also records the assets' checks (the bare side runs the
guards but records nothing: the records are part of what the platform costs). Every run must write
the same rows in every table and make the same KRX and LLM calls.
Wall time counts from fork to exit: process start and imports included. Runs alternate bare/Dagster.

    python bench/bench_daily.py                 # 5 runs each + 1 warm-up, Postgres warehouse
    python bench/bench_daily.py --runs 7 --warehouse sqlite --krx-delay 0.5
    python bench/bench_daily.py --instance postgres   # Dagster's storage as in production
    python bench/bench_daily.py --instance postgres --realistic   # KRX 0.5 s + 1 s pause, LLM 5 s
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BIN,
    PYTHON,
    REPO,
    Measured,
    base_env,
    check,
    clone_warehouse,
    create_pg_database,
    drop_pg_database,
    fakes,
    fmt_mib,
    median,
    print_table,
    run_measured,
    seeded_template,
    warehouse_counts,
    workdir,
)
from bare_daily import MAX_CONCURRENT_CALLS  # noqa: E402

sys.path.insert(0, str(REPO))
from tests.e2e.harness import image_env  # noqa: E402

TARGET_RATIO = 1.10  # against fast fakes (issue 15)
# Issue 31: what users wait for, a KRX answer ~0.5 s after the 1 s polite pause, an LLM answer ~5 s.
REALISTIC = {"krx_latency": 0.5, "llm_latency": 5.0, "krx_delay": 1.0}
REALISTIC_TARGET_RATIO = 1.05


def latest_final_day() -> date:
    """The latest trading day whose data is final now (what the 08:00 schedule would target)."""
    from adelie_assets.calendar import KST, is_final, is_trading_day

    now = datetime.now(KST)
    day = now.date()
    while not (is_trading_day(day) and is_final(day, now)):
        day -= timedelta(days=1)
    return day


def dagster_command(day: str) -> list[str]:
    return [
        str(BIN / "dagster"),
        "job",
        "execute",
        "-m",
        "adelie_assets.definitions",
        "-j",
        "daily_pipeline",
        "--tags",
        json.dumps({"dagster/partition": day}),
    ]


def bare_command(day: str) -> list[str]:
    return [PYTHON, str(REPO / "bench" / "bare_daily.py"), day]


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def run_events(home: Path, seen: set[str], storage_db: str | None) -> list[tuple[str, str, str | None]]:
    """The event log of the run not seen yet: (type, timestamp, step) in order; SQLite keeps one file
    per run under `home`, Postgres (`storage_db`) one table."""
    if storage_db is None:
        new = [p for p in (home / "history" / "runs").glob("*.db") if p.name != "index.db"]
        new = [p for p in new if str(p) not in seen]
        seen.update(str(p) for p in new)
        if len(new) != 1:
            return []
        conn = sqlite3.connect(new[0])
        try:
            return conn.execute(
                "SELECT dagster_event_type, timestamp, step_key FROM event_logs ORDER BY id"
            ).fetchall()
        finally:
            conn.close()
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=storage_db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT run_id FROM runs ORDER BY create_timestamp")
            new = [r for (r,) in cur.fetchall() if r not in seen]
            seen.update(new)
            if len(new) != 1:
                return []
            cur.execute(
                "SELECT dagster_event_type, timestamp, step_key FROM event_logs "
                "WHERE run_id = %s ORDER BY id",
                (new[0],),
            )
            return [(kind, ts.isoformat(), step) for kind, ts, step in cur.fetchall()]
    finally:
        conn.close()


def dagster_phases(
    events: list[tuple[str, str, str | None]], launched: float, exited: float
) -> dict[str, float]:
    """Where a Dagster run's wall time went, from its event log."""
    if not events:
        return {}
    first = _ts(events[0][1])
    starts = {step: _ts(ts) for kind, ts, step in events if kind == "STEP_START"}
    ends = {step: _ts(ts) for kind, ts, step in events if kind in ("STEP_SUCCESS", "STEP_FAILURE")}
    run_end = next(_ts(ts) for kind, ts, _ in events if kind in ("PIPELINE_SUCCESS", "PIPELINE_FAILURE"))
    ordered = sorted(starts, key=starts.__getitem__)
    phases = {
        "launch->first event (process start, imports, load defs, create run)": first - launched,
        "first event->first step (run start, resources, log capture)": starts[ordered[0]] - first,
    }
    for step in ordered:
        phases[f"step {step}"] = ends[step] - starts[step]
    phases["between steps"] = sum(starts[b] - ends[a] for a, b in zip(ordered, ordered[1:], strict=False))
    phases["last step->run success"] = run_end - max(ends.values())
    phases["run success->process exit (teardown, interpreter exit)"] = exited - run_end
    return phases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs of each first")
    parser.add_argument("--day", default=None, help="partition key (default: latest final trading day)")
    parser.add_argument("--krx-latency", type=float, default=0.2, help="fake KRX seconds per data call")
    parser.add_argument("--llm-latency", type=float, default=0.5, help="fake OpenAI seconds per completion")
    parser.add_argument("--krx-delay", type=float, default=1.0, help="ADELIE_KRX_DELAY_SECONDS")
    parser.add_argument(
        "--realistic",
        action="store_true",
        help=f"the fakes at {REALISTIC} (overrides the three above), target {REALISTIC_TARGET_RATIO}x",
    )
    parser.add_argument("--warehouse", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument(
        "--instance",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help="Dagster's storage: dagster.yaml (SQLite) or deploy/dagster.yaml (Postgres, as in production)",
    )
    args = parser.parse_args(argv)
    target = TARGET_RATIO
    if args.realistic:
        vars(args).update(REALISTIC)
        target = REALISTIC_TARGET_RATIO
    day = args.day or latest_final_day().isoformat()

    print(
        f"bench_daily: partition {day}, fake KRX {args.krx_latency} s/call, "
        f"fake LLM {args.llm_latency} s/call, "
        f"polite delay {args.krx_delay} s, warehouse {args.warehouse}, Dagster storage {args.instance}, "
        f"{args.runs} runs each "
        f"(+{args.warmup} warm-up)",
        flush=True,
    )
    print(f"load average before: {os.getloadavg()[0]:.2f} (nproc {os.cpu_count()})", flush=True)
    results: dict[str, list[Measured]] = {"bare": [], "dagster": []}
    phases: dict[str, list[dict[str, float]]] = {"dagster": []}
    bare_phases: list[dict[str, float]] = []
    reference: dict[str, object] = {}
    with (
        ExitStack() as stack,
        fakes(args.krx_latency, args.llm_latency) as fake,
        workdir("bench_daily") as wd,
        seeded_template(args.warehouse, wd, day) as template,
    ):
        home = wd / "dagster_home"
        home.mkdir()
        storage_db = create_pg_database() if args.instance == "postgres" else None
        stack.callback(lambda: storage_db and drop_pg_database(storage_db))
        instance_yaml = REPO / ("deploy/dagster.yaml" if storage_db else "dagster.yaml")
        shutil.copy(instance_yaml, home / "dagster.yaml")
        storage_env = (
            {
                "DAGSTER_PG_HOST": "127.0.0.1",
                "DAGSTER_PG_PORT": "5432",
                "DAGSTER_PG_USER": "postgres",
                "DAGSTER_PG_PASSWORD": "",
                "DAGSTER_PG_DB": storage_db,
                # The production image's, as the Postgres instance is production's.
                "DAGSTER_EVENT_BATCH_SIZE": image_env("DAGSTER_EVENT_BATCH_SIZE"),
            }
            if storage_db
            else {}
        )
        seen: set[str] = set()
        for i in range(args.warmup + args.runs):
            order = ("bare", "dagster") if i % 2 == 0 else ("dagster", "bare")
            for kind in order:
                fake.reset()
                with clone_warehouse(args.warehouse, wd, template) as url:
                    env = base_env(
                        **fake.env(args.krx_delay),
                        ADELIE_WAREHOUSE_URL=url,
                        ADELIE_STATE_DIR=str(wd / "state"),
                        DAGSTER_HOME=str(home),
                        **storage_env,
                    )
                    cmd = bare_command(day) if kind == "bare" else dagster_command(day)
                    launched = datetime.now(UTC).timestamp()
                    measured = run_measured(cmd, env)
                    check(measured, kind)
                    counts = warehouse_counts(url)
                llm_state = fake.openai_state()
                work = {
                    "rows": counts,
                    "krx_calls": fake.krx_stats()["data_request_count"],
                    "llm_calls": llm_state["completion_count"],
                    "prompt_tokens": llm_state.get("prompt_tokens"),
                }
                reference = reference or work
                # 2 quote calls + 2 index calls, 5 cases: and exactly what the first run did.
                if work != reference or counts.get("historical_cases") != 5 or work["llm_calls"] != 5:
                    raise SystemExit(f"{kind} did different work: {work} vs {reference}")
                exited = launched + measured.wall
                measured_phases = (
                    dagster_phases(run_events(home, seen, storage_db), launched, exited)
                    if kind == "dagster"
                    else {}
                )
                label = "warm-up" if i < args.warmup else f"run {i - args.warmup + 1}"
                print(
                    f"  {label:8} {kind:8} {measured.wall:6.2f} s  maxrss {fmt_mib(measured.maxrss_kib)}  "
                    f"tree peak {fmt_mib(measured.tree_peak_kib)}",
                    flush=True,
                )
                if i >= args.warmup:
                    results[kind].append(measured)
                    if kind == "dagster":
                        phases["dagster"].append(measured_phases)
                    else:
                        bare_phases.append(json.loads(measured.stdout.strip().splitlines()[-1]))

    print(f"load average after: {os.getloadavg()[0]:.2f} (nproc {os.cpu_count()})")
    bare = median([m.wall for m in results["bare"]])
    dag = median([m.wall for m in results["dagster"]])
    waves = -(-5 // MAX_CONCURRENT_CALLS)
    # 4 KRX calls (2 markets' quotes, 2 indices) with the polite delay between consecutive calls.
    floor = 4 * args.krx_latency + 3 * args.krx_delay + waves * args.llm_latency
    print()
    print_table(
        ["", "median wall", "min", "max", "median CPU", "peak RSS (ru_maxrss)", "peak PSS (process tree)"],
        [
            [
                kind,
                f"{median([m.wall for m in ms]):.2f} s",
                f"{min(m.wall for m in ms):.2f} s",
                f"{max(m.wall for m in ms):.2f} s",
                f"{median([m.cpu for m in ms]):.2f} s",
                fmt_mib(max(m.maxrss_kib for m in ms)),
                fmt_mib(max(m.tree_peak_kib for m in ms)),
            ]
            for kind, ms in results.items()
        ],
    )
    cpu_ratio = median([m.cpu for m in results["dagster"]]) / median([m.cpu for m in results["bare"]])
    min_ratio = min(m.wall for m in results["dagster"]) / min(m.wall for m in results["bare"])
    print(
        f"\nratio dagster/bare (medians): {dag / bare:.2f}x  (target <= {target}x: "
        f"{'MET' if dag / bare <= target else 'MISSED'}); "
        f"Dagster overhead {dag - bare:+.2f} s per run;\nratio of the fastest runs {min_ratio:.2f}x "
        f"(least disturbed by other load); CPU ratio {cpu_ratio:.2f}x"
    )
    print(
        f"sleep floor of the fakes: {floor:.2f} s (4 KRX calls x {args.krx_latency} s + <= 3 polite delays "
        f"{args.krx_delay} s + {waves} LLM wave(s) x {args.llm_latency} s, 5 themes on "
        f"{MAX_CONCURRENT_CALLS} threads)"
    )
    print(f"work of each run: {reference}")
    if bare_phases:
        llm_keys = ("input_tokens", "output_tokens", "estimated_cost_usd")
        bare_median = {
            k: round(median([p[k] for p in bare_phases]), 2) for k in bare_phases[0] if k not in llm_keys
        }
        print("\nbare script phases (median s):", bare_median)
        if "input_tokens" in bare_phases[-1]:
            tokens = {k: bare_phases[-1][k] for k in llm_keys}
            print(
                f"LLM per trading day (historical_cases' metadata, fake OpenAI's usage counts): "
                f"{tokens['input_tokens']:,} input + {tokens['output_tokens']:,} output tokens, "
                f"estimated USD {tokens['estimated_cost_usd']:.6f} at the default model's list price"
            )
    good = [p for p in phases["dagster"] if p]
    if good:
        print("dagster run phases (median s, from the run's event log):")
        for key in good[0]:
            print(f"  {median([p.get(key, 0.0) for p in good]):6.2f}  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
