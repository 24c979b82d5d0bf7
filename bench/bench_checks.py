"""The check steps of a 25-day backfill chunk: one `@multi_asset_check` per asset (now) vs one step
per check (before), side by side in one process.

A scratch Postgres warehouse (`--warehouse sqlite` for a file) gets `--days` days of the synthetic
market_data of `bench_warehouse.py` (2,388 rows a day; the historical_cases table stays empty, so the
cases checks read the same rows but fail), then the check-only job of both assets (what the UI's
"Execute checks" or a backfill chunk runs after the assets) is executed for the range, alternating
`now` and `before`, `--runs` times each. `before` is the same declarations built one step per check
(a step named `<asset>_<check>` each), i.e. the 10 steps of 1dbe9b2, each reading its own rows; it differs
from 1dbe9b2 only in `row_count_stable` taking the previous day's count from the rows it read (1
count query per step instead of 25). Printed: median wall time of the job, of the check steps
(STEP_START -> STEP_SUCCESS/FAILURE, summed), their ratio, and that both record 10 x days results.

    python bench/bench_checks.py --days 25 --runs 5
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median, print_table, scratch_warehouse, workdir  # noqa: E402
from bench_warehouse import synthetic_market_data  # noqa: E402
from dagster import (  # noqa: E402
    AssetSelection,
    DagsterInstance,
    Definitions,
    PreviewWarning,
    define_asset_job,
)

from adelie_assets.calendar import trading_days  # noqa: E402
from adelie_assets.defs.cases import checks as cases_checks  # noqa: E402
from adelie_assets.defs.cases.assets import historical_cases  # noqa: E402
from adelie_assets.defs.market import checks as market_checks  # noqa: E402
from adelie_assets.defs.market.assets import market_data  # noqa: E402
from adelie_assets.lib.partitioned_checks import DailyCheck, _multi_check, asset_checks  # noqa: E402
from adelie_assets.resources.warehouse import Warehouse, dispose_engines  # noqa: E402

warnings.filterwarnings("ignore", category=PreviewWarning)

DECLARED: list[DailyCheck] = [
    v for module in (market_checks, cases_checks) for v in vars(module).values() if isinstance(v, DailyCheck)
]


def job_for(checks: list, warehouse: Warehouse):
    job = define_asset_job(
        "checks_only", selection=AssetSelection.checks_for_assets(market_data, historical_cases)
    )
    return Definitions(
        assets=[market_data, historical_cases],
        asset_checks=checks,
        jobs=[job],
        resources={"warehouse": warehouse, "krx": object(), "llm": object()},
    ).resolve_job_def("checks_only")


def run(job, days: list[date]) -> dict[str, float]:
    tags = {
        "dagster/asset_partition_range_start": days[0].isoformat(),
        "dagster/asset_partition_range_end": days[-1].isoformat(),
    }
    instance = DagsterInstance.ephemeral()
    started = time.perf_counter()
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    result = job.execute_in_process(run_config=quiet, tags=tags, instance=instance, raise_on_error=False)
    wall = time.perf_counter() - started
    starts: dict[str, float] = {}
    steps = 0.0
    evaluations = 0
    for record in instance.all_logs(result.run_id):
        event = record.dagster_event
        if event is None:
            continue
        kind = event.event_type_value
        if kind == "STEP_START":
            starts[event.step_key] = record.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
            steps += record.timestamp - starts[event.step_key]
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluations += 1
    return {"wall": wall, "steps": steps, "count": len(starts), "evaluations": evaluations}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=25)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warehouse", choices=("postgres", "sqlite"), default="postgres")
    args = parser.parse_args(argv)
    days = trading_days(date(2026, 1, 2), date(2026, 11, 27))[-args.days :]
    print(
        f"bench_checks: {len(DECLARED)} checks, {args.days} days ({days[0]}..{days[-1]}), {args.warehouse}, "
        f"{args.runs} runs a side; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results: dict[str, list[dict[str, float]]] = {"before": [], "now": []}
    with workdir("bench_checks") as wd, scratch_warehouse(args.warehouse, wd) as url:
        warehouse = Warehouse(url=url)
        warehouse.replace_market_data(days, synthetic_market_data(days))
        jobs = {
            "now": job_for(asset_checks(DECLARED), warehouse),
            "before": job_for(
                [_multi_check(f"{d.asset.key.path[-1]}_{d.name}", [d]) for d in DECLARED], warehouse
            ),
        }
        run(jobs["now"], days[:1])  # warm-up: imports, first connection
        for n in range(args.runs):
            for name in ("before", "now") if n % 2 == 0 else ("now", "before"):
                found = run(jobs[name], days)
                assert found["evaluations"] == len(DECLARED) * len(days), found
                results[name].append(found)
                print(f"  {name}: {found['wall']:.2f} s, {found['count']:.0f} steps", flush=True)
        dispose_engines()
    rows = []
    for name, found in results.items():
        rows.append(
            [
                name,
                f"{found[0]['count']:.0f}",
                f"{median([r['wall'] for r in found]):.2f} s",
                f"{median([r['steps'] for r in found]):.2f} s",
            ]
        )
    print()
    print_table(["side", "check steps", "job wall (median)", "check steps summed (median)"], rows)
    ratio = median([r["wall"] for r in results["now"]]) / median([r["wall"] for r in results["before"]])
    steps = median([r["steps"] for r in results["now"]]) / median([r["steps"] for r in results["before"]])
    print(f"\nratio now/before: job {ratio:.2f}x, check steps {steps:.2f}x; load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
