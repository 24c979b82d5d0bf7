"""Seconds per trading day of publishing the app feed (`publish_trading_day`: read the warehouse, build
the feed, one transaction into the app's five tables), for a range of days published once (fresh) and
then re-published (every row updated in place), into the app's PostgreSQL (tables from the app's
migrations, with UNIQUE (title, event_year)) and into a SQLite warehouse (app_* tables).

Upstream rows come from tests/app/upstream.py (the contract's tables, written directly): the time is
the feed's own, not the upstream assets'.

    python bench/bench_app_feed.py              # --days 245 --backends postgres,sqlite
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import create_pg_database, drop_pg_database, print_table, scratch_warehouse, workdir  # noqa: E402

from adelie_assets.calendar import trading_days  # noqa: E402
from adelie_assets.defs.app.feed import publish_trading_day  # noqa: E402
from adelie_assets.resources import app_database as app_database_module  # noqa: E402
from adelie_assets.resources import warehouse as warehouse_module  # noqa: E402
from adelie_assets.resources.app_database import AppDatabase  # noqa: E402
from tests.app.app_schema import app_migrations, apply  # noqa: E402
from tests.app.upstream import upstream_day, write_upstream  # noqa: E402


def _publish_all(warehouse, app: AppDatabase, days: list[date]) -> float:  # noqa: ANN001
    started = time.perf_counter()
    for day in days:
        publish_trading_day(warehouse, app, day)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=245)
    parser.add_argument("--backends", default="postgres,sqlite")
    args = parser.parse_args()
    days = trading_days(date(2025, 1, 2), date(2026, 11, 27))[-args.days :]
    rows = []
    with workdir("bench_app_feed") as tmp:
        for backend in args.backends.split(","):
            with scratch_warehouse(backend, tmp) as warehouse_url:
                warehouse = None
                for day in days:
                    warehouse = write_upstream(warehouse_url, upstream_day(day))
                app_name = None
                if backend == "postgres":
                    app_name = create_pg_database("adelie_bench_app")
                    apply(f"host=127.0.0.1 port=5432 user=postgres dbname={app_name}", app_migrations(True))
                    app = AppDatabase(url=f"postgresql://postgres@127.0.0.1:5432/{app_name}")
                else:
                    app = AppDatabase()
                try:
                    fresh = _publish_all(warehouse, app, days)
                    again = _publish_all(warehouse, app, days)
                finally:
                    app_database_module.dispose_engines()
                    warehouse_module.dispose_engines()
                    if app_name:
                        drop_pg_database(app_name)
            target = "app database (Postgres)" if backend == "postgres" else "SQLite warehouse (app_*)"
            for label, seconds in (("fresh", fresh), ("re-publish", again)):
                rows.append([target, label, len(days), f"{seconds:.2f}", f"{1000 * seconds / len(days):.1f}"])
    print_table(["target", "pass", "days", "total s", "ms/day"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
