"""The run config of `historical_cases`. The themes' own settings (theme_count, stocks_per_theme,
min_trading_value_krw) are daily_themes' run config."""

from typing import Literal

from dagster import Config
from pydantic import Field

from adelie_assets.defs.cases.themes import MAX_THEMES


class HistoricalCasesConfig(Config):
    language: str = Field(
        default="", description="Case language, 'ko' or 'en'; empty: ADELIE_CASE_LANGUAGE, else 'ko'."
    )
    candidates_per_subject: int = Field(
        default=1,
        ge=1,
        le=3,
        description="Analogs offered to the model per theme stock and index (more = more tokens).",
    )
    regenerate: bool = Field(
        default=False,
        description="Ask the LLM again for every theme, ignoring the cache (the new answers replace it).",
    )
    max_attempts: int = Field(
        default=4,
        ge=1,
        le=5,
        description="Tries per theme for refusals, truncation, invalid or ungrounded answers; each retry is "
        "a repair turn naming the problem (4: 99.7% of days with five model-written cases under a model "
        "whose first answers are rejected half of the time, bench/bench_case_writer.py).",
    )
    themes_written_by_code: int = Field(
        default=1,
        ge=0,
        le=2,
        description="A day keeps its cases when at most this many of its themes got no valid answer after "
        "max_attempts: each gets a plain case written by code from its analog's facts, flagged in the run's "
        "metadata and never cached, so that a re-run asks the model again. 0: such a day fails, as before.",
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
