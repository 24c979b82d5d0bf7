"""`historical_cases`: one LLM-written case of Korean market history per theme of the day."""

import time
from collections import defaultdict
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import date
from typing import Literal

import pandas as pd
from dagster import (
    AssetExecutionContext,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    asset,
)
from pydantic import Field

from adelie_assets import markdown
from adelie_assets.calendar import parse_partition_key, trading_day_partitions
from adelie_assets.defs.cases.batch import generate_cases_batch
from adelie_assets.defs.cases.generate import (
    PROMPT_VERSION,
    CaseGenerationError,
    CaseResult,
    generate_case,
    render_messages,
    request_hash,
)
from adelie_assets.defs.cases.themes import MAX_THEMES, Theme, select_themes
from adelie_assets.defs.freshness import HISTORICAL_CASES_FRESHNESS
from adelie_assets.defs.market.assets import BACKFILL_POLICY, market_data
from adelie_assets.resources.llm import LLM, LlmError
from adelie_assets.resources.warehouse import Warehouse

HISTORICAL_CASES_SCHEMA = TableSchema(
    columns=[
        TableColumn("trade_date", "date", description="KRX trading day (partition key)."),
        TableColumn("theme_rank", "int", description="1 = the day's first theme."),
        TableColumn("theme", "string", description="e.g. 'Top gainers on KOSDAQ'."),
        TableColumn("theme_tickers", "json", description="The theme's tickers given to the model."),
        TableColumn("title", "string"),
        TableColumn("event_year", "int", description="Year of the past episode."),
        TableColumn("summary", "string"),
        TableColumn("narrative", "json", description="background, mirrors/differs, devil's advocate (3)…"),
        TableColumn("related_tickers", "json", description="Subset of theme_tickers."),
        TableColumn("sync_rate", "int", description="0-100 resemblance."),
        TableColumn("key_insight", "string"),
        TableColumn("glossary", "json"),
        TableColumn("model", "string"),
        TableColumn("prompt_version", "string"),
        TableColumn("request_hash", "string", description="Cache key: inputs + prompt version + model."),
        TableColumn("input_tokens", "int"),
        TableColumn("output_tokens", "int"),
        TableColumn("created_at", "timestamp"),
    ]
)


class HistoricalCasesConfig(Config):
    theme_count: int = Field(default=5, ge=1, le=MAX_THEMES, description="Themes (= cases) per day.")
    stocks_per_theme: int = Field(default=3, ge=1, le=5, description="Stocks given to the model per theme.")
    min_trading_value_krw: int = Field(
        default=5_000_000_000, ge=0, description="Liquidity floor: stocks traded for less are not themes."
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        le=5,
        description="Tries per theme for refusals, truncation, invalid or ungrounded answers.",
    )
    max_concurrent_calls: int = Field(
        default=MAX_THEMES, ge=1, le=16, description="LLM calls in flight at once (default: a whole day)."
    )
    llm_mode: Literal["sync", "batch"] = Field(
        default="sync",
        description="sync: chat completions now. batch: the Batch API, half the price, for big backfills.",
    )
    batch_poll_seconds: float = Field(default=30.0, gt=0, description="Batch mode: status poll interval.")
    batch_timeout_seconds: float = Field(
        default=1500.0,
        gt=0,
        description="Batch mode: cancel and fail after this long (keep below the run's dagster/max_runtime).",
    )


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


def _case_rows(results: list[CaseResult]) -> pd.DataFrame:
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


def _preview(results: list[CaseResult]) -> str:
    rows = [
        [
            r.day,
            r.theme.rank,
            r.theme.label,
            r.case.title,
            r.case.event_year,
            ", ".join(r.case.related_tickers),
        ]
        for r in sorted(results, key=lambda r: (r.day, r.theme.rank))
    ]
    return markdown.table(["day", "#", "theme", "title", "year", "tickers"], rows[-30:])


def _generate_sync(
    llm: LLM,
    work: list[tuple[date, Theme]],
    cached: dict[tuple[date, int], dict | None],
    config: HistoricalCasesConfig,
) -> tuple[list[CaseResult], list[str]]:
    """Theme calls are independent: run them concurrently, bounded; stop spending once one fails."""
    results: list[CaseResult] = []
    failures: list[str] = []
    with ThreadPoolExecutor(max_workers=config.max_concurrent_calls, thread_name_prefix="llm") as pool:
        futures = {
            pool.submit(generate_case, llm, day, theme, config.max_attempts, cached.get((day, theme.rank))): (
                day,
                theme,
            )
            for day, theme in work
        }
        _, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()  # once a day is lost, spend no more tokens on themes not yet started
        done, _ = wait([f for f in futures if not f.cancelled()])
        for future in done:
            try:
                results.append(future.result())
            except (CaseGenerationError, LlmError) as exc:
                failures.append(str(exc))
    return results, failures


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
        results, failures = _generate_sync(llm, work, cached, config)
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
        warehouse.replace_historical_cases([day], _case_rows(by_day[day]))
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
            "preview": MetadataValue.md(_preview(written)),
        }
    )
