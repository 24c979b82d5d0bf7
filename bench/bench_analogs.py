"""One day's analog search over ten years of stored features: wall time and peak memory, SQLite and
Postgres, reading from the warehouse included.

The history is synthetic feature blocks (what `analog_features` stores): `--years` of trading days x
`--tickers` tickers (2,400 by default: KOSPI + KOSDAQ), random-walk closes, plus the two indices.
They are written once per backend (timed separately); then a fresh process per run does what
`market_analogs` does for a day: read every block up to the day, build the histories, standardise,
and find k=3 analogs (with outcomes and paths) for `--subjects` stocks and both indices. The figure is
that process's search wall time (after imports) and its peak RSS (ru_maxrss, imports included).

    python bench/bench_analogs.py                   # 10 years, 2,400 tickers, 15 subjects, both backends
    python bench/bench_analogs.py --years 2 --backends sqlite --runs 1
    python bench/bench_analogs.py --chunk 25        # a 25-day backfill chunk: one read, 25 searches
    python bench/bench_analogs.py --since 2000-01-04 --tickers 2500 --backends postgres   # ~16 M setups
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import PYTHON, base_env, median, print_table, scratch_warehouse, workdir  # noqa: E402

from adelie_assets.calendar import trading_days  # noqa: E402
from adelie_assets.defs.analogs.features import (  # noqa: E402
    ADJUSTMENT,
    COLUMNS,
    MARKETS,
    SIZE_TIER,
    FeatureBlock,
    size_tiers,
    ticker_code,
)

LAST_DAY = date(2026, 11, 27)
TARGET_SECONDS = 3.0  # issue 31: one day's search over the full history since 2000
TARGET_RSS_MIB = 1024


def history_days(years: float, since: date | None) -> list[date]:
    """The synthetic history's trading days up to LAST_DAY: from `since`, or the last `years`."""
    if since is not None:
        return trading_days(since, LAST_DAY)
    days = trading_days(date(LAST_DAY.year - int(np.ceil(years)), LAST_DAY.month, LAST_DAY.day), LAST_DAY)
    return days[-int(years * 245) :]


def synthetic_blocks(days: list[date], tickers: int, seed: int = 1) -> list[FeatureBlock]:
    rng = np.random.default_rng(seed)
    codes = np.sort(np.array([ticker_code(f"{i:06d}") for i in range(tickers)], dtype="<u8"))
    markets = (np.arange(tickers) % 2).astype(np.float32)
    close = rng.uniform(1_000, 200_000, tickers)
    shares = np.exp(rng.uniform(np.log(5e6), np.log(5e9), tickers))  # market caps over six decades
    index_close = np.array([2_500.0, 800.0])
    blocks = []
    for day in days:
        index_move = rng.normal(0, 1.0, 2)
        index_close = index_close * (1 + index_move / 100)
        moves = rng.normal(0, 3.0, tickers).clip(-29.9, 29.9)
        close = close * (1 + moves / 100)
        values = np.empty((tickers, len(COLUMNS)), dtype=np.float32)
        values[:, 0] = moves
        values[:, 1] = rng.normal(0, 7, tickers)
        values[:, 2] = rng.normal(0, 14, tickers)
        values[:, 3] = rng.normal(0, 0.6, tickers)
        values[:, 4] = index_move[markets.astype(int)]
        values[:, 5] = np.round(close)
        values[:, 6] = markets
        values[:, ADJUSTMENT] = 1.0  # no corporate action
        values[:, SIZE_TIER] = size_tiers(pd.Series(close * shares))
        blocks.append(FeatureBlock(day, "stock", codes, values))
        index_values = np.column_stack(
            [index_move, rng.normal(0, 2.5, 2), rng.normal(0, 5, 2), rng.normal(0, 0.3, 2),
             [np.nan, np.nan], np.round(index_close, 2), [0.0, 1.0], [1.0, 1.0], [np.nan, np.nan]]
        ).astype(np.float32)  # fmt: skip
        index_codes = np.array([ticker_code(m) for m in MARKETS], dtype="<u8")
        order = np.argsort(index_codes)
        blocks.append(FeatureBlock(day, "index", index_codes[order], index_values[order]))
    return blocks


def write(url: str, blocks: list[FeatureBlock]) -> float:
    from adelie_assets.defs.analogs.storage import analog_features_table, block_rows
    from adelie_assets.resources.warehouse import Warehouse

    engine = Warehouse(url=url).engine()
    started = time.perf_counter()
    for start in range(0, len(blocks), 250):
        with engine.begin() as conn:
            conn.execute(analog_features_table.insert(), block_rows(blocks[start : start + 250]))
    return time.perf_counter() - started


def child(url: str, subjects: int, chunk: int) -> None:
    """One day's search (or the last `chunk` days', one read for all as market_analogs does for a
    backfill chunk), as market_analogs does it; prints JSON figures."""
    from adelie_assets.defs.analogs.search import Candidates, Searcher
    from adelie_assets.defs.analogs.storage import load_histories
    from adelie_assets.resources.warehouse import Warehouse

    engine = Warehouse(url=url).engine()
    started = time.perf_counter()
    cpu_started = time.process_time()
    stocks, indices = load_histories(engine, LAST_DAY, date(1990, 1, 1))
    read_s = time.perf_counter() - started
    found = []
    days = stocks.calendar[-chunk:]
    shared = Candidates(stocks, "stock", days), Candidates(indices, "index", days)
    for day in days:
        searcher = Searcher(stocks, day, "stock", indices, shared[0])
        found += searcher.find_all([f"{i * 37:06d}" for i in range(subjects)])
        found += Searcher(indices, day, "index", candidates=shared[1]).find_all(MARKETS)
    total_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "read_s": read_s,
                "total_s": total_s,
                # CPU of this process only (Postgres' side of the read is not in it): load-independent.
                "cpu_s": time.process_time() - cpu_started,
                "vectors": int(stocks.codes.size),
                "analogs": sum(len(f.analogs) for f in found if f),
                "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--years", type=float, default=10)
    parser.add_argument(
        "--since", type=date.fromisoformat, default=None, help="first day (2000-01-04: the full history)"
    )
    parser.add_argument("--tickers", type=int, default=2_400)
    parser.add_argument("--subjects", type=int, default=15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--chunk", type=int, default=1, help="days searched after one read (25 = a chunk)")
    parser.add_argument(
        "--profile", action="store_true", help="one more run per backend under cProfile: where the time goes"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if not args.profile:
            child(args.child, args.subjects, args.chunk)
            return
        import cProfile
        import pstats

        with cProfile.Profile() as profile:
            child(args.child, args.subjects, args.chunk)
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(20)
        return
    started = time.perf_counter()
    blocks = synthetic_blocks(history_days(args.years, args.since), args.tickers)
    days = len(blocks) // 2
    vectors = days * args.tickers
    built = time.perf_counter() - started
    print(f"synthetic history: {days} days x {args.tickers} tickers = {vectors:,} vectors ({built:.1f} s)")
    rows = []
    verdicts: dict[str, tuple[float, float]] = {}
    with workdir("analogs") as tmp:
        for backend in args.backends.split(","):
            with scratch_warehouse(backend, tmp) as url:
                write_s = write(url, blocks)
                runs = []
                print(f"{backend}: history written in {write_s:.1f} s", flush=True)
                for _ in range(args.runs):
                    out = subprocess.run(
                        [PYTHON, __file__, "--child", url, "--subjects", str(args.subjects),
                         "--chunk", str(args.chunk)],
                        env=base_env(), capture_output=True, text=True, check=True,
                    )  # fmt: skip
                    runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                    print(f"  {backend} run: {runs[-1]}", flush=True)
                if args.profile:
                    out = subprocess.run(
                        [PYTHON, __file__, "--child", url, "--subjects", str(args.subjects),
                         "--chunk", str(args.chunk), "--profile"],
                        env=base_env(), capture_output=True, text=True, check=True,
                    )  # fmt: skip
                    print(f"  {backend} run under cProfile (slower): {out.stdout.strip()}\n{out.stderr}")
                verdicts[backend] = (
                    median([r["total_s"] for r in runs]),
                    max(r["rss_mib"] for r in runs),
                )
                rows.append(
                    [
                        backend,
                        f"{write_s:.1f} s",
                        f"{median([r['read_s'] for r in runs]):.2f} s",
                        f"{median([r['total_s'] for r in runs]):.2f} s",
                        f"{max(r['total_s'] for r in runs):.2f} s",
                        f"{median([r['cpu_s'] for r in runs]):.2f} s",
                        f"{max(r['rss_mib'] for r in runs):.0f} MiB",
                        runs[0]["analogs"],
                    ]
                )
    print(
        f"\n{args.chunk} day(s)' search after one read ({args.subjects} stocks + 2 indices a day, k=3), "
        f"median of {args.runs} fresh processes:"
    )
    print_table(
        ["backend", "write history", "read", "read+search", "worst", "CPU", "peak RSS", "analogs"], rows
    )
    print(f"load average: {os.getloadavg()[0]:.2f} (nproc {os.cpu_count()})")
    for backend, (total_s, rss_mib) in verdicts.items():
        met = total_s <= TARGET_SECONDS and rss_mib <= TARGET_RSS_MIB
        print(
            f"{backend}: median {total_s:.2f} s (target <= {TARGET_SECONDS:g} s), peak RSS {rss_mib:.0f} MiB "
            f"(target <= {TARGET_RSS_MIB} MiB): {'MET' if met else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
