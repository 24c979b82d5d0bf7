"""Checks of the published day, read back from the app's tables: blocking where the app would break.

They use the per-day machinery of lib/partitioned_checks.py; not `daily_check` itself, whose readers
get the warehouse only, while these read the app's database (ADELIE_APP_DATABASE_URL). All of them
are one step, `app_feed_checks`, that reads each published day once.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from dagster import (
    AssetCheckExecutionContext,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    Failure,
    multi_asset_check,
)

from adelie_assets.calendar import trading_day_partitions
from adelie_assets.defs.app import published
from adelie_assets.defs.app.assets import APP_BRIEFING, APP_CASES
from adelie_assets.lib.partitioned_checks import (
    CheckEvent,
    Verdict,
    checked_days,
    day_results,
    severity_metadata,
)
from adelie_assets.resources.app_database import AppDatabase, translated
from adelie_assets.resources.warehouse import Warehouse


@dataclass(frozen=True)
class PublishedCheck:
    """A check of each published day, as the app reads it (blocking and ERROR unless told)."""

    asset: AssetKey
    name: str
    verdict_of: Callable[[published.PublishedDay], Verdict]
    description: str
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
    blocking: bool = True

    def spec(self) -> AssetCheckSpec:
        return AssetCheckSpec(
            name=self.name,
            asset=self.asset,
            description=self.description,
            blocking=self.blocking,
            metadata=severity_metadata(self.severity),
            partitions_def=trading_day_partitions,
        )


def published_checks(step_name: str, checks: Sequence[PublishedCheck]) -> AssetChecksDefinition:
    """All the checks in ONE step that reads each published day once (a step per check read it once
    per check and cost ~0.15 s of step start/end each: bench/README.md), one result per check and day."""
    specs = [(check, check.spec()) for check in checks]

    @multi_asset_check(
        name=step_name,
        specs=[spec for _, spec in specs],
        # The UI can still execute one check alone.
        can_subset=True,
    )
    def _checks(
        context: AssetCheckExecutionContext, warehouse: Warehouse, app_database: AppDatabase
    ) -> Iterator[CheckEvent]:
        target = app_database.target(warehouse)
        with translated("Checking the published app feed", target), target.engine.connect() as conn:
            days = {day: published.read_published(conn, target.tables, day) for day in checked_days(context)}
        errors: list[tuple[str, Exception]] = []
        for check, spec in specs:
            if spec.key not in context.selected_asset_check_keys:
                continue
            try:
                verdicts = {day: check.verdict_of(read) for day, read in days.items()}
            except Exception as error:  # the other checks' verdicts are still recorded
                errors.append((check.name, error))
                continue
            yield from day_results(context, verdicts, spec)
        if errors:
            names = ", ".join(name for name, _ in errors)
            error = errors[0][1]
            raise Failure(
                f"Check(s) {names} could not be evaluated: {type(error).__name__}: {error}"
            ) from error

    return _checks


_APP_FEED_CHECKS = [
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
        "Five keywords, each found by the app's Home query (latest case_matches row with its title on or "
        "after the briefing date) with its case.",
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
]

# One step for both assets: app_feed writes them together, and their checks read the same tables.
app_feed_checks = [published_checks("app_feed_checks", _APP_FEED_CHECKS)]
