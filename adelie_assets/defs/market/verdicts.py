"""The verdicts on one day's `market_data` rows (pure: rows in, verdict out), its checks (checks.py):
the asset's step evaluates them on the new rows before the write and records them.

Thresholds are loose on purpose: listings and delistings move the ~950 KOSPI and ~1,700 KOSDAQ
tickers by a handful a day.
"""

from datetime import date

import pandas as pd

from adelie_assets.lib.partitioned_checks import Verdict, examples

MARKETS = ("KOSPI", "KOSDAQ")
MIN_ROWS_PER_MARKET = 500
MAX_ROWS_PER_MARKET = 3_000
ROW_COUNT_CHANGE_LIMIT = 0.05  # share of the previous trading day's rows
PRICE_LIMIT_PCT = 30.0  # KRX daily price limit since 2015
LIMIT_BREACH_SHARE = 0.01  # share of traded tickers allowed beyond the limit (new listings)


def traded_rows(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[~rows["halted"].astype(bool)]


# --- the verdicts (pure: one day's rows in, verdict out) ----------------------------------------


def markets_covered_verdict(rows: pd.DataFrame) -> Verdict:
    counts = (
        {m: int((rows["market"] == m).sum()) for m in MARKETS}
        if not rows.empty
        else dict.fromkeys(MARKETS, 0)
    )
    bad = {m: n for m, n in counts.items() if not MIN_ROWS_PER_MARKET <= n <= MAX_ROWS_PER_MARKET}
    metadata: dict[str, object] = {
        "rows_kospi": counts["KOSPI"],
        "rows_kosdaq": counts["KOSDAQ"],
        "rows_total": len(rows),
        "plausible_range_per_market": f"{MIN_ROWS_PER_MARKET}-{MAX_ROWS_PER_MARKET}",
    }
    if bad:
        found = ", ".join(f"{m} {n} rows" for m, n in bad.items())
        return Verdict(
            False,
            f"Implausible ticker counts ({found}; expected {MIN_ROWS_PER_MARKET}-{MAX_ROWS_PER_MARKET} "
            "per market): KRX answered partially or a market is missing. Re-run the partition.",
            metadata,
        )
    return Verdict(True, f"KOSPI {counts['KOSPI']} and KOSDAQ {counts['KOSDAQ']} tickers.", metadata)


def unique_keys_verdict(rows: pd.DataFrame) -> Verdict:
    duplicated = rows[rows.duplicated(["trade_date", "ticker"], keep=False)] if not rows.empty else rows
    keys = duplicated["ticker"].drop_duplicates() if not duplicated.empty else pd.Series(dtype=str)
    metadata: dict[str, object] = {"rows": len(rows), "duplicated_keys": len(keys)}
    if len(keys):
        metadata["examples"] = examples(keys)
        return Verdict(
            False, f"{len(keys)} (trade_date, ticker) keys appear more than once: {examples(keys)}.", metadata
        )
    return Verdict(True, f"All {len(rows)} (trade_date, ticker) keys are unique.", metadata)


def prices_consistent_verdict(rows: pd.DataFrame) -> Verdict:
    traded = traded_rows(rows)
    prices = traded[["open", "high", "low", "close"]].apply(pd.to_numeric, errors="coerce")
    missing = prices.isna().any(axis=1) | (prices <= 0).any(axis=1)
    disordered = (prices["low"] > prices[["open", "close"]].min(axis=1)) | (
        prices[["open", "close"]].max(axis=1) > prices["high"]
    )
    # A halted ticker keeps its last close, so its close must be a price too.
    close = pd.to_numeric(rows["close"], errors="coerce")
    bad_close = rows.loc[close.isna() | (close <= 0), "ticker"]
    missing_tickers = pd.concat([traded.loc[missing, "ticker"], bad_close]).drop_duplicates()
    disordered_tickers = traded.loc[disordered & ~missing, "ticker"]
    bad = pd.concat([missing_tickers, disordered_tickers]).drop_duplicates()
    metadata: dict[str, object] = {
        "traded_tickers": len(traded),
        "missing_or_non_positive_prices": len(missing_tickers),
        "low_open_close_high_violations": len(disordered_tickers),
    }
    if len(bad):
        metadata["examples"] = examples(bad)
        return Verdict(
            False,
            f"{len(bad)} tickers have missing, non-positive or inconsistent prices "
            f"(need low <= open, close <= high): {examples(bad)}.",
            metadata,
        )
    return Verdict(True, f"Prices of all {len(traded)} traded tickers are positive and consistent.", metadata)


def not_all_zero_verdict(rows: pd.DataFrame) -> Verdict:
    traded = traded_rows(rows)
    volume = int(pd.to_numeric(rows["volume"], errors="coerce").fillna(0).sum())
    value = int(pd.to_numeric(rows["trading_value"], errors="coerce").fillna(0).sum())
    metadata: dict[str, object] = {
        "rows": len(rows),
        "traded_tickers": len(traded),
        "total_volume": volume,
        "total_trading_value_krw": value,
    }
    if rows.empty or traded.empty or volume == 0 or value == 0:
        return Verdict(
            False,
            "No trading at all on a KRX trading day (no traded ticker, zero volume or zero value): "
            "KRX served a closed-day answer. Re-run once KRX has the day's data.",
            metadata,
        )
    return Verdict(True, f"{len(traded)} tickers traded {value:,} KRW.", metadata)


def row_count_change_verdict(rows: pd.DataFrame, previous_rows: int, previous_day: date) -> Verdict:
    metadata: dict[str, object] = {
        "rows": len(rows),
        "previous_day": previous_day.isoformat(),
        "previous_rows": previous_rows,
        "limit_pct": ROW_COUNT_CHANGE_LIMIT * 100,
    }
    if previous_rows == 0:
        return Verdict(True, f"No rows of {previous_day} in the warehouse to compare with.", metadata)
    change = (len(rows) - previous_rows) / previous_rows
    metadata["change_pct"] = round(change * 100, 2)
    if abs(change) > ROW_COUNT_CHANGE_LIMIT:
        return Verdict(
            False,
            f"{len(rows)} rows vs {previous_rows} on {previous_day} ({change:+.1%}, limit "
            f"±{ROW_COUNT_CHANGE_LIMIT:.0%}): a market may be partly missing.",
            metadata,
        )
    return Verdict(True, f"{len(rows)} rows vs {previous_rows} on {previous_day} ({change:+.1%}).", metadata)


def price_limit_verdict(rows: pd.DataFrame) -> Verdict:
    traded = traded_rows(rows)
    change = pd.to_numeric(traded["change_pct"], errors="coerce").abs()
    beyond = traded.loc[change > PRICE_LIMIT_PCT, "ticker"]
    share = len(beyond) / len(traded) if len(traded) else 0.0
    metadata: dict[str, object] = {
        "traded_tickers": len(traded),
        "beyond_limit": len(beyond),
        "beyond_limit_share_pct": round(share * 100, 2),
        "allowed_share_pct": LIMIT_BREACH_SHARE * 100,
    }
    if len(beyond):
        metadata["examples"] = examples(beyond)
    if share > LIMIT_BREACH_SHARE:
        return Verdict(
            False,
            f"{len(beyond)} of {len(traded)} traded tickers ({share:.1%}) moved beyond the "
            f"±{PRICE_LIMIT_PCT:.0f}% daily limit, more than new listings explain: check change_pct parsing.",
            metadata,
        )
    return Verdict(True, f"{len(beyond)} tickers beyond ±{PRICE_LIMIT_PCT:.0f}% ({share:.2%}).", metadata)
