"""Rows per second of `Warehouse.replace_market_data` into Postgres and SQLite: one day, and a long range
in one call.

The frame is synthetic (vectorised numpy, built in seconds) but typed and shaped like `KRX.fetch_day`'s:
2,388 tickers a day (KOSPI + KOSDAQ), Korean names, nullable Int64 prices with NULL open/high/low for
halted tickers (~5 %), float change_pct, bool halted. Each measurement writes into a fresh, empty
scratch database (Postgres) or file (SQLite); the day figure is the median of `--runs` replaces of the
same day (delete + load). The range is one call over `--years` of trading days; when a backend's
range is capped (`--sqlite-max-days`, default 250, because SQLite's path builds a Python dict per
row), the figure is for the capped range and the full range is extrapolated linearly, as printed.

    python bench/bench_warehouse.py                       # day + 10-year range (~6 M rows), both backends
    python bench/bench_warehouse.py --years 1 --backends postgres
    python bench/bench_warehouse.py --profile             # cProfile of the Postgres range write
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import median, print_table, scratch_warehouse, workdir  # noqa: E402

from adelie_assets.calendar import trading_days  # noqa: E402
from adelie_assets.resources import warehouse as warehouse_module  # noqa: E402
from adelie_assets.resources.krx import COLUMNS  # noqa: E402
from adelie_assets.resources.warehouse import Warehouse  # noqa: E402

TICKERS_PER_DAY = 2_388
KOSPI_TICKERS = 950
TARGET_PG_ROWS_PER_S = 100_000


def synthetic_market_data(days: list[date], seed: int = 7) -> pd.DataFrame:
    """`len(days) * 2,388` rows typed like `KRX.fetch_day`'s output, built without Python loops per row."""
    rng = np.random.default_rng(seed)
    n_days, per_day = len(days), TICKERS_PER_DAY
    n = n_days * per_day
    tickers = np.array([f"{i:06d}" for i in range(per_day)], dtype=object)
    names = np.array([f"종목{i:04d}" for i in range(per_day)], dtype=object)
    markets = np.array(["KOSPI"] * KOSPI_TICKERS + ["KOSDAQ"] * (per_day - KOSPI_TICKERS), dtype=object)
    day_objects = np.array(days, dtype=object)

    close = rng.integers(1_000, 500_000, n)
    spread = (close * rng.uniform(0, 0.05, n)).astype(np.int64)
    volume = rng.integers(0, 5_000_000, n)
    halted = rng.random(n) < 0.05
    volume[halted] = 0
    price_mask = halted  # NULL open/high/low when halted, as parse_quotes does

    def nullable(values: np.ndarray, mask: np.ndarray | None = None) -> pd.arrays.IntegerArray:
        return pd.arrays.IntegerArray(values.astype(np.int64), np.zeros(n, bool) if mask is None else mask)

    frame = pd.DataFrame(
        {
            "trade_date": np.repeat(day_objects, per_day),
            "ticker": np.tile(tickers, n_days),
            "name": np.tile(names, n_days),
            "market": np.tile(markets, n_days),
            "open": nullable(close - spread // 2, price_mask),
            "high": nullable(close + spread, price_mask),
            "low": nullable(close - spread, price_mask),
            "close": nullable(close),
            "volume": nullable(volume),
            "trading_value": nullable(volume * close),
            "change_pct": np.round(rng.normal(0, 3, n), 2),
            "market_cap": nullable(close * rng.integers(1_000_000, 500_000_000, n)),
            "halted": halted,
        }
    )
    return frame[COLUMNS]


def timed_replace(url: str, days: list[date], frame: pd.DataFrame, profile: bool = False) -> float:
    warehouse = Warehouse(url=url)
    warehouse.engine()  # create the tables outside the measurement
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    written = warehouse.replace_market_data(days, frame)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    assert written == len(frame)
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        print(out.getvalue())
    return elapsed


def count_rows(url: str) -> int:
    warehouse = Warehouse(url=url)
    with warehouse.engine().connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM market_data").scalar_one())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="replaces of one day per backend")
    parser.add_argument("--years", type=float, default=10.0, help="length of the range written in one call")
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 27))
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--pg-max-days", type=int, default=0, help="cap the Postgres range (0: no cap)")
    parser.add_argument("--sqlite-max-days", type=int, default=250, help="cap the SQLite range (0: no cap)")
    parser.add_argument("--profile", action="store_true", help="cProfile the Postgres range write")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    start = date(args.end.year - int(args.years), args.end.month, args.end.day)
    if args.years != int(args.years):
        start = date.fromordinal(args.end.toordinal() - int(args.years * 365.25))
    all_days = trading_days(start, args.end)
    print(
        f"bench_warehouse: {TICKERS_PER_DAY:,} rows/day; range {all_days[0]}..{all_days[-1]} = "
        f"{len(all_days):,} trading days = {len(all_days) * TICKERS_PER_DAY:,} rows; "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    rows: list[list[object]] = []
    verdict = None
    with workdir("bench_warehouse") as wd:
        one_day = synthetic_market_data([args.end])
        for backend in backends:
            with scratch_warehouse(backend, wd) as url:
                seconds = [timed_replace(url, [args.end], one_day) for _ in range(args.runs)]
                assert count_rows(url) == TICKERS_PER_DAY
                warehouse_module.dispose_engines()
            day_s = median(seconds)
            rows.append(
                [
                    backend,
                    "1 day",
                    f"{TICKERS_PER_DAY:,}",
                    f"{day_s:.3f} s",
                    f"{TICKERS_PER_DAY / day_s:,.0f}",
                    "",
                ]
            )
            print(f"  {backend} day: median {day_s:.3f} s over {args.runs} replaces", flush=True)

        for backend in backends:
            cap = args.pg_max_days if backend == "postgres" else args.sqlite_max_days
            days = all_days[-cap:] if cap and cap < len(all_days) else all_days
            built = time.perf_counter()
            frame = synthetic_market_data(days)
            built = time.perf_counter() - built
            frame_mib = frame.memory_usage(deep=True).sum() / 2**20
            print(
                f"  {backend} range: built {len(frame):,} rows in {built:.1f} s ({frame_mib:,.0f} MiB deep)",
                flush=True,
            )
            with scratch_warehouse(backend, wd) as url:
                elapsed = timed_replace(url, days, frame, profile=args.profile and backend == "postgres")
                assert count_rows(url) == len(frame)
                warehouse_module.dispose_engines()
            rate = len(frame) / elapsed
            note = ""
            if len(days) < len(all_days):
                full = len(all_days) * TICKERS_PER_DAY
                note = f"capped at {len(days)} days; full range extrapolated: {full / rate:,.0f} s"
            rows.append(
                [
                    backend,
                    f"{len(days):,} days, 1 call",
                    f"{len(frame):,}",
                    f"{elapsed:.1f} s",
                    f"{rate:,.0f}",
                    note,
                ]
            )
            print(f"  {backend} range: {elapsed:.1f} s, {rate:,.0f} rows/s {note}", flush=True)
            if backend == "postgres":
                verdict = rate >= TARGET_PG_ROWS_PER_S
            del frame

    print()
    print_table(["backend", "write", "rows", "time", "rows/s", "note"], rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:,.0f} MiB")
    if verdict is not None:
        print(f"target: Postgres range >= {TARGET_PG_ROWS_PER_S:,} rows/s: {'MET' if verdict else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
