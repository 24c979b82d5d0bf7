"""Data-quality checks of `historical_cases`, read back from the warehouse for the checked day(s).

All four are blocking with severity ERROR: a failed one fails the run, which raises the failure
alert. The expected case count is recomputed with the run's `ops.historical_cases.config` (see
docs/dagster-notes.md, "The expected case count").
"""

import json
from datetime import date
from typing import Any

import pandas as pd
from dagster import AssetCheckExecutionContext, AssetChecksDefinition

from adelie_assets.defs.cases.assets import historical_cases
from adelie_assets.defs.cases.config import HistoricalCasesConfig
from adelie_assets.defs.cases.themes import select_themes
from adelie_assets.defs.market.assets import market_data
from adelie_assets.lib.partitioned_checks import (
    CheckedDays,
    Verdict,
    asset_checks,
    daily_check,
    examples,
    range_check,
)
from adelie_assets.resources.warehouse import Warehouse

REQUIRED_TEXT = ("theme", "title", "summary", "key_insight", "model", "prompt_version", "request_hash")
REQUIRED_LISTS = ("theme_tickers", "related_tickers", "glossary")
NARRATIVE_PARTS = (
    "background",
    "mirrors_today",
    "differs_from_today",
    "devils_advocate",
    "what_happened_next",
    "investor_takeaway",
)


def run_config(context: AssetCheckExecutionContext) -> HistoricalCasesConfig:
    ops = (context.run.run_config or {}).get("ops", {})
    return HistoricalCasesConfig(**(ops.get("historical_cases", {}).get("config") or {}))


def _json(value: Any) -> Any:
    # SQLite hands JSON columns back as text when written by other clients.
    return json.loads(value) if isinstance(value, str) else value


# --- the verdicts (pure) -----------------------------------------------------------------------


def case_count_verdict(cases: pd.DataFrame, market: pd.DataFrame, config: HistoricalCasesConfig) -> Verdict:
    expected = (
        len(select_themes(market, config.theme_count, config.stocks_per_theme, config.min_trading_value_krw))
        if not market.empty
        else 0
    )
    metadata: dict[str, object] = {
        "cases": len(cases),
        "expected": expected,
        "theme_count": config.theme_count,
        "min_trading_value_krw": config.min_trading_value_krw,
    }
    if market.empty:
        return Verdict(
            False, "market_data has no rows for this day: the cases have nothing to stand on.", metadata
        )
    if len(cases) != expected or expected == 0:
        return Verdict(
            False,
            f"{len(cases)} cases stored, {expected} themes selected from the day's market_data: "
            "the stored cases do not match the day's themes. Re-materialize historical_cases.",
            metadata,
        )
    return Verdict(True, f"{len(cases)} cases, one per selected theme.", metadata)


def related_tickers_verdict(cases: pd.DataFrame, market: pd.DataFrame) -> Verdict:
    known = set(market["ticker"]) if not market.empty else set()
    referenced = {str(t) for tickers in cases["related_tickers"] for t in (_json(tickers) or [])}
    unknown = pd.Series(sorted(referenced - known), dtype=str)
    metadata: dict[str, object] = {
        "cases": len(cases),
        "related_tickers": len(referenced),
        "unknown_tickers": len(unknown),
    }
    if len(unknown):
        metadata["examples"] = examples(unknown)
        return Verdict(
            False,
            f"{len(unknown)} related tickers are not in the day's market_data: {examples(unknown)}.",
            metadata,
        )
    return Verdict(True, f"All {len(referenced)} related tickers are in the day's market_data.", metadata)


def unique_titles_verdict(cases: pd.DataFrame) -> Verdict:
    titles = cases["title"].astype(str).str.strip().str.casefold()
    repeated = cases.loc[titles.duplicated(keep=False), "title"].drop_duplicates()
    metadata: dict[str, object] = {"cases": len(cases), "repeated_titles": len(repeated)}
    if len(repeated):
        metadata["examples"] = examples(repeated)
        return Verdict(False, f"Several cases of the day share a title: {examples(repeated)}.", metadata)
    return Verdict(True, f"{len(cases)} distinct titles.", metadata)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or not str(value).strip()


def _missing_fields(case: pd.Series) -> list[str]:
    missing = [name for name in REQUIRED_TEXT if _blank(case.get(name))]
    missing += [name for name in REQUIRED_LISTS if not _json(case.get(name))]
    narrative = _json(case.get("narrative")) or {}
    missing += [f"narrative.{part}" for part in NARRATIVE_PARTS if not narrative.get(part)]
    return missing


def required_fields_verdict(cases: pd.DataFrame) -> Verdict:
    problems = {
        f"#{int(case['theme_rank'])}": missing
        for _, case in cases.iterrows()
        if (missing := _missing_fields(case))
    }
    metadata: dict[str, object] = {"cases": len(cases), "incomplete_cases": len(problems)}
    if problems:
        detail = "; ".join(f"case {rank}: {', '.join(fields)}" for rank, fields in problems.items())
        metadata["missing"] = detail
        return Verdict(False, f"{len(problems)} cases have empty required fields ({detail}).", metadata)
    return Verdict(True, f"All {len(cases)} cases have every required field.", metadata)


# --- the checks --------------------------------------------------------------------------------


def case_count_verdicts(checked: CheckedDays) -> dict[date, Verdict]:
    config = run_config(checked.context)
    cases = checked.rows(Warehouse.read_historical_cases)
    market = checked.rows(Warehouse.read_market_data)
    return {day: case_count_verdict(cases[day], market[day], config) for day in checked.days}


# Needs the run's config too.
expected_case_count = range_check(
    historical_cases,
    "expected_case_count",
    case_count_verdicts,
    additional_deps=[market_data],
    description="One case per theme that select_themes picks from the day's market_data (run's config).",
)
related_tickers_exist = daily_check(
    historical_cases,
    "related_tickers_exist",
    related_tickers_verdict,
    reads=(Warehouse.read_historical_cases, Warehouse.read_market_data),
    additional_deps=[market_data],
    description="Every related ticker of every case is a ticker of that day's market_data.",
)
unique_titles = daily_check(
    historical_cases,
    "unique_titles",
    unique_titles_verdict,
    reads=(Warehouse.read_historical_cases,),
    description="No two cases of the same day share a title (case and surrounding spaces ignored).",
)
required_fields = daily_check(
    historical_cases,
    "required_fields",
    required_fields_verdict,
    reads=(Warehouse.read_historical_cases,),
    description="Title, summary, key insight, narrative parts, related tickers and glossary are non-empty.",
)


# One step for all four: it reads the checked days' cases and market rows once.
historical_cases_checks: list[AssetChecksDefinition] = asset_checks(
    [expected_case_count, related_tickers_exist, unique_titles, required_fields]
)
