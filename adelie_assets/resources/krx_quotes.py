"""KRX's all-ticker quote answers, parsed into typed `market_data` rows.

Parsing refuses what it cannot read (a number like `1.53%` or `1.234.567`, a NUL byte in a name)
with a `KrxDataError` naming the field, the value and the ticker, instead of storing NULL.
"""

import re
from datetime import date

import pandas as pd

from adelie_assets.resources.krx_errors import KrxDataError, KrxError

# KONEX is left out on purpose: the app covers the two main boards only.
MARKETS = {"STK": "KOSPI", "KSQ": "KOSDAQ"}

COLUMNS = [
    "trade_date",
    "ticker",
    "name",
    "market",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "trading_value",
    "change_pct",
    "market_cap",
    "halted",
]

_RAW_FIELDS = {
    "TDD_OPNPRC": "open",
    "TDD_HGPRC": "high",
    "TDD_LWPRC": "low",
    "TDD_CLSPRC": "close",
    "ACC_TRDVOL": "volume",
    "ACC_TRDVAL": "trading_value",
    "FLUC_RT": "change_pct",
    "MKTCAP": "market_cap",
}


_INTEGER_FIELDS = {"TDD_OPNPRC", "TDD_HGPRC", "TDD_LWPRC", "TDD_CLSPRC", "ACC_TRDVOL", "ACC_TRDVAL", "MKTCAP"}
# KRX writes "4,210", "-4,210", "0", "1.53", "-0.50"; "-" or "" means no value.
_DIGITS = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)"
_INTEGER = re.compile(rf"{_DIGITS}")
_DECIMAL = re.compile(rf"{_DIGITS}(?:\.\d+)?")
_MISSING = ("-", "")
# Postgres cannot store NUL; other C0 controls but tab and newlines mean a garbled answer.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _to_number(series: pd.Series, field: str, tickers: pd.Series, what: str) -> pd.Series:
    text = series.astype(str).str.strip()
    missing = text.isin(_MISSING)
    pattern = _INTEGER if field in _INTEGER_FIELDS else _DECIMAL
    unreadable = ~missing & ~text.str.fullmatch(pattern).fillna(False).astype(bool)
    if unreadable.any():
        first = unreadable[unreadable].index[0]
        more = int(unreadable.sum()) - 1
        kind = "an integer" if field in _INTEGER_FIELDS else "a number"
        raise KrxDataError(
            f"KRX answered {what} with {field} ({_RAW_FIELDS[field]}) = {series[first]!r} for ticker "
            f"{tickers[first]}, which is not "
            f"{kind}" + (f" (and {more} more rows like it)" if more else "") + ": the answer is refused, "
            "nothing is stored. The KRX data format may have changed; the parser needs updating."
        )
    return pd.to_numeric(text.where(~missing).str.replace(",", "", regex=False))


def _text(series: pd.Series, field: str, tickers: pd.Series, what: str) -> pd.Series:
    text = series.astype(str)
    garbled = text.str.contains(_CONTROL)
    if garbled.any():
        first = garbled[garbled].index[0]
        raise KrxDataError(
            f"KRX answered {what} with a control character (e.g. a NUL byte) in {field} = {series[first]!r} "
            f"for ticker {tickers[first]!r}: the answer is refused, nothing is stored."
        )
    return text.str.strip()


def parse_quotes(raw: pd.DataFrame, market_code: str, day: date) -> pd.DataFrame:
    """KRX's all-ticker quote rows (strings like "4,210" and "-") to typed rows of `COLUMNS`.

    Halted tickers (volume 0) are kept with `halted=True`: their close and market cap are real,
    but KRX reports their open/high/low as 0, which would be wrong data, so those are NULL.
    """
    missing = [field for field in ("ISU_SRT_CD", "ISU_ABBRV", *_RAW_FIELDS) if field not in raw.columns]
    if missing:
        raise KrxError(
            f"KRX answered {MARKETS[market_code]} quotes for {day} without the fields {missing}: "
            "the KRX data format may have changed, or the answer is an error page."
        )
    what = f"{MARKETS[market_code]} quotes of {day}"
    raw = raw.reset_index(drop=True)
    tickers = _text(raw["ISU_SRT_CD"], "ISU_SRT_CD", raw["ISU_SRT_CD"].astype(str), what)
    if tickers.eq("").any():
        raise KrxDataError(f"KRX answered {what} with a row without a ticker (ISU_SRT_CD is empty).")
    frame = pd.DataFrame(
        {
            "trade_date": day,
            "ticker": tickers,
            "name": _text(raw["ISU_ABBRV"], "ISU_ABBRV", tickers, what),
            "market": MARKETS[market_code],
        }
    )
    for field, column in _RAW_FIELDS.items():
        frame[column] = _to_number(raw[field], field, tickers, what)
    for column in ("open", "high", "low", "close", "volume", "trading_value", "market_cap"):
        frame[column] = frame[column].astype("Int64")
    frame["change_pct"] = frame["change_pct"].astype("float64")
    frame["halted"] = frame["volume"].fillna(0).eq(0)
    frame.loc[frame["halted"], ["open", "high", "low"]] = pd.NA
    return frame[COLUMNS].reset_index(drop=True)
