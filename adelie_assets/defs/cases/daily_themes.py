"""`daily_themes`: the day's themes, picked once (select_themes' rules) for analogs, cases and the app."""

from collections.abc import Iterator
from datetime import date

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    multi_asset,
)
from pydantic import Field

from adelie_assets import markdown
from adelie_assets.calendar import parse_partition_key, trading_day_partitions
from adelie_assets.defs.analogs.checks import DAILY_THEMES_CHECKS
from adelie_assets.defs.cases.themes import MAX_THEMES, Theme, select_themes
from adelie_assets.defs.keys import DAILY_THEMES, MARKET_DATA
from adelie_assets.defs.market.assets import BACKFILL_POLICY
from adelie_assets.lib.partitioned_checks import CheckEvent, check_results, check_specs, stored_check_results
from adelie_assets.lib.validate import record_refused, replace_validated
from adelie_assets.resources.warehouse import Warehouse, daily_themes_table

DAILY_THEMES_SCHEMA = TableSchema(
    columns=[
        TableColumn("trade_date", "date", description="KRX trading day (partition key)."),
        TableColumn("theme_rank", "int", description="1 = the day's first theme."),
        TableColumn("theme_key", "string", description="e.g. 'kospi_gainers'."),
        TableColumn("label_ko", "string", description="e.g. '코스피 급등주'."),
        TableColumn("label_en", "string", description="e.g. 'Top gainers on KOSPI'."),
        TableColumn("category", "string", description="App category: 급등주 | 급락주 | 거래량 | 대형주."),
        TableColumn("selection_reason", "string", description="top_gainer | top_loser | high_volume."),
        TableColumn("stocks", "json", description="[{ticker, name, market, close, change_pct, volume, ...}]"),
    ]
)


class DailyThemesConfig(Config):
    theme_count: int = Field(default=5, ge=1, le=MAX_THEMES, description="Themes (= cases) per day.")
    stocks_per_theme: int = Field(default=3, ge=1, le=5, description="Stocks per theme.")
    min_trading_value_krw: int = Field(
        default=5_000_000_000, ge=0, description="Liquidity floor: stocks traded for less are not themes."
    )


def theme_rows(day: date, themes: list[Theme]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "trade_date": day,
                "theme_rank": t.rank,
                "theme_key": t.key,
                "label_ko": t.label_ko,
                "label_en": t.label,
                "category": t.category,
                "selection_reason": t.selection_reason,
                "stocks": [
                    {
                        "ticker": s.ticker,
                        "name": s.name,
                        "market": s.market,
                        "close": s.close,
                        "change_pct": s.change_pct,
                        "volume": s.volume,
                        "trading_value": s.trading_value,
                        "market_cap": s.market_cap,
                    }
                    for s in t.stocks
                ],
            }
            for t in themes
        ],
        columns=[c.name for c in daily_themes_table.columns],
    )


@multi_asset(
    name="daily_themes",
    specs=[
        AssetSpec(
            DAILY_THEMES,
            deps=[MARKET_DATA],
            group_name="cases",
            kinds={"python", "sql"},
            owners=["team:data-engineering"],
            metadata={"dagster/column_schema": DAILY_THEMES_SCHEMA},
            description=(
                "The day's themes (top gainers and losers per market, most traded, large caps that moved "
                "most; liquid stocks only), picked once from market_data and shared by market_analogs, "
                "historical_cases and the app. Korean labels and app categories. A partition is replaced "
                "atomically in the warehouse table `daily_themes`, once the new rows pass the blocking "
                "checks."
            ),
        )
    ],
    # Recorded by this step on the rows it writes; the UI can execute them alone, on the stored rows.
    check_specs=check_specs(DAILY_THEMES_CHECKS),
    can_subset=True,
    partitions_def=trading_day_partitions,
    backfill_policy=BACKFILL_POLICY,
)
def daily_themes(
    context: AssetExecutionContext, config: DailyThemesConfig, warehouse: Warehouse
) -> Iterator[MaterializeResult | CheckEvent]:
    if not context.selected_asset_keys:
        yield from stored_check_results(context, DAILY_THEMES_CHECKS, warehouse)
        return
    days = [parse_partition_key(key) for key in context.partition_keys]
    quotes = warehouse.read_market_data(days)
    frames = {}
    for day in days:
        rows = quotes[quotes["trade_date"] == day] if not quotes.empty else quotes
        if rows.empty:
            raise Failure(
                f"market_data has no rows for {day} in {warehouse.describe()}: materialize market_data "
                f"for {day} first (the schedule and backfills do this in order).",
                allow_retries=False,
            )
        themes = select_themes(
            rows, config.theme_count, config.stocks_per_theme, config.min_trading_value_krw
        )
        if not themes:
            raise Failure(
                f"No stock of {day} traded at least {config.min_trading_value_krw:,} KRW: lower "
                "min_trading_value_krw in the run config of daily_themes.",
                allow_retries=False,
            )
        frames[day] = theme_rows(day, themes)
    # Every day computed, then validated: a day a blocking check fails on is refused alone.
    validated = replace_validated(
        warehouse, daily_themes_table, days, pd.concat(frames.values()), DAILY_THEMES_CHECKS, "market_data"
    )
    yield from record_refused(context, DAILY_THEMES, DAILY_THEMES_CHECKS, validated, len(days))
    last = frames[days[-1]]
    preview = markdown.table(
        ["#", "theme", "category", "stocks"],
        [
            [
                r.theme_rank,
                r.label_ko,
                r.category,
                ", ".join(f"{s['name']} {s['change_pct']:+.2f}%" for s in r.stocks),
            ]
            for r in last.itertuples()
        ],
    )
    yield MaterializeResult(
        metadata={
            "dagster/row_count": sum(len(f) for f in frames.values()),
            "dagster/column_schema": DAILY_THEMES_SCHEMA,
            "themes_by_day": MetadataValue.json({str(d): len(f) for d, f in frames.items()}),
            "preview": MetadataValue.md(preview),
        }
    )
    yield from check_results(context, DAILY_THEMES_CHECKS, validated.verdicts)
