"""The baseline: the work of `market_data` + `historical_cases` as a bare Python script, no Dagster run.

Same fakes, same resources (the project's `KRX`, `LLM` and `Warehouse` classes, built directly from
the same environment variables as `definitions.build_resources`), same rows: for each chunk of days,
fetch and replace each day's `market_data`, then select the themes, look the requests up in
`llm_cache`, generate the cases `max_concurrent_calls` at a time with the project's `generate_case`,
store the fresh answers and replace each day's `historical_cases`. `--chunk 25` batches days like the assets'
`BackfillPolicy.multi_run(max_partitions_per_run=25)`; the default (1) is a plain per-day loop.

    python bench/bare_daily.py 2026-11-27
    python bench/bare_daily.py --start 2025-11-27 --end 2026-11-27 --chunk 25

Prints one JSON line with the phase timings (seconds since the process started running Python).
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from datetime import date  # noqa: E402

import pandas as pd  # noqa: E402

from adelie_assets.calendar import parse_partition_key, trading_days  # noqa: E402
from adelie_assets.defs.cases.generate import (  # noqa: E402
    PROMPT_VERSION,
    CaseResult,
    generate_case,
    render_messages,
    request_hash,
)
from adelie_assets.defs.cases.themes import select_themes  # noqa: E402
from adelie_assets.resources.krx import KRX  # noqa: E402
from adelie_assets.resources.llm import DEFAULT_MODEL, LLM  # noqa: E402
from adelie_assets.resources.warehouse import Warehouse  # noqa: E402

T_IMPORTED = time.perf_counter()

# HistoricalCasesConfig's defaults (what the schedule's run uses), copied so that this script does not
# import the asset definitions; the benches call `check_config_defaults()` so a drift fails loudly.
CONFIG_DEFAULTS = {
    "theme_count": 5,
    "stocks_per_theme": 3,
    "min_trading_value_krw": 5_000_000_000,
    "max_attempts": 3,
    "max_concurrent_calls": 6,
}
THEME_COUNT = CONFIG_DEFAULTS["theme_count"]
STOCKS_PER_THEME = CONFIG_DEFAULTS["stocks_per_theme"]
MIN_TRADING_VALUE_KRW = CONFIG_DEFAULTS["min_trading_value_krw"]
MAX_ATTEMPTS = CONFIG_DEFAULTS["max_attempts"]
MAX_CONCURRENT_CALLS = CONFIG_DEFAULTS["max_concurrent_calls"]


def check_config_defaults() -> None:
    """Fail if the asset's config defaults moved away from this script's copy of them."""
    from adelie_assets.defs.cases.assets import HistoricalCasesConfig

    actual = {name: HistoricalCasesConfig.model_fields[name].default for name in CONFIG_DEFAULTS}
    if actual != CONFIG_DEFAULTS:
        raise SystemExit(
            f"bench/bare_daily.py CONFIG_DEFAULTS {CONFIG_DEFAULTS} != HistoricalCasesConfig {actual}"
        )


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def build() -> tuple[KRX, LLM, Warehouse]:
    krx = KRX(
        krx_id=_env("KRX_ID"),
        krx_pw=_env("KRX_PW"),
        base_url=_env("ADELIE_KRX_URL"),
        delay_seconds=float(os.environ.get("ADELIE_KRX_DELAY_SECONDS") or 1.0),
        timeout_seconds=float(os.environ.get("ADELIE_KRX_TIMEOUT_SECONDS") or 30.0),
    )
    llm = LLM(
        api_key=_env("OPENAI_API_KEY"),
        base_url=_env("OPENAI_BASE_URL"),
        model=_env("ADELIE_LLM_MODEL") or DEFAULT_MODEL,
    )
    return krx, llm, Warehouse(url=_env("ADELIE_WAREHOUSE_URL"))


def case_rows(results: list[CaseResult]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "trade_date": r.day,
                "theme_rank": r.theme.rank,
                "theme": r.theme.label,
                "theme_tickers": r.theme.tickers,
                "title": r.case.title,
                "event_year": r.case.event_year,
                "summary": r.case.summary,
                "narrative": r.case.narrative.model_dump(),
                "related_tickers": r.case.related_tickers,
                "sync_rate": r.case.sync_rate,
                "key_insight": r.case.key_insight,
                "glossary": [g.model_dump() for g in r.case.glossary],
                "model": r.model,
                "prompt_version": PROMPT_VERSION,
                "request_hash": r.request_hash,
                "input_tokens": r.input_tokens,
                "output_tokens": r.output_tokens,
            }
            for r in sorted(results, key=lambda r: (r.day, r.theme.rank))
        ]
    )


def run_chunk(krx: KRX, llm: LLM, warehouse: Warehouse, keys: list[str], phases: dict[str, float]) -> None:
    # market_data
    days = [parse_partition_key(key) for key in keys]
    frames: dict[date, pd.DataFrame] = {}
    for day in days:
        started = time.perf_counter()
        frames[day] = krx.fetch_day(day)
        phases["krx"] += time.perf_counter() - started
        started = time.perf_counter()
        warehouse.replace_market_data([day], frames[day])
        phases["write_market_data"] += time.perf_counter() - started

    # historical_cases
    started = time.perf_counter()
    themes = {
        day: select_themes(frames[day], THEME_COUNT, STOCKS_PER_THEME, MIN_TRADING_VALUE_KRW) for day in days
    }
    work = [(day, theme) for day in days for theme in themes[day]]
    hashes = {
        (day, theme.rank): request_hash(llm.model, PROMPT_VERSION, render_messages(theme, day))
        for day, theme in work
    }
    cache = warehouse.cached_llm_responses(hashes.values())
    phases["themes"] += time.perf_counter() - started
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_CALLS) as pool:
        results = list(
            pool.map(
                lambda item: generate_case(
                    llm,
                    item[0],
                    item[1],
                    MAX_ATTEMPTS,
                    (cache.get(hashes[(item[0], item[1].rank)]) or {}).get("response"),
                ),
                work,
            )
        )
    phases["llm"] += time.perf_counter() - started
    started = time.perf_counter()
    fresh = [r for r in results if not r.cached]
    warehouse.store_llm_responses(
        [
            {
                "request_hash": r.request_hash,
                "model": r.model,
                "prompt_version": PROMPT_VERSION,
                "response": r.case.model_dump(),
                "input_tokens": r.input_tokens,
                "output_tokens": r.output_tokens,
            }
            for r in fresh
        ]
    )
    for day in days:
        warehouse.replace_historical_cases([day], case_rows([r for r in results if r.day == day]))
    phases["write_cases"] += time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("days", nargs="*", help="partition keys (YYYY-MM-DD)")
    parser.add_argument("--start", type=date.fromisoformat)
    parser.add_argument("--end", type=date.fromisoformat)
    parser.add_argument("--chunk", type=int, default=1, help="days per batch (25 = the backfill policy)")
    args = parser.parse_args(argv)
    keys = list(args.days)
    if args.start and args.end:
        keys += [d.isoformat() for d in trading_days(args.start, args.end)]
    if not keys:
        parser.error("give partition keys or --start/--end")

    phases = dict.fromkeys(("krx", "write_market_data", "themes", "llm", "write_cases"), 0.0)
    krx, llm, warehouse = build()
    for i in range(0, len(keys), args.chunk):
        run_chunk(krx, llm, warehouse, keys[i : i + args.chunk], phases)
    done = time.perf_counter()
    report = {
        "days": len(keys),
        "imports": round(T_IMPORTED - T0, 3),
        "work": round(done - T_IMPORTED, 3),
        **{k: round(v, 3) for k, v in phases.items()},
    }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
