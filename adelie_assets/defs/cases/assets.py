"""`historical_cases`: one LLM-written case of Korean market history per theme of the day."""

import time
from collections import defaultdict
from datetime import date

from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue, asset

from adelie_assets.calendar import parse_partition_key, trading_day_partitions
from adelie_assets.defs.cases.batch import generate_cases_batch
from adelie_assets.defs.cases.config import HistoricalCasesConfig
from adelie_assets.defs.cases.generate import PROMPT_VERSION, CaseResult, render_messages, request_hash
from adelie_assets.defs.cases.sync import generate_cases_sync
from adelie_assets.defs.cases.table import HISTORICAL_CASES_SCHEMA, case_rows, preview
from adelie_assets.defs.cases.themes import Theme, select_themes
from adelie_assets.defs.freshness import HISTORICAL_CASES_FRESHNESS
from adelie_assets.defs.market.assets import BACKFILL_POLICY, market_data
from adelie_assets.resources.llm import LLM, LlmError
from adelie_assets.resources.warehouse import Warehouse

__all__ = ["HistoricalCasesConfig", "historical_cases"]


def _themes_by_day(
    config: HistoricalCasesConfig, warehouse: Warehouse, days: list[date]
) -> dict[date, list[Theme]]:
    frame = warehouse.read_market_data(days)
    themes: dict[date, list[Theme]] = {}
    for day in days:
        rows = frame[frame["trade_date"] == day]
        if rows.empty:
            raise Failure(
                f"market_data has no rows for {day} in {warehouse.describe()}: materialize market_data "
                f"for {day} first (the schedule and backfills of both assets do this in order).",
                allow_retries=False,
            )
        themes[day] = select_themes(
            rows, config.theme_count, config.stocks_per_theme, config.min_trading_value_krw
        )
        if not themes[day]:
            raise Failure(
                f"No stock of {day} traded at least {config.min_trading_value_krw:,} KRW: lower "
                "min_trading_value_krw in the run config.",
                allow_retries=False,
            )
    return themes


@asset(
    partitions_def=trading_day_partitions,
    deps=[market_data],
    backfill_policy=BACKFILL_POLICY,
    freshness_policy=HISTORICAL_CASES_FRESHNESS,
    pool="llm",
    group_name="cases",
    kinds={"openai", "sql"},
    owners=["team:data-engineering"],
    metadata={"dagster/column_schema": HISTORICAL_CASES_SCHEMA, "prompt_version": PROMPT_VERSION},
    description=(
        "For each theme of the day (top gainers/losers per market, most traded; liquid stocks only), "
        "one past episode of Korean market history that resembles the move, written by the LLM as "
        "structured output, grounded in the day's tickers and validated. A day's cases are replaced "
        "all-or-nothing in the warehouse table `historical_cases`."
    ),
)
def historical_cases(
    context: AssetExecutionContext, config: HistoricalCasesConfig, llm: LLM, warehouse: Warehouse
) -> MaterializeResult:
    days = [parse_partition_key(key) for key in context.partition_keys]
    themes = _themes_by_day(config, warehouse, days)
    work = [(day, theme) for day in days for theme in themes[day]]
    hashes = {
        (day, theme.rank): request_hash(llm.model, PROMPT_VERSION, render_messages(theme, day))
        for day, theme in work
    }
    cache = warehouse.cached_llm_responses(hashes.values())
    if len(cache) < len(work):
        try:
            llm.client()  # fail before any request when the key is missing
        except LlmError as exc:
            raise Failure(str(exc), allow_retries=False) from None
    cached = {item: (cache.get(key) or {}).get("response") for item, key in hashes.items()}

    started = time.monotonic()
    if config.llm_mode == "batch":
        try:
            results, failures = generate_cases_batch(
                llm,
                work,
                cached,
                config.max_attempts,
                config.batch_poll_seconds,
                config.batch_timeout_seconds,
            )
        except LlmError as exc:
            raise Failure(
                f"historical_cases not stored (nothing was written): {exc}", allow_retries=False
            ) from None
    else:
        results, failures = generate_cases_sync(llm, work, cached, config)
    llm_seconds = time.monotonic() - started

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
    by_day: dict[date, list[CaseResult]] = defaultdict(list)
    for r in results:
        by_day[r.day].append(r)
    complete = [day for day in days if len(by_day[day]) == len(themes[day])]
    for day in complete:
        warehouse.replace_historical_cases([day], case_rows(by_day[day]))
    if failures:
        lost = sorted(set(days) - set(complete))
        raise Failure(
            f"historical_cases not stored for {', '.join(map(str, lost))} (nothing partial was written): "
            + " | ".join(sorted(failures)),
            allow_retries=False,
        )

    written = [r for r in results if r.day in complete]
    input_tokens = sum(r.input_tokens for r in written)
    output_tokens = sum(r.output_tokens for r in written)
    tokens_by_model: dict[str, dict[str, int]] = defaultdict(lambda: {"input": 0, "output": 0})
    for r in fresh:
        tokens_by_model[r.model]["input"] += r.input_tokens
        tokens_by_model[r.model]["output"] += r.output_tokens
    context.log.info(
        f"historical_cases: {len(written)} cases for {len(complete)} day(s), {len(fresh)} from the LLM, "
        f"{len(written) - len(fresh)} from the cache"
    )
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(written),
            "dagster/column_schema": HISTORICAL_CASES_SCHEMA,
            "cases_written": len(written),
            "llm_calls": sum(r.calls for r in results),
            "cache_hits": len(written) - len(fresh),
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "tokens_by_model": MetadataValue.json(dict(tokens_by_model)),
            # The Batch API bills half the synchronous price.
            "estimated_cost_usd": round(
                llm.estimated_cost_usd(input_tokens, output_tokens)
                * (0.5 if config.llm_mode == "batch" else 1),
                6,
            ),
            "llm_mode": config.llm_mode,
            "request_ids": MetadataValue.json(sorted(i for r in fresh for i in r.request_ids)),
            "llm_seconds": round(llm_seconds, 3),
            "model": llm.model,
            "prompt_version": PROMPT_VERSION,
            "preview": MetadataValue.md(preview(written)),
        }
    )
