"""KRX's index answers (MDCSTAT00301, pykrx's `개별지수시세`), parsed into typed `market_indices` rows."""

from datetime import date, datetime

import pandas as pd

from adelie_assets.resources.krx_errors import KrxError

# Index name -> KRX's (indIdx, indIdx2): the group (1 KOSPI, 2 KOSDAQ) and the composite within it.
INDICES: dict[str, tuple[str, str]] = {"KOSPI": ("1", "001"), "KOSDAQ": ("2", "001")}

INDEX_COLUMNS = [
    "trade_date",
    "index_name",
    "open",
    "high",
    "low",
    "close",
    "change_pct",
    "volume",
    "trading_value",
    "market_cap",
]

_RAW_FIELDS = {
    "OPNPRC_IDX": "open",
    "HGPRC_IDX": "high",
    "LWPRC_IDX": "low",
    "CLSPRC_IDX": "close",
    "UPDN_RATE": "change_pct",
    "ACC_TRDVOL": "volume",
    "ACC_TRDVAL": "trading_value",
    "MKTCAP": "market_cap",
}
_POINTS = ("open", "high", "low", "close", "change_pct")
_AMOUNTS = ("volume", "trading_value", "market_cap")


def _to_number(series: pd.Series) -> pd.Series:
    cleaned = series.astype(str).str.replace(",", "", regex=False).str.strip()
    return pd.to_numeric(cleaned.where(~cleaned.isin(["-", ""])), errors="coerce")


def _to_date(text: str, index_name: str) -> date:
    try:
        return datetime.strptime(text.strip(), "%Y/%m/%d").date()
    except ValueError:
        raise KrxError(
            f"KRX answered {index_name} index rows with the date {text!r}, not YYYY/MM/DD: the KRX data "
            "format may have changed."
        ) from None


def parse_index_rows(raw: pd.DataFrame, index_name: str) -> pd.DataFrame:
    """KRX's daily rows of one index (newest first, strings like "3,140.63" and "-") to typed rows of
    `INDEX_COLUMNS`, oldest first. Points keep KRX's two decimals; a "-" becomes NaN/NA."""
    missing = [field for field in ("TRD_DD", *_RAW_FIELDS) if field not in raw.columns]
    if missing:
        raise KrxError(
            f"KRX answered {index_name} index rows without the fields {missing}: the KRX data format may "
            "have changed, or the answer is an error page."
        )
    frame = pd.DataFrame(
        {
            "trade_date": [_to_date(str(text), index_name) for text in raw["TRD_DD"]],
            "index_name": index_name,
        }
    )
    for field, column in _RAW_FIELDS.items():
        frame[column] = _to_number(raw[field]).to_numpy()
    for column in _POINTS:
        frame[column] = frame[column].astype("float64")
    for column in _AMOUNTS:
        frame[column] = frame[column].astype("Int64")
    return frame[INDEX_COLUMNS].sort_values("trade_date", ignore_index=True)
