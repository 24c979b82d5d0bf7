"""KRX's all-ticker quote answers, parsed into typed `market_data` rows."""

from datetime import date

import pandas as pd

from adelie_assets.resources.krx_errors import KrxError

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


def _to_number(series: pd.Series) -> pd.Series:
    cleaned = series.astype(str).str.replace(",", "", regex=False).str.strip()
    return pd.to_numeric(cleaned.where(~cleaned.isin(["-", ""])), errors="coerce")


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
    frame = pd.DataFrame(
        {
            "trade_date": day,
            "ticker": raw["ISU_SRT_CD"].astype(str).str.strip(),
            "name": raw["ISU_ABBRV"].astype(str).str.strip(),
            "market": MARKETS[market_code],
        }
    )
    for field, column in _RAW_FIELDS.items():
        frame[column] = _to_number(raw[field])
    for column in ("open", "high", "low", "close", "volume", "trading_value", "market_cap"):
        frame[column] = frame[column].astype("Int64")
    frame["change_pct"] = frame["change_pct"].astype("float64")
    frame["halted"] = frame["volume"].fillna(0).eq(0)
    frame.loc[frame["halted"], ["open", "high", "low"]] = pd.NA
    return frame[COLUMNS].reset_index(drop=True)
