"""The run config of `historical_cases` (its checks read it back from the run config too)."""

from typing import Literal

from dagster import Config
from pydantic import Field

from adelie_assets.defs.cases.themes import MAX_THEMES


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
