"""A day's themes through `historical_cases` with a slow fake LLM: the calls must overlap.

Materializes `historical_cases` for one day in-process (`dagster.materialize`, ephemeral instance)
against the fake OpenAI started through its CLI with `--latency` (default 1 s per completion), on a
fresh SQLite warehouse whose `market_data` for the day was written beforehand from the fake KRX (so
the LLM cache is empty and all 5 themes call the model). Prints, per `max_concurrent_calls`: one
call's wall time (measured, warm SDK), the sum of the calls if they ran one after another, the
asset's fan-out time (`llm_seconds` metadata), the whole materialization, and the most requests the
fake saw in flight at once. The first materialization is a warm-up (it imports the openai SDK).

    python bench/bench_llm_fanout.py [--latency 1.0] [--runs 3] [--concurrency 4,5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, fakes, median, print_table, scratch_warehouse, workdir  # noqa: E402

THEMES = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0, help="fake OpenAI seconds per completion")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--concurrency", default="default,4", help="max_concurrent_calls values; 'default' = the config's"
    )
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 11, 27))
    args = parser.parse_args(argv)
    levels = [None if x == "default" else int(x) for x in args.concurrency.split(",")]

    os.environ.setdefault("ADELIE_STATE_DIR", "/tmp/adelie_bench_llm_fanout_state")
    from dagster import DagsterInstance, materialize

    from adelie_assets.defs.cases.assets import HistoricalCasesConfig as historical_cases_config
    from adelie_assets.defs.cases.assets import historical_cases
    from adelie_assets.defs.cases.inputs import case_requests
    from adelie_assets.defs.cases.schema import HistoricalCase
    from adelie_assets.resources import warehouse as warehouse_module
    from adelie_assets.resources.krx import KRX
    from adelie_assets.resources.llm import LLM
    from adelie_assets.resources.warehouse import Warehouse

    print(
        f"bench_llm_fanout: {THEMES} themes of {args.day}, fake LLM latency {args.latency} s, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    rows: list[list[object]] = []
    with fakes(krx_latency=0.0, llm_latency=args.latency) as fake, workdir("bench_llm_fanout") as wd:
        krx = KRX(krx_id="demo-user", krx_pw="demo-pass", base_url=fake.krx_url, delay_seconds=0.0)
        llm = LLM(api_key=fake.api_key, base_url=fake.openai_base_url)
        market = krx.fetch_day(args.day)

        # The day's themes, analogs and indices as historical_cases reads them (synthetic analogs).
        sys.path.insert(0, str(REPO))
        from tests.case_inputs import write_case_upstream

        def upstream(url: str) -> Warehouse:
            warehouse = Warehouse(url=url)
            warehouse.replace_market_data([args.day], market)
            write_case_upstream(warehouse, args.day, market)
            return warehouse

        # One call, warm SDK: the unit the fan-out should cost.
        with scratch_warehouse("sqlite", wd) as url:
            messages = case_requests(upstream(url), [args.day], "ko", 1)[args.day][0].messages
            warehouse_module.dispose_engines()
        llm.parse(messages, HistoricalCase)
        singles = []
        for _ in range(3):
            started = time.perf_counter()
            llm.parse(messages, HistoricalCase)
            singles.append(time.perf_counter() - started)
        one_call = median(singles)

        default = historical_cases_config.model_fields["max_concurrent_calls"].default

        def materialize_once(concurrency: int | None) -> tuple[float, float, int, int]:
            config = {} if concurrency is None else {"max_concurrent_calls": concurrency}
            with scratch_warehouse("sqlite", wd) as url:
                warehouse = upstream(url)
                fake.reset()
                started = time.perf_counter()
                result = materialize(
                    [historical_cases],
                    partition_key=args.day.isoformat(),
                    resources={"llm": llm, "warehouse": warehouse},
                    instance=DagsterInstance.ephemeral(),
                    run_config={
                        "ops": {"historical_cases": {"config": config}},
                        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                    },
                )
                wall = time.perf_counter() - started
                warehouse_module.dispose_engines()
            assert result.success
            metadata = result.asset_materializations_for_node("historical_cases")[0].metadata
            state = fake.openai_state()
            return (
                wall,
                float(metadata["llm_seconds"].value),
                state["completion_count"],
                state["max_concurrent"],
            )

        materialize_once(levels[0])  # warm-up
        for concurrency in levels:
            measured = [materialize_once(concurrency) for _ in range(args.runs)]
            calls = {m[2] for m in measured}
            assert calls == {THEMES}, f"expected {THEMES} LLM calls per run, got {calls}"
            fanout = median([m[1] for m in measured])
            label = f"{default} (default)" if concurrency is None else str(concurrency)
            rows.append(
                [
                    label,
                    f"{one_call:.2f} s",
                    f"{THEMES * one_call:.2f} s",
                    f"{fanout:.2f} s",
                    f"{fanout / one_call:.2f}",
                    f"{median([m[0] for m in measured]):.2f} s",
                    max(m[3] for m in measured),
                ]
            )
            print(f"  max_concurrent_calls={label}: fan-out {fanout:.2f} s", flush=True)

    print()
    print_table(
        [
            "max_concurrent_calls",
            "one call",
            "sum of calls",
            "fan-out (llm_seconds)",
            "fan-out / one call",
            "whole materialize",
            "max in flight",
        ],
        rows,
    )
    print(
        f"\n{THEMES} themes on N threads take ceil({THEMES}/N) waves of one call: "
        f"N >= {THEMES} is needed for the wall time of one call.\n'whole materialize' adds Dagster's "
        "in-process run (ephemeral instance), reading market_data back and writing the cases."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
