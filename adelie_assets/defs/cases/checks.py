"""Data-quality checks of `historical_cases`: the verdicts of verdicts.py on the stored rows of each
checked day. All are blocking with severity ERROR: a failed one fails the run, which raises the
failure alert. The asset runs the same verdicts before it writes or caches anything."""

from dagster import AssetChecksDefinition

from adelie_assets.defs.analogs.assets import market_analogs
from adelie_assets.defs.cases.assets import historical_cases
from adelie_assets.defs.cases.daily_themes import daily_themes
from adelie_assets.defs.cases.verdicts import (
    case_count_verdict,
    facts_verdict,
    related_tickers_verdict,
    required_fields_verdict,
    unique_titles_verdict,
)
from adelie_assets.defs.market.assets import market_data
from adelie_assets.lib.partitioned_checks import asset_checks, daily_check, table_reader
from adelie_assets.resources.warehouse import Warehouse, daily_themes_table, market_analogs_table

expected_case_count = daily_check(
    historical_cases,
    "expected_case_count",
    case_count_verdict,
    reads=(Warehouse.read_historical_cases, table_reader(daily_themes_table)),
    additional_deps=[daily_themes],
    description="One case per theme of the day's daily_themes.",
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
    description="Title, summary, analog id, key insight, 7 narrative sections, tickers, glossary are set.",
)
facts_match_analogs = daily_check(
    historical_cases,
    "facts_match_analogs",
    facts_verdict,
    reads=(Warehouse.read_historical_cases, table_reader(market_analogs_table)),
    additional_deps=[market_analogs],
    description="Each case's event date (before the trade date), sync rate and outcomes are its analog's.",
)

historical_cases_checks: list[AssetChecksDefinition] = asset_checks(
    [
        expected_case_count,
        related_tickers_exist,
        unique_titles,
        required_fields,
        facts_match_analogs,
    ]
)
