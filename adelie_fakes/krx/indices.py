"""The MDCSTAT00301 answers (one index's daily OHLCV over a date range), agreeing with the served quotes.

A synthetic index is its market's total market cap of the template tickers, scaled so that its
2021-01-04 close is the real one: so its daily change is exactly the market-cap-weighted change of
the market's stocks (weights: the previous day's caps), and its volume, value and cap are the sums of
the rows the fake serves for that market and day. Open/high/low scale the same way from the stocks'
opens/highs/lows (widened to contain open and close). Recorded answers are served verbatim for
exactly their request.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import importlib.resources
import json
from typing import Any

import numpy as np

from adelie_fakes.krx.answers import _market
from adelie_fakes.krx.prices import IntArray, _current_datetime, _fmt, _krx_now, is_trading_day

INDEX_OHLCV_BLD = "dbms/MDC/STAT/standard/MDCSTAT00301"

# (indIdx, indIdx2) -> the market whose template tickers make the index, and its real 2021-01-04 close.
INDICES: dict[tuple[str, str], tuple[str, float]] = {
    ("1", "001"): ("STK", 2944.45),  # KOSPI (recorded answer)
    ("2", "001"): ("KSQ", 977.62),  # KOSDAQ (published close of 2021-01-04)
}

# (indIdx, indIdx2, strtDd, endDd) of the recorded answers in samples/.
_SAMPLES = {
    ("1", "001", "20210101", "20210101"),
    ("1", "001", "20210116", "20210123"),
    ("1", "001", "20210101", "20210130"),
}


def sample_name(ind_idx: str, ind_idx2: str, strt_dd: str, end_dd: str) -> str:
    return f"MDCSTAT00301_endDd={end_dd}_indIdx={ind_idx}_indIdx2={ind_idx2}_strtDd={strt_dd}"


@functools.cache
def _sample(name: str) -> dict[str, Any]:
    resource = importlib.resources.files("adelie_fakes.krx") / "samples" / f"{name}.json.gz"
    return json.loads(gzip.decompress(resource.read_bytes()))


def market_of(ind_idx: str) -> str:
    """The mktId an index request counts as, for faults scoped to markets ("" when unknown)."""
    return {"1": "STK", "2": "KSQ"}.get(ind_idx, "")


def _fmt_points(value: float) -> str:
    return f"{value:,.2f}"


def _fmt_signed(value: float) -> str:
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


@functools.cache
def _members(mkt_id: str) -> IntArray:
    return np.array([i for i, row in enumerate(_market().rows) if row["MKT_ID"] == mkt_id], dtype=np.int64)


@functools.cache
def _anchor_cap(mkt_id: str) -> float:
    market, members = _market(), _members(mkt_id)
    return float(np.dot(market.close0[members], market.shares_array[members]))


@functools.lru_cache(maxsize=8_192)
def _index_days(day: dt.date) -> dict[str, dict[str, float | int]]:
    # Both indices at once: one day's arrays serve the KOSPI and the KOSDAQ request of a backfill chunk.
    market = _market()
    arrays = market.day_arrays(day)
    out = {}
    for mkt_id, base_close in INDICES.values():
        members = _members(mkt_id)
        shares = market.shares_array[members]
        scale = base_close / _anchor_cap(mkt_id)

        def level(
            prices: IntArray, members: IntArray = members, shares: IntArray = shares, scale: float = scale
        ) -> float:
            return float(np.dot(prices[members], shares)) * scale

        close, previous, open_ = level(arrays["close"]), level(arrays["previous"]), level(arrays["open"])
        traded = members[~market.halted[members]]
        out[mkt_id] = {
            "close": close,
            "previous": previous,
            "open": open_,
            "high": max(level(arrays["high"]), open_, close),
            "low": min(level(arrays["low"]), open_, close),
            "volume": int(arrays["volume"][traded].sum()),
            "value": int(arrays["value"][traded].sum()),
            "cap": int(np.dot(arrays["close"][members], shares)),
        }
    return out


def index_day(mkt_id: str, day: dt.date) -> dict[str, float | int]:
    """A trading day of the synthetic index of ``mkt_id``: unrounded levels, sums of the served rows."""
    return _index_days(day)[mkt_id]


def _row(mkt_id: str, day: dt.date) -> dict[str, str]:
    index = index_day(mkt_id, day)
    close, previous = round(index["close"], 2), round(index["previous"], 2)
    change = round(close - previous, 2)
    return {
        "TRD_DD": f"{day:%Y/%m/%d}",
        "CLSPRC_IDX": _fmt_points(close),
        "FLUC_TP_CD": "1" if change > 0 else "2" if change < 0 else "3",
        "PRV_DD_CMPR": _fmt_signed(change),
        "UPDN_RATE": _fmt_signed(change / previous * 100),
        "OPNPRC_IDX": _fmt_points(index["open"]),
        "HGPRC_IDX": _fmt_points(index["high"]),
        "LWPRC_IDX": _fmt_points(index["low"]),
        "ACC_TRDVOL": _fmt(int(index["volume"])),
        "ACC_TRDVAL": _fmt(int(index["value"])),
        "MKTCAP": _fmt(int(index["cap"])),
    }


def apply_index_fault(body: dict[str, Any], fault: Any) -> dict[str, Any]:
    """The row faults on an index answer: `all_dash` dashes every value, `empty_rows` drops the rows
    (the fault's market scope was applied to the request: indIdx 1 is STK, 2 is KSQ)."""
    name = None if fault is None else fault.name
    if name == "all_dash":
        body["output"] = [{**row, **{k: "-" for k in row if k != "TRD_DD"}} for row in body["output"]]
    elif name == "empty_rows":
        body["output"] = []
    return body


def _parse_day(text: str) -> dt.date | None:
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def index_answer(ind_idx: str, ind_idx2: str, strt_dd: str, end_dd: str) -> dict[str, Any]:
    """The MDCSTAT00301 body for one index and range: rows newest first, as KRX orders them."""
    if (ind_idx, ind_idx2, strt_dd, end_dd) in _SAMPLES:
        return json.loads(json.dumps(_sample(sample_name(ind_idx, ind_idx2, strt_dd, end_dd))))
    start, end, index = _parse_day(strt_dd), _parse_day(end_dd), INDICES.get((ind_idx, ind_idx2))
    if start is None or end is None or index is None:
        return {"output": [], "CURRENT_DATETIME": _krx_now()}
    mkt_id = index[0]
    rows = []
    day = end
    while day >= start:
        if is_trading_day(day):
            rows.append(_row(mkt_id, day))
        day -= dt.timedelta(days=1)
    return {"output": rows, "CURRENT_DATETIME": _current_datetime(end)}
