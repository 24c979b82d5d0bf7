"""Data-quality checks of `market_data`, read back from the warehouse for the checked trading day(s).

The verdicts live in verdicts.py; the same verdicts guard the write (guards.py) before these checks
record them in the UI. How partitioned checks behave: docs/dagster-notes.md.
"""

from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
from dagster import AssetCheckExecutionContext, AssetChecksDefinition, AssetCheckSeverity, asset_check

from adelie_assets.calendar import previous_trading_day, trading_day_partitions
from adelie_assets.defs.market.assets import market_data
from adelie_assets.defs.market.verdicts import (
    LIMIT_BREACH_SHARE,
    MAX_ROWS_PER_MARKET,
    MIN_ROWS_PER_MARKET,
    PRICE_LIMIT_PCT,
    ROW_COUNT_CHANGE_LIMIT,
    markets_covered_verdict,
    not_all_zero_verdict,
    price_limit_verdict,
    prices_consistent_verdict,
    row_count_change_verdict,
    unique_keys_verdict,
)
from adelie_assets.lib.partitioned_checks import (
    CheckEvent,
    Verdict,
    checked_days,
    daily_check,
    day_results,
    rows_by_day,
    severity_metadata,
)
from adelie_assets.resources.warehouse import Warehouse, market_data_table

# --- the checks --------------------------------------------------------------------------------


def _daily(
    name: str, verdict_of: Callable[[pd.DataFrame], Verdict], description: str, **kwargs: Any
) -> AssetChecksDefinition:
    return daily_check(
        market_data, name, verdict_of, reads=(Warehouse.read_market_data,), description=description, **kwargs
    )


markets_covered = _daily(
    "markets_covered",
    markets_covered_verdict,
    f"Both KOSPI and KOSDAQ have {MIN_ROWS_PER_MARKET}-{MAX_ROWS_PER_MARKET} tickers.",
)
unique_keys = _daily("unique_keys", unique_keys_verdict, "No (trade_date, ticker) appears twice.")
prices_consistent = _daily(
    "prices_consistent",
    prices_consistent_verdict,
    "Every traded ticker has positive prices with low <= open, close <= high; every close > 0.",
)
not_all_zero = _daily(
    "not_all_zero", not_all_zero_verdict, "The day has traded tickers with non-zero total volume and value."
)
within_price_limit = _daily(
    "within_price_limit",
    price_limit_verdict,
    f"WARN when more than {LIMIT_BREACH_SHARE:.0%} of traded tickers moved beyond the "
    f"±{PRICE_LIMIT_PCT:.0f}% daily price limit.",
    severity=AssetCheckSeverity.WARN,
    blocking=False,
)


# Needs the previous trading day's count too, so it is written by hand.
@asset_check(
    asset=market_data,
    name="row_count_stable",
    partitions_def=trading_day_partitions,
    metadata=severity_metadata(AssetCheckSeverity.WARN),
    description=(
        f"WARN when the row count moves more than ±{ROW_COUNT_CHANGE_LIMIT:.0%} from the previous "
        "trading day's rows in the warehouse."
    ),
)
def row_count_stable(context: AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[CheckEvent]:
    days = checked_days(context)
    rows = rows_by_day(warehouse.read_market_data(days), days)
    verdicts = {}
    for day in days:
        previous = previous_trading_day(day)
        verdicts[day] = row_count_change_verdict(
            rows[day], warehouse.count_rows(market_data_table, previous), previous
        )
    yield from day_results(context, verdicts)


market_data_checks: list[AssetChecksDefinition] = [
    markets_covered,
    unique_keys,
    prices_consistent,
    not_all_zero,
    row_count_stable,
    within_price_limit,
]
