"""The checks of a 25-day backfill chunk of market_data: recorded by the asset's own step from the rows
it has just written (now) vs a separate check step that reads them back (before), side by side in one
process.

A scratch Postgres warehouse (`--warehouse sqlite` for a file) holds `--days` days of the synthetic
market_data of `bench_warehouse.py` (2,388 rows a day), which are also kept in memory as the frames
the asset step wrote. Both sides are a job of one stand-in `market_data` step (no KRX: the write
is not timed) with the six declared checks of `MARKET_DATA_CHECKS`, run for the range, alternating,
`--runs` times each:
- `now`: the step evaluates the checks day by day on the in-memory rows (`evaluate` on a staged
  `CheckedDays`, as `market_data` does before each day's write through `lib/validate.py`) and yields
  them with its materialization;
- `before`: the step only materializes; one `@multi_asset_check` step (the design up to issue 15's
  round four) reads the days back from the warehouse (`stored_check_results`) and records them.
Printed: median wall time of the job and of its steps (STEP_START -> STEP_SUCCESS/FAILURE, summed),
the ratio, and that both record 6 x days results.

    python bench/bench_checks.py --days 25 --runs 5
"""

import argparse
import os
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
from _common import median, print_table, scratch_warehouse, workdir  # noqa: E402
from bench_warehouse import synthetic_market_data  # noqa: E402
from dagster import (  # noqa: E402
    AssetCheckExecutionContext,
    AssetExecutionContext,
    AssetSelection,
    AssetSpec,
    DagsterInstance,
    Definitions,
    MaterializeResult,
    PreviewWarning,
    define_asset_job,
    multi_asset,
    multi_asset_check,
)

from adelie_assets.calendar import trading_day_partitions, trading_days  # noqa: E402
from adelie_assets.defs.market.checks import MARKET_DATA_CHECKS, READ_MARKET_DATA  # noqa: E402
from adelie_assets.lib.partitioned_checks import (  # noqa: E402
    CheckedDays,
    check_results,
    check_specs,
    evaluate,
    merged,
    stored_check_results,
)
from adelie_assets.resources.warehouse import Warehouse, dispose_engines, market_data_table  # noqa: E402

warnings.filterwarnings("ignore", category=PreviewWarning)


def now_job(frame: pd.DataFrame, warehouse: Warehouse):  # noqa: ANN201
    @multi_asset(
        name="market_data",
        specs=[AssetSpec("market_data")],
        check_specs=check_specs(MARKET_DATA_CHECKS),
        can_subset=True,
        partitions_def=trading_day_partitions,
    )
    def market_data(context: AssetExecutionContext) -> Iterator:
        days = sorted(
            {d for d in frame["trade_date"]} & {date.fromisoformat(k) for k in context.partition_keys}
        )
        verdicts = [
            evaluate(
                MARKET_DATA_CHECKS,
                CheckedDays([day], warehouse, staged={READ_MARKET_DATA: frame[frame["trade_date"] == day]}),
                market_data_table.name,
            )
            for day in days
        ]
        yield MaterializeResult()
        yield from check_results(context, MARKET_DATA_CHECKS, merged(verdicts))

    return _job([market_data])


def before_job(warehouse: Warehouse):  # noqa: ANN201
    @multi_asset(name="market_data", specs=[AssetSpec("market_data")], partitions_def=trading_day_partitions)
    def market_data() -> Iterator:
        yield MaterializeResult()

    @multi_asset_check(name="market_data_checks", specs=[d.spec for d in MARKET_DATA_CHECKS], can_subset=True)
    def market_data_checks(context: AssetCheckExecutionContext) -> Iterator:
        yield from stored_check_results(context, MARKET_DATA_CHECKS, warehouse)  # type: ignore[arg-type]

    return _job([market_data], [market_data_checks])


def _job(assets: list, checks: list | None = None):  # noqa: ANN202
    job = define_asset_job("chunk", selection=AssetSelection.all(include_sources=False))
    return Definitions(assets=assets, asset_checks=checks or [], jobs=[job]).resolve_job_def("chunk")


def run(job, days: list[date]) -> dict[str, float]:  # noqa: ANN001
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
        f"bench_checks: {len(MARKET_DATA_CHECKS)} checks of market_data, {args.days} days "
        f"({days[0]}..{days[-1]}), {args.warehouse}, {args.runs} runs a side; "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results: dict[str, list[dict[str, float]]] = {"before": [], "now": []}
    with workdir("bench_checks") as wd, scratch_warehouse(args.warehouse, wd) as url:
        warehouse = Warehouse(url=url)
        frame = synthetic_market_data(days)
        warehouse.replace_market_data(days, frame)
        jobs = {"now": now_job(frame, warehouse), "before": before_job(warehouse)}
        run(jobs["now"], days[:1])  # warm-up: imports, first connection
        for n in range(args.runs):
            for name in ("before", "now") if n % 2 == 0 else ("now", "before"):
                found = run(jobs[name], days)
                assert found["evaluations"] == len(MARKET_DATA_CHECKS) * len(days), found
                results[name].append(found)
                print(f"  {name}: {found['wall']:.2f} s, {found['count']:.0f} steps", flush=True)
        dispose_engines()
    rows = [
        [
            name,
            f"{found[0]['count']:.0f}",
            f"{median([r['wall'] for r in found]):.2f} s",
            f"{median([r['steps'] for r in found]):.2f} s",
        ]
        for name, found in results.items()
    ]
    print()
    print_table(["side", "steps", "job wall (median)", "steps summed (median)"], rows)
    ratio = median([r["wall"] for r in results["now"]]) / median([r["wall"] for r in results["before"]])
    steps = median([r["steps"] for r in results["now"]]) / median([r["steps"] for r in results["before"]])
    print(f"\nratio now/before: job {ratio:.2f}x, steps {steps:.2f}x; load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
