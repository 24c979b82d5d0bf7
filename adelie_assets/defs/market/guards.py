"""The guards of `market_data`: what must hold for a KRX answer before it replaces a day's rows.

The blocking checks' verdicts, plus two that only make sense before the write: every traded
ticker's numbers were parsed, and the row count is not far from the previous trading day's (a looser
bound than the WARN check's, which flags a move for a human; this one refuses an answer that lists far
more or far fewer tickers than a market has).
"""

from datetime import date

import pandas as pd

from adelie_assets.calendar import previous_trading_day
from adelie_assets.defs.market.verdicts import (
    markets_covered_verdict,
    not_all_zero_verdict,
    prices_consistent_verdict,
    row_count_change_verdict,
    traded_rows,
    unique_keys_verdict,
)
from adelie_assets.lib.guards import Guard, rows_guard
from adelie_assets.lib.partitioned_checks import examples
from adelie_assets.lib.verdicts import Verdict
from adelie_assets.resources.warehouse import Warehouse, market_data_table

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


def _row_count_vs_previous_day(rows: pd.DataFrame, day: date, warehouse: Warehouse) -> Verdict:
    previous = previous_trading_day(day)
    previous_rows = warehouse.count_rows(market_data_table, previous)
    verdict = row_count_change_verdict(rows, previous_rows, previous)
    change = float(verdict.metadata.get("change_pct", 0.0)) / 100
    if abs(change) <= ROW_COUNT_GUARD_LIMIT:
        return Verdict(True, verdict.description, verdict.metadata)
    return Verdict(
        False,
        f"{len(rows)} rows vs {previous_rows} stored for {previous} ({change:+.1%}, more than "
        f"±{ROW_COUNT_GUARD_LIMIT:.0%}): KRX listed far more or far fewer tickers than a day has. If the "
        f"rows of {previous} are the wrong ones, re-run {previous} first.",
        verdict.metadata,
    )


MARKET_DATA_GUARDS: tuple[Guard, ...] = (
    rows_guard("markets_covered", markets_covered_verdict),
    rows_guard("unique_keys", unique_keys_verdict),
    rows_guard("prices_consistent", prices_consistent_verdict),
    rows_guard("numbers_parsed", numbers_parsed_verdict),
    rows_guard("not_all_zero", not_all_zero_verdict),
    Guard("row_count_vs_previous_day", _row_count_vs_previous_day),
)
