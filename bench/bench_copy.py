"""The streamed COPY (now) vs the slices copied one after the other (before), side by side.

Each measurement is a fresh process (`--side`) that builds the synthetic frame of `bench_warehouse.py`
for `--days` trading days, then writes it with `Warehouse.replace_market_data` into an empty scratch
Postgres database: `now` is the code as it is (one COPY fed by a rendering thread through a pipe),
`before` patches in the previous loop (render a 50,000-row slice, then `copy_expert` it, repeat).
The sides alternate `--runs` times; printed: medians of rows/s, their ratio, and each side's peak RSS
above the frame (VmHWM after the write minus RSS before it), which is what the write itself holds.
The 10-year figure is extrapolated linearly from the rows/s; run it for real with `--days 2452`
(~5.86 M rows, ~2 GB per process) on an idle machine.

    python bench/bench_copy.py --days 250 --runs 3
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, base_env, median, print_table, scratch_warehouse, workdir  # noqa: E402

TEN_YEARS_ROWS = 5_855_376
TARGET_ROWS_PER_S = 250_000


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _patch_before() -> None:
    from adelie_assets.resources import warehouse_load

    def sliced_copy(cursor, statement, frame) -> None:  # the loop as of 1dbe9b2
        for start in range(0, len(frame), warehouse_load.COPY_SLICE_ROWS):
            buffer = io.StringIO()
            frame.iloc[start : start + warehouse_load.COPY_SLICE_ROWS].to_csv(
                buffer, index=False, header=False
            )
            buffer.seek(0)
            cursor.copy_expert(statement, buffer)

    warehouse_load._streamed_copy = sliced_copy


def side(name: str, days_count: int, url: str) -> None:
    from datetime import date

    from bench_warehouse import synthetic_market_data

    from adelie_assets.calendar import trading_days
    from adelie_assets.resources.warehouse import Warehouse

    if name == "before":
        _patch_before()
    days = trading_days(date(2015, 1, 2), date(2026, 11, 27))[-days_count:]
    frame = synthetic_market_data(days)
    warehouse = Warehouse(url=url)
    warehouse.engine()
    rss_before = _status_kib("VmRSS")
    started = time.perf_counter()
    written = warehouse.replace_market_data(days, frame)
    elapsed = time.perf_counter() - started
    assert written == len(frame)
    print(
        json.dumps({"rows": len(frame), "seconds": elapsed, "extra_kib": _status_kib("VmHWM") - rss_before})
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--side", choices=("before", "now"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        side(args.side, args.days, args.url)
        return 0
    print(
        f"bench_copy: {args.days} days, {args.runs} runs a side; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results: dict[str, list[dict[str, float]]] = {"before": [], "now": []}
    with workdir("bench_copy") as wd:
        for run in range(args.runs):
            for name in ("before", "now") if run % 2 == 0 else ("now", "before"):
                with scratch_warehouse("postgres", wd) as url:
                    cmd = [PYTHON, __file__, "--side", name, "--days", str(args.days), "--url", url]
                    out = subprocess.run(cmd, env=base_env(), capture_output=True, text=True, check=True)
                    result = json.loads(out.stdout.strip().splitlines()[-1])
                results[name].append(result)
                print(f"  {name}: {result['rows']:,} rows in {result['seconds']:.2f} s", flush=True)
    rows = []
    rates = {}
    for name, found in results.items():
        rates[name] = median([r["rows"] / r["seconds"] for r in found])
        extra = median([r["extra_kib"] for r in found]) / 1024
        ten = TEN_YEARS_ROWS / rates[name]
        rows.append([name, f"{rates[name]:,.0f}", f"{extra:,.0f} MiB", f"~{ten:,.0f} s"])
    print()
    print_table(["side", "rows/s (median)", "peak RSS above the frame", "10 years extrapolated"], rows)
    print(
        f"\nratio now/before (rows/s): {rates['now'] / rates['before']:.2f}x; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    met = "MET" if rates["now"] >= TARGET_ROWS_PER_S else "MISSED"
    print(f"target >= {TARGET_ROWS_PER_S:,} rows/s: {met} (this machine, this load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
