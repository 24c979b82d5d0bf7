"""The app feed's checks: verdicts on each published day, as the app reads it, blocking where the app
would break. `publish_day` evaluates them inside its transaction, on the day read back on the
publishing connection, before it commits (a failed blocking one rolls the day back: the previously
published rows stay), and the app feed's step records them (lib/validate.py): nothing is read twice."""

from __future__ import annotations

from datetime import date

import pandas as pd
from dagster import AssetCheckSeverity, AssetKey
from sqlalchemy.engine import Connection

from adelie_assets.defs.app import published
from adelie_assets.defs.app.tables import AppTables
from adelie_assets.lib.partitioned_checks import CheckedDays, DailyCheck, Verdicts, daily_check, evaluate
from adelie_assets.lib.validate import blocking_failures
from adelie_assets.resources.warehouse import Warehouse

APP_BRIEFING = AssetKey("app_briefing")
APP_CASES = AssetKey("app_cases")
# What the refused rows were built from: the error names it so that the operator fixes the data.
SOURCE = "the day's daily_themes, historical_cases and market_analogs in the warehouse"


def read_published(_warehouse: Warehouse, _days: list[date]) -> pd.DataFrame:
    """The key `judge_published_day` stages the day as published under: never read otherwise."""
    raise TypeError("The app feed's checks judge the day publish_day stages: re-publish it to re-check.")


READ = (read_published,)


PUBLISHED_CHECKS: list[DailyCheck] = [
    daily_check(
        APP_BRIEFING,
        "one_briefing",
        published.one_briefing,
        reads=READ,
        description="Exactly one daily_briefings row for the day (the app's Home reads one).",
    ),
    daily_check(
        APP_BRIEFING,
        "five_keywords_with_cases",
        published.keywords_with_cases,
        reads=READ,
        description=(
            "Five keywords, each of which the app's Home query (latest case_matches row with its title on or "
            "after the briefing date) finds with the day's own case, not another day's."
        ),
    ),
    daily_check(
        APP_BRIEFING,
        "selection_reasons",
        published.selection_reasons,
        reads=READ,
        description=(
            "Every mover's selection_reason is one the app filters by: top_gainer, top_loser, high_volume."
        ),
    ),
    daily_check(
        APP_CASES,
        "similarity_score_range",
        published.similarity_in_range,
        reads=READ,
        description="Every case_matches.similarity_score of the day within 0-1.",
    ),
    daily_check(
        APP_CASES,
        "three_devils_advocate_bullets",
        published.three_devils_advocate_bullets,
        reads=READ,
        description="Every case matched that day has exactly three devil's-advocate bullets.",
    ),
    daily_check(
        APP_BRIEFING,
        "market_summary_present",
        published.market_summary_present,
        reads=READ,
        description=(
            "The briefing has its one-line market summary (from market_indices); the app works without it."
        ),
        severity=AssetCheckSeverity.WARN,
        blocking=False,
    ),
]


def judge_published_day(conn: Connection, t: AppTables, day: date) -> Verdicts:
    """Every check's verdict on `day` as just written on `conn`, read back the way the app reads it.
    Raises `DataGuardError` if a blocking one failed, so that the caller's transaction rolls back."""
    checked = CheckedDays([day], None, staged={read_published: {day: published.read_published(conn, t, day)}})
    verdicts = evaluate(PUBLISHED_CHECKS, checked)
    refused = blocking_failures(PUBLISHED_CHECKS, verdicts, "app feed", SOURCE, store="app database")
    if refused:
        raise refused[day]
    return verdicts
