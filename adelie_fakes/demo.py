"""Offline demo: the whole daily pipeline for the last few trading days, with no credentials.

    python -m adelie_fakes.demo [--days 3] [--state-dir .adelie/demo]

Starts the fake KRX and the fake OpenAI server on 127.0.0.1, points the real pykrx and openai code
at them, materializes `market_data` and `historical_cases` for the last N final trading days into
a SQLite warehouse and Dagster's default SQLite instance under --state-dir (kept apart from real
data), prints a summary and the command that opens the UI on that instance.
Everything it writes is DEMO DATA: synthetic prices and machine-made cases.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from datetime import date, datetime
from pathlib import Path

from adelie_assets.calendar import KST, is_final, is_trading_day, previous_trading_day

BANNER = "DEMO DATA - synthetic KRX quotes from the fake KRX, cases from the fake LLM. Not market facts."


def last_final_trading_days(count: int, now: datetime) -> list[date]:
    """The `count` latest trading days whose data is final at `now`, oldest first."""
    day = now.astimezone(KST).date()
    if not (is_trading_day(day) and is_final(day, now)):
        day = previous_trading_day(day)
    days = [day]
    while len(days) < count:
        days.append(previous_trading_day(days[-1]))
    return sorted(days)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adelie_fakes.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3, help="How many recent trading days (default 3).")
    parser.add_argument(
        "--state-dir", default=".adelie/demo", help="Where the demo writes (default .adelie/demo)."
    )
    args = parser.parse_args(argv)
    if not 1 <= args.days <= 20:
        parser.error("--days must be between 1 and 20")

    from adelie_fakes.krx import FakeKrx
    from adelie_fakes.openai import FakeOpenAI

    state = Path(args.state_dir).resolve()
    dagster_home = state / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    days = last_final_trading_days(args.days, datetime.now(KST))
    print(f"== {BANNER}")
    print(f"== Trading days: {', '.join(map(str, days))}")

    with (
        FakeKrx(credentials=("demo-user", "demo-pass")) as krx,
        FakeOpenAI(api_key="sk-demo-not-a-real-key") as llm,
    ):
        for name in [n for n in os.environ if n.startswith("DAGSTER_PG_")]:
            del os.environ[name]  # the demo never touches a configured production Dagster storage
        os.environ.update(
            {
                "ADELIE_STATE_DIR": str(state),
                "DAGSTER_HOME": str(dagster_home),
                "KRX_ID": "demo-user",
                "KRX_PW": "demo-pass",
                "ADELIE_KRX_URL": krx.url,
                "ADELIE_KRX_DELAY_SECONDS": "0.2",
                "OPENAI_API_KEY": llm.api_key,
                "OPENAI_BASE_URL": llm.base_url,
                "ADELIE_WAREHOUSE_URL": f"sqlite:///{state / 'warehouse.sqlite'}",
            }
        )
        from dagster import DagsterInstance

        definitions = importlib.import_module("adelie_assets.definitions")
        job = definitions.defs.resolve_job_def("daily_pipeline")
        failed = []
        with DagsterInstance.get() as instance:
            for day in days:
                result = job.execute_in_process(
                    partition_key=day.isoformat(),
                    instance=instance,
                    tags={"adelie/demo": "true"},
                    # Step logs stay in the run (see the UI); the terminal gets the summary.
                    run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                    raise_on_error=False,
                )
                print(f"-- {day}: run {result.run_id} {'succeeded' if result.success else 'FAILED'}")
                if not result.success:
                    failed.append(day)

    _print_summary(days, state)
    print(
        "\nOpen the UI on this demo instance (lineage, partitions, metadata):\n"
        f"  DAGSTER_HOME={dagster_home} ADELIE_STATE_DIR={state} .venv/bin/dagster dev -w workspace.yaml\n"
        "  then browse http://127.0.0.1:3000 -> Assets -> View lineage  (or: make demo-ui)"
    )
    if failed:
        print(f"Demo runs failed for {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    return 0


def _print_summary(days: list[date], state: Path) -> None:
    from adelie_assets.resources.warehouse import Warehouse

    warehouse = Warehouse(url=f"sqlite:///{state / 'warehouse.sqlite'}")
    market = warehouse.read_market_data(days)
    cases = warehouse.read_historical_cases(days)
    print(f"\n== Summary ({BANNER})")
    print(f"   warehouse: {warehouse.describe()}")
    for day in days:
        rows = market[market["trade_date"] == day]
        by_market = rows["market"].value_counts().to_dict()
        day_cases = cases[cases["trade_date"] == day]
        print(
            f"\n{day}: {len(rows)} market_data rows (KOSPI {by_market.get('KOSPI', 0)}, "
            f"KOSDAQ {by_market.get('KOSDAQ', 0)}), {len(day_cases)} themes"
        )
        for case in day_cases.itertuples():
            tickers = ", ".join(case.related_tickers)
            print(f"   {case.theme_rank}. [{case.theme}] {case.title} ({case.event_year}; {tickers})")


if __name__ == "__main__":
    raise SystemExit(main())
