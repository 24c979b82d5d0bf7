"""The baseline: the work of the daily_pipeline's assets as a bare Python script, no Dagster run.

Each asset's own body (the function under its `@multi_asset` decorator, i.e. the project's
code: `KRX.fetch_day` / `fetch_indices`, `Warehouse.replace_*` with the same guards, `select_themes`,
the feature blocks, the analog search, case generation, the app feed's build and publish) is called
directly with the same resources (built from the same environment variables as
`defs/resources.build_resources`) and its default run config, in the job's order, for each chunk of
days. No Dagster instance, run, event log or step machinery, and no check results: the guards run
(they are the blocking checks' verdicts on the new rows, part of every write), but the bodies are told
that no check is selected, so nothing else is evaluated or recorded. Same calls to the fakes, same
rows. `--chunk 25 --krx-chunk 250` batches days like the assets' backfill policies (the KRX assets
250 days a batch, each batch's days then 25 at a time for the other assets); the default (1) is a
plain per-day loop. `--assets` selects a subset (default: the daily_pipeline's).

    python bench/bare_daily.py 2026-11-27
    python bench/bare_daily.py --start 2025-11-27 --end 2026-11-27 --chunk 25 --krx-chunk 250
    python bench/bare_daily.py --start 2016-11-28 --end 2026-11-27 --chunk 25 --krx-chunk 250 \\
        --assets market_data,market_indices

Prints one JSON line: seconds per asset, imports and work, and the LLM's tokens and estimated USD.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import date  # noqa: E402
from typing import Any  # noqa: E402

from adelie_assets.calendar import trading_days  # noqa: E402
from adelie_assets.defs.analogs.assets import MarketAnalogsConfig, analog_features, market_analogs  # noqa: E402
from adelie_assets.defs.app.assets import app_feed  # noqa: E402
from adelie_assets.defs.cases.assets import HistoricalCasesConfig, historical_cases  # noqa: E402
from adelie_assets.defs.cases.daily_themes import DailyThemesConfig, daily_themes  # noqa: E402
from adelie_assets.defs.market.assets import market_data  # noqa: E402
from adelie_assets.defs.market.indices import market_indices  # noqa: E402
from adelie_assets.resources.app_database import AppDatabase  # noqa: E402
from adelie_assets.resources.krx import KRX  # noqa: E402
from adelie_assets.resources.llm import DEFAULT_MODEL, LLM  # noqa: E402
from adelie_assets.resources.warehouse import Warehouse  # noqa: E402

T_IMPORTED = time.perf_counter()

# The daily_pipeline's assets in its dependency order (defs/pipeline/jobs.py); app_feed is the one
# step of app_briefing + app_cases.
ORDER = (
    "market_data",
    "market_indices",
    "daily_themes",
    "analog_features",
    "market_analogs",
    "historical_cases",
    "app_feed",
)
ALIASES = {"app_briefing": "app_feed", "app_cases": "app_feed"}
MAX_CONCURRENT_CALLS = HistoricalCasesConfig().max_concurrent_calls


@dataclass
class BareContext:
    """What the asset bodies use of their context: the run's partition keys, a logger, and what is
    selected: the asset, none of its checks."""

    partition_keys: list[str]
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("bare_daily"))
    selected_asset_keys: frozenset[str] = frozenset({"the asset"})
    selected_asset_check_keys: frozenset[str] = frozenset()


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def build() -> dict[str, Any]:
    return {
        "krx": KRX(
            krx_id=_env("KRX_ID"),
            krx_pw=_env("KRX_PW"),
            base_url=_env("ADELIE_KRX_URL"),
            delay_seconds=float(os.environ.get("ADELIE_KRX_DELAY_SECONDS") or 1.0),
            timeout_seconds=float(os.environ.get("ADELIE_KRX_TIMEOUT_SECONDS") or 30.0),
        ),
        "llm": LLM(
            api_key=_env("OPENAI_API_KEY"),
            base_url=_env("OPENAI_BASE_URL"),
            model=_env("ADELIE_LLM_MODEL") or DEFAULT_MODEL,
        ),
        "warehouse": Warehouse(url=_env("ADELIE_WAREHOUSE_URL")),
        "app_database": AppDatabase(url=_env("ADELIE_APP_DATABASE_URL")),
    }


def _body(asset: Any) -> Callable[..., Any]:
    return asset.op.compute_fn.decorated_fn


def steps(resources: dict[str, Any]) -> dict[str, Callable[[BareContext], list[Any]]]:
    """asset name -> a call of its body with the resources and default config it gets in the job."""
    krx, llm, warehouse, app = (resources[k] for k in ("krx", "llm", "warehouse", "app_database"))
    return {
        "market_data": lambda c: list(_body(market_data)(c, krx=krx, warehouse=warehouse)),
        "market_indices": lambda c: list(_body(market_indices)(c, krx=krx, warehouse=warehouse)),
        "daily_themes": lambda c: list(
            _body(daily_themes)(c, config=DailyThemesConfig(), warehouse=warehouse)
        ),
        "analog_features": lambda c: list(_body(analog_features)(c, warehouse=warehouse)),
        "market_analogs": lambda c: list(
            _body(market_analogs)(c, config=MarketAnalogsConfig(), warehouse=warehouse)
        ),
        "historical_cases": lambda c: list(
            _body(historical_cases)(c, config=HistoricalCasesConfig(), llm=llm, warehouse=warehouse)
        ),
        "app_feed": lambda c: list(_body(app_feed)(c, warehouse=warehouse, app_database=app)),
    }


def selection(text: str | None) -> list[str]:
    if not text:
        return list(ORDER)
    wanted = {ALIASES.get(name.strip(), name.strip()) for name in text.split(",") if name.strip()}
    unknown = wanted - set(ORDER)
    if unknown:
        raise SystemExit(f"unknown asset(s) {sorted(unknown)}: choose among {', '.join(ORDER)}")
    return [name for name in ORDER if name in wanted]


# Backfilled in larger batches than the other assets (defs/market/assets.py, KRX_BACKFILL_POLICY).
KRX_ASSETS = ("market_data", "market_indices")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("days", nargs="*", help="partition keys (YYYY-MM-DD)")
    parser.add_argument("--start", type=date.fromisoformat)
    parser.add_argument("--end", type=date.fromisoformat)
    parser.add_argument("--chunk", type=int, default=1, help="days per batch (25 = the backfill policy)")
    parser.add_argument(
        "--krx-chunk", type=int, default=None, help="days per batch of the KRX assets (default: --chunk)"
    )
    parser.add_argument("--assets", default=None, help="comma-separated subset (default: all of the job)")
    args = parser.parse_args(argv)
    keys = list(args.days)
    if args.start and args.end:
        keys += [d.isoformat() for d in trading_days(args.start, args.end)]
    if not keys:
        parser.error("give partition keys or --start/--end")
    names = selection(args.assets)

    phases = dict.fromkeys(names, 0.0)
    tokens = {"input_tokens": 0, "output_tokens": 0, "estimated_cost_usd": 0.0}
    run = steps(build())
    krx_chunk = args.krx_chunk or args.chunk
    if krx_chunk % args.chunk:
        parser.error("--krx-chunk must be a multiple of --chunk (as the backfill policies are)")
    krx_names = [n for n in names if n in KRX_ASSETS]
    other_names = [n for n in names if n not in KRX_ASSETS]
    for i in range(0, len(keys), krx_chunk):
        batch = keys[i : i + krx_chunk]
        for chosen, size in ((krx_names, krx_chunk), (other_names, args.chunk)):
            for j in range(0, len(batch), size):
                context = BareContext(partition_keys=batch[j : j + size])
                for name in chosen:
                    started = time.perf_counter()
                    results = run[name](context)
                    phases[name] += time.perf_counter() - started
                    if name == "historical_cases":
                        metadata = results[0].metadata
                        for key in tokens:
                            tokens[key] += metadata[key]
    done = time.perf_counter()
    report = {
        "days": len(keys),
        "imports": round(T_IMPORTED - T0, 3),
        "work": round(done - T_IMPORTED, 3),
        **{k: round(v, 3) for k, v in phases.items()},
        **({k: round(v, 6) for k, v in tokens.items()} if "historical_cases" in names else {}),
    }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
