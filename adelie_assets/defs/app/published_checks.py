"""The one list of verdicts on a published day: `publish_day` runs them inside its transaction, on the
day read back the way the app reads it, before it commits (a failed blocking one rolls the day back:
the previously published rows stay), and the app feed's step records them as its asset checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from dagster import AssetCheckSeverity, AssetKey
from sqlalchemy.engine import Connection

from adelie_assets.defs.app import published
from adelie_assets.defs.app.tables import AppTables
from adelie_assets.lib.guards import guard_error
from adelie_assets.lib.verdicts import Verdict

APP_BRIEFING = AssetKey("app_briefing")
APP_CASES = AssetKey("app_cases")
# What the refused rows were built from: the error names it so that the operator fixes the data.
SOURCE = "the day's daily_themes, historical_cases and market_analogs in the warehouse"


@dataclass(frozen=True)
class PublishedCheck:
    """A verdict on each published day, as the app reads it (blocking and ERROR unless told)."""

    asset: AssetKey
    name: str
    verdict_of: Callable[[published.PublishedDay], Verdict]
    description: str
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
    blocking: bool = True


PUBLISHED_CHECKS: tuple[PublishedCheck, ...] = (
    PublishedCheck(
        APP_BRIEFING,
        "one_briefing",
        published.one_briefing,
        "Exactly one daily_briefings row for the day (the app's Home reads one).",
    ),
    PublishedCheck(
        APP_BRIEFING,
        "five_keywords_with_cases",
        published.keywords_with_cases,
        "Five keywords, each of which the app's Home query (latest case_matches row with its title on or "
        "after the briefing date) finds with the day's own case, not another day's.",
    ),
    PublishedCheck(
        APP_BRIEFING,
        "selection_reasons",
        published.selection_reasons,
        "Every mover's selection_reason is one the app filters by: top_gainer, top_loser, high_volume.",
    ),
    PublishedCheck(
        APP_CASES,
        "similarity_score_range",
        published.similarity_in_range,
        "Every case_matches.similarity_score of the day within 0-1.",
    ),
    PublishedCheck(
        APP_CASES,
        "three_devils_advocate_bullets",
        published.three_devils_advocate_bullets,
        "Every case matched that day has exactly three devil's-advocate bullets.",
    ),
    PublishedCheck(
        APP_BRIEFING,
        "market_summary_present",
        published.market_summary_present,
        "The briefing has its one-line market summary (from market_indices); the app works without it.",
        severity=AssetCheckSeverity.WARN,
        blocking=False,
    ),
)


def judge_published_day(conn: Connection, t: AppTables, day: date) -> dict[str, Verdict]:
    """Every check's verdict on `day` as just written on `conn`, read back the way the app reads it.
    Raises `DataGuardError` if a blocking one failed, so that the caller's transaction rolls back."""
    day_as_published = published.read_published(conn, t, day)
    verdicts = {check.name: _verdict(check, day_as_published) for check in PUBLISHED_CHECKS}
    failed = {
        check.name: verdicts[check.name]
        for check in PUBLISHED_CHECKS
        if check.blocking and not verdicts[check.name].passed
    }
    if failed:
        raise guard_error("app feed", day, failed, SOURCE, store="app database")
    return verdicts


def _verdict(check: PublishedCheck, day: published.PublishedDay) -> Verdict:
    if check.blocking:  # an error here rolls the day back: its verdict is unknown
        return check.verdict_of(day)
    try:
        return check.verdict_of(day)
    except Exception as error:  # a WARN check blocks nothing, not even when it cannot be evaluated
        return Verdict(False, f"The check could not be evaluated: {type(error).__name__}: {error}")
