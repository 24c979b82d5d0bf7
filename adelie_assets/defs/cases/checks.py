"""Data-quality checks of `historical_cases`: the verdicts of verdicts.py on the rows of each day,
evaluated by the asset's step on its new rows before it writes or caches anything, and recorded by it.
All are blocking with severity ERROR but `written_by_model` (WARN)."""

from dagster import AssetCheckSeverity

from adelie_assets.defs.cases.verdicts import (
    case_count_verdict,
    facts_verdict,
    model_written_verdict,
    related_tickers_verdict,
    required_fields_verdict,
    unique_titles_verdict,
)
from adelie_assets.defs.keys import DAILY_THEMES, HISTORICAL_CASES, MARKET_ANALOGS, MARKET_DATA
from adelie_assets.lib.partitioned_checks import DailyCheck, daily_check, table_reader
from adelie_assets.resources.warehouse import Warehouse, daily_themes_table, market_analogs_table

expected_case_count = daily_check(
    HISTORICAL_CASES,
    "expected_case_count",
    case_count_verdict,
    reads=(Warehouse.read_historical_cases, table_reader(daily_themes_table)),
    additional_deps=[DAILY_THEMES],
    description="One case per theme of the day's daily_themes.",
)
related_tickers_exist = daily_check(
    HISTORICAL_CASES,
    "related_tickers_exist",
    related_tickers_verdict,
    reads=(Warehouse.read_historical_cases, Warehouse.read_market_data),
    additional_deps=[MARKET_DATA],
    description="Every related ticker of every case is a ticker of that day's market_data.",
)
unique_titles = daily_check(
    HISTORICAL_CASES,
    "unique_titles",
    unique_titles_verdict,
    reads=(Warehouse.read_historical_cases,),
    description="No two cases of the same day share a title (case and surrounding spaces ignored).",
)
required_fields = daily_check(
    HISTORICAL_CASES,
    "required_fields",
    required_fields_verdict,
    reads=(Warehouse.read_historical_cases,),
    description="Title, summary, analog id, key insight, 7 narrative sections, tickers, glossary are set.",
)
facts_match_analogs = daily_check(
    HISTORICAL_CASES,
    "facts_match_analogs",
    facts_verdict,
    reads=(Warehouse.read_historical_cases, table_reader(market_analogs_table)),
    additional_deps=[MARKET_ANALOGS],
    description="Each case's event date (before the trade date), sync rate and outcomes are its analog's.",
)
written_by_model = daily_check(
    HISTORICAL_CASES,
    "written_by_model",
    model_written_verdict,
    reads=(Warehouse.read_historical_cases,),
    description="WARN when a case of the day was written by code (every model answer was rejected).",
    severity=AssetCheckSeverity.WARN,
    blocking=False,
)

HISTORICAL_CASES_CHECKS: list[DailyCheck] = [
    expected_case_count,
    related_tickers_exist,
    unique_titles,
    required_fields,
    facts_match_analogs,
    written_by_model,
]
