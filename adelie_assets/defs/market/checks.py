"""Data-quality checks of `market_data`, recorded by its own step on the rows it wrote (a check-only
run reads them from the warehouse).

The verdicts live in verdicts.py. The step evaluates them on the new rows before the write, with two
that only make sense there (`MARKET_DATA_VALIDATION`); a blocking one that fails refuses the day
(lib/validate.py). How partitioned checks behave: docs/dagster-notes.md.
"""

from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd
from dagster import AssetCheckSeverity

from adelie_assets.calendar import previous_trading_day
from adelie_assets.defs.keys import MARKET_DATA
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
    traded_rows,
    unique_keys_verdict,
)
from adelie_assets.lib.partitioned_checks import (
    CheckedDays,
    DailyCheck,
    Verdict,
    daily_check,
    examples,
    range_check,
)
from adelie_assets.resources.warehouse import Warehouse, market_data_table

# --- the checks --------------------------------------------------------------------------------

# The reader the checks read market_data with, and the step stages its new rows under (this object,
# so that a reader patched on the class later, e.g. by a test, cannot hide the staged rows).
READ_MARKET_DATA = Warehouse.read_market_data


def _daily(
    name: str, verdict_of: Callable[[pd.DataFrame], Verdict], description: str, **kwargs: Any
) -> DailyCheck:
    return daily_check(
        MARKET_DATA, name, verdict_of, reads=(READ_MARKET_DATA,), description=description, **kwargs
    )


def row_count_change_verdicts(checked: CheckedDays) -> dict[date, Verdict]:
    rows = checked.rows(READ_MARKET_DATA)
    verdicts = {}
    for day in checked.days:
        previous = previous_trading_day(day)
        # Inside a range the previous day's rows are already read; only the first day needs a count.
        previous_rows = (
            len(rows[previous])
            if previous in rows
            else checked.warehouse.count_rows(market_data_table, previous)
        )
        verdicts[day] = row_count_change_verdict(rows[day], previous_rows, previous)
    return verdicts


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
# Needs the previous trading day's count too.
row_count_stable = range_check(
    MARKET_DATA,
    "row_count_stable",
    row_count_change_verdicts,
    description=(
        f"WARN when the row count moves more than ±{ROW_COUNT_CHANGE_LIMIT:.0%} from the previous "
        "trading day's rows in the warehouse."
    ),
    severity=AssetCheckSeverity.WARN,
    blocking=False,
)
within_price_limit = _daily(
    "within_price_limit",
    price_limit_verdict,
    f"WARN when more than {LIMIT_BREACH_SHARE:.0%} of traded tickers moved beyond the "
    f"±{PRICE_LIMIT_PCT:.0f}% daily price limit.",
    severity=AssetCheckSeverity.WARN,
    blocking=False,
)


# Recorded by market_data's own step, on the rows it wrote.
MARKET_DATA_CHECKS: list[DailyCheck] = [
    markets_covered,
    unique_keys,
    prices_consistent,
    not_all_zero,
    row_count_stable,
    within_price_limit,
]


# --- only before the write -----------------------------------------------------------------------
# Every traded ticker's numbers were parsed, and the row count is not far from the previous trading
# day's (a looser bound than row_count_stable's, which flags a move for a human; this one refuses an
# answer that lists far more or far fewer tickers than a market has). Not recorded as checks.

ROW_COUNT_GUARD_LIMIT = 0.20  # share of the previous trading day's rows; the WARN check flags 5 %
NUMBER_FIELDS = ("close", "volume", "trading_value", "change_pct", "market_cap")


def numbers_parsed_verdict(rows: pd.DataFrame) -> Verdict:
    traded = traded_rows(rows)
    missing = {
        column: traded.loc[traded[column].isna(), "ticker"] for column in NUMBER_FIELDS if column in traded
    }
    missing = {column: tickers for column, tickers in missing.items() if len(tickers)}
    if missing:
        found = "; ".join(f"{column} of {examples(tickers)}" for column, tickers in missing.items())
        return Verdict(False, f"Traded tickers without a number: {found}.", {"fields": sorted(missing)})
    return Verdict(True, f"Every number of the {len(traded)} traded tickers is present.")


def row_count_guard_verdicts(checked: CheckedDays) -> dict[date, Verdict]:
    verdicts = {}
    for day, verdict in row_count_change_verdicts(checked).items():
        change = float(verdict.metadata.get("change_pct", 0.0)) / 100
        if abs(change) <= ROW_COUNT_GUARD_LIMIT:
            verdicts[day] = verdict
            continue
        metadata = verdict.metadata
        rows, previous, previous_rows = metadata["rows"], metadata["previous_day"], metadata["previous_rows"]
        verdicts[day] = Verdict(
            False,
            f"{rows} rows vs {previous_rows} stored for {previous} ({change:+.1%}, more than "
            f"±{ROW_COUNT_GUARD_LIMIT:.0%}): KRX listed far more or far fewer tickers than a day has. If the "
            f"rows of {previous} are the wrong ones, re-run {previous} first.",
            verdict.metadata,
        )
    return verdicts


MARKET_DATA_VALIDATION: list[DailyCheck] = [
    *MARKET_DATA_CHECKS,
    _daily("numbers_parsed", numbers_parsed_verdict, "Every traded ticker's numbers were parsed."),
    range_check(
        MARKET_DATA,
        "row_count_vs_previous_day",
        row_count_guard_verdicts,
        description=f"Within ±{ROW_COUNT_GUARD_LIMIT:.0%} of the previous trading day's stored rows.",
    ),
]
