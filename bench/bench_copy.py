"""The binary COPY (now) vs the streamed CSV COPY it replaced (before), side by side.

Each measurement is a fresh process (`--side`) that builds the synthetic frame of `bench_warehouse.py`
for `--days` trading days, then writes it with `Warehouse.replace_market_data` into an empty scratch
Postgres database: `now` is the code as it is (one binary COPY, each 50,000-row slice encoded with
numpy by a thread into a pipe), `before` loads `warehouse_load.py` as of BEFORE (one CSV COPY, the
slices rendered by `DataFrame.to_csv` in that thread) from git and uses its `copy_into`.
The sides alternate `--runs` times; printed: medians of rows/s, of the writer's CPU (user+sys, all
threads), of its server backend's CPU, and each side's peak RSS above the frame (VmHWM after the
write minus RSS before it), which is what the write itself holds.
The 10-year figure is extrapolated linearly from the rows/s; run it for real with `--days 2452`
(~5.86 M rows, ~2 GB per process) on an idle machine.

    python bench/bench_copy.py --days 500 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, REPO, base_env, median, print_table, scratch_warehouse, workdir  # noqa: E402

TEN_YEARS_ROWS = 5_855_376
TARGET_ROWS_PER_S = 250_000
BEFORE = "0339708"  # the streamed CSV COPY (round three)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _patch_before() -> None:
    from adelie_assets.resources import warehouse

    path = "adelie_assets/resources/warehouse_load.py"
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{BEFORE}:{path}"], capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType("warehouse_load_before")
    exec(compile(source, f"{BEFORE}:{path}", "exec"), module.__dict__)
    warehouse.copy_into = module.copy_into


def _backend_cpu_seconds(warehouse) -> tuple[int, float]:
    """The pid and CPU seconds so far of the server process behind the pool's (only) connection."""
    import sqlalchemy as sa

    with warehouse.engine().connect() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    pid, server_before = _backend_cpu_seconds(warehouse)
    rss_before = _status_kib("VmRSS")
    cpu_before = time.process_time()
    started = time.perf_counter()
    written = warehouse.replace_market_data(days, frame)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    extra_kib = _status_kib("VmHWM") - rss_before
    pid_after, server_after = _backend_cpu_seconds(warehouse)
    assert written == len(frame) and pid_after == pid, "the write must use the one pooled connection"
    result = {"rows": len(frame), "seconds": elapsed, "cpu": cpu, "server_cpu": server_after - server_before}
    print(json.dumps({**result, "extra_kib": extra_kib}))


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
                print(
                    f"  {name}: {result['rows']:,} rows in {result['seconds']:.2f} s, "
                    f"CPU {result['cpu']:.2f} s, server CPU {result['server_cpu']:.2f} s",
                    flush=True,
                )
    rows = []
    rates = {}
    for name, found in results.items():
        rates[name] = median([r["rows"] / r["seconds"] for r in found])
        extra = median([r["extra_kib"] for r in found]) / 1024
        cpu = median([r["cpu"] for r in found])
        server = median([r["server_cpu"] for r in found])
        ten = TEN_YEARS_ROWS / rates[name]
        figures = [f"{rates[name]:,.0f}", f"{cpu:.2f} s", f"{server:.2f} s", f"{extra:,.0f} MiB"]
        rows.append([name, *figures, f"~{ten:,.0f} s"])
    print()
    headers = ["side", "rows/s (median)", "CPU", "server CPU", "peak RSS above the frame", "10 years extrap."]
    print_table(headers, rows)
    print(
        f"\nratio now/before (rows/s): {rates['now'] / rates['before']:.2f}x; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    met = "MET" if rates["now"] >= TARGET_ROWS_PER_S else "MISSED"
    print(f"target >= {TARGET_ROWS_PER_S:,} rows/s: {met} (this machine, this load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
