"""What a stored Dagster event costs with Dagster's storage in Postgres: dagster-postgres as shipped
(a new connection for every storage call) vs `PooledPostgresStorage` (one kept connection per
storage, adelie_assets/instance/pooled_postgres.py), side by side in one process.

Each side is a DagsterInstance read from a dagster.yaml (as a run worker reads deploy/dagster.yaml)
over its own scratch Postgres database. The job is bench_checks.py's `now` side: the stand-in
`market_data` step of a `--days` backfill chunk (no KRX) that records its six checks per day from
the rows in memory, so the run stores `--days` materializations and 6 x `--days` check evaluations
(plus the run's own events). Sides alternate, `--runs` times each. Printed: the median run wall
time, the events stored, the connections opened during the run (SQLAlchemy `connect` events of
every engine in the process), and the ratio.

    python bench/bench_event_storage.py --days 25 --runs 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402
from _common import (  # noqa: E402
    create_pg_database,
    drop_pg_database,
    median,
    print_table,
    scratch_warehouse,
    workdir,
)
from bench_checks import now_job  # noqa: E402
from bench_warehouse import synthetic_market_data  # noqa: E402
from dagster import DagsterInstance  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from adelie_assets.calendar import trading_days  # noqa: E402
from adelie_assets.defs.market.checks import MARKET_DATA_CHECKS  # noqa: E402
from adelie_assets.resources.warehouse import Warehouse, dispose_engines  # noqa: E402

SIDES = {
    "dagster-postgres": {"postgres": None},
    "pooled": {
        "custom": {"module": "adelie_assets.instance.pooled_postgres", "class": "PooledPostgresStorage"}
    },
}
CONNECTS = [0]


@event.listens_for(Engine, "connect")
def _count(*_: object) -> None:
    CONNECTS[0] += 1


def instance_for(side: str, database: str, home: Path) -> DagsterInstance:
    db = {
        "postgres_db": {
            "hostname": "127.0.0.1",
            "port": 5432,
            "username": "postgres",
            "db_name": database,
            "scheme": "postgresql+psycopg2",
        }
    }
    kind, spec = next(iter(SIDES[side].items()))
    storage = {kind: db} if spec is None else {kind: {**spec, "config": db}}
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump({"storage": storage, "telemetry": {"enabled": False}}))
    return DagsterInstance.from_config(str(home))


def run(job, instance: DagsterInstance, days: list[date]) -> dict[str, float]:  # noqa: ANN001
    tags = {
        "dagster/asset_partition_range_start": days[0].isoformat(),
        "dagster/asset_partition_range_end": days[-1].isoformat(),
    }
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    before = CONNECTS[0]
    started = time.perf_counter()
    result = job.execute_in_process(run_config=quiet, tags=tags, instance=instance, raise_on_error=False)
    wall = time.perf_counter() - started
    connects = CONNECTS[0] - before
    assert result.success, result
    events = instance.get_records_for_run(result.run_id, limit=100_000).records
    evaluations = sum(1 for r in events if r.event_log_entry.dagster_event_type == "ASSET_CHECK_EVALUATION")
    return {"wall": wall, "events": len(events), "evaluations": evaluations, "connects": connects}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=25)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    days = trading_days(date(2026, 1, 2), date(2026, 11, 27))[-args.days :]
    print(
        f"bench_event_storage: market_data's {len(MARKET_DATA_CHECKS)} checks recorded by its step, "
        f"{args.days} days, {args.runs} runs a side; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    databases = {side: create_pg_database("adelie_bench_events") for side in SIDES}
    try:
        with workdir("bench_events") as wd, scratch_warehouse("postgres", wd) as url:
            warehouse = Warehouse(url=url)
            frame = synthetic_market_data(days)
            warehouse.replace_market_data(days, frame)
            job = now_job(frame, warehouse)
            with tempfile.TemporaryDirectory() as homes:
                instances = {side: instance_for(side, databases[side], Path(homes) / side) for side in SIDES}
                for instance in instances.values():
                    run(job, instance, days[:1])  # warm-up: imports, the tables' first queries
                order = list(SIDES)
                for n in range(args.runs):
                    for side in order if n % 2 == 0 else order[::-1]:
                        found = run(job, instances[side], days)
                        assert found["evaluations"] == len(MARKET_DATA_CHECKS) * len(days), found
                        results[side].append(found)
                        print(
                            f"  {side}: {found['wall']:.2f} s, {found['events']:.0f} events, "
                            f"{found['connects']:.0f} connections",
                            flush=True,
                        )
                for instance in instances.values():
                    instance.dispose()
            dispose_engines()
    finally:
        for database in databases.values():
            drop_pg_database(database)
    rows = []
    for side, found in results.items():
        wall = median([r["wall"] for r in found])
        events = found[0]["events"]
        rows.append(
            [
                side,
                f"{wall:.2f} s",
                f"{events:.0f}",
                f"{median([r['connects'] for r in found]):.0f}",
                f"{1000 * wall / events:.1f} ms",
            ]
        )
    print()
    print_table(["storage", "run wall (median)", "events", "connections", "per event"], rows)
    ratio = median([r["wall"] for r in results["pooled"]]) / median(
        [r["wall"] for r in results["dagster-postgres"]]
    )
    print(f"\nratio pooled / dagster-postgres: {ratio:.2f}x; load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
