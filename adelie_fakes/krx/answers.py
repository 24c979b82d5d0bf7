"""The MDCSTAT01501 answers: recorded samples served verbatim, synthetic trading days, dashed holidays."""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import importlib.resources
import json
from typing import Any

from adelie_fakes.krx.prices import (
    _current_datetime,
    _krx_now,
    _SyntheticMarket,
    is_trading_day,
)

ALL_TICKER_QUOTES_BLD = "dbms/MDC/STAT/standard/MDCSTAT01501"
MARKETS: tuple[str, ...] = ("STK", "KSQ", "KNX")

_SAMPLES_PACKAGE = "adelie_fakes.krx"
_SAMPLES_DIR = "samples"
# (mktId, trdDd) -> recorded answer; a recorded ALL answer also serves its STK/KSQ/KNX subsets.
_SAMPLES: dict[tuple[str, str], str] = {
    ("ALL", "20210104"): "MDCSTAT01501_mktId=ALL_trdDd=20210104",
    ("STK", "20210122"): "MDCSTAT01501_mktId=STK_trdDd=20210122",
    ("STK", "20210123"): "MDCSTAT01501_mktId=STK_trdDd=20210123",
}
_TEMPLATE_SAMPLE = _SAMPLES[("ALL", "20210104")]

_DASH_FIELDS = (
    "TDD_CLSPRC",
    "CMPPREVDD_PRC",
    "FLUC_RT",
    "TDD_OPNPRC",
    "TDD_HGPRC",
    "TDD_LWPRC",
    "ACC_TRDVOL",
    "ACC_TRDVAL",
    "MKTCAP",
)


@functools.cache
def _sample(name: str) -> dict[str, Any]:
    resource = importlib.resources.files(_SAMPLES_PACKAGE) / _SAMPLES_DIR / f"{name}.json.gz"
    return json.loads(gzip.decompress(resource.read_bytes()))


def load_sample(mkt_id: str, trd_dd: str) -> dict[str, Any] | None:
    """The recorded KRX answer (body) for MDCSTAT01501 ``(mkt_id, trd_dd)``, or None. A fresh copy."""
    body = _verbatim(mkt_id, trd_dd)
    return None if body is None else _copy_body(body)


def _verbatim(mkt_id: str, trd_dd: str) -> dict[str, Any] | None:
    name = _SAMPLES.get((mkt_id, trd_dd))
    if name is not None:
        return _sample(name)
    all_name = _SAMPLES.get(("ALL", trd_dd))
    if all_name is not None and mkt_id in MARKETS:
        whole = _sample(all_name)
        rows = [row for row in whole["OutBlock_1"] if row["MKT_ID"] == mkt_id]
        return {"OutBlock_1": rows, "CURRENT_DATETIME": whole["CURRENT_DATETIME"]}
    return None


@functools.cache
def _market() -> _SyntheticMarket:
    return _SyntheticMarket(_sample(_TEMPLATE_SAMPLE)["OutBlock_1"])


def _indices(mkt_id: str) -> list[int]:
    rows = _market().rows
    if mkt_id == "ALL":
        return list(range(len(rows)))
    return [i for i, row in enumerate(rows) if row["MKT_ID"] == mkt_id]


def _dash_row(row: dict[str, str]) -> dict[str, str]:
    dashed = dict(row)
    for key in _DASH_FIELDS:
        dashed[key] = "-"
    dashed["FLUC_TP_CD"] = "3"
    return dashed


def _parse_day(trd_dd: str) -> dt.date | None:
    if len(trd_dd) != 8 or not trd_dd.isdigit():
        return None
    try:
        return dt.datetime.strptime(trd_dd, "%Y%m%d").date()
    except ValueError:
        return None


def _build_quotes(mkt_id: str, trd_dd: str) -> dict[str, Any]:
    recorded = _verbatim(mkt_id, trd_dd)
    if recorded is not None:
        return recorded
    day = _parse_day(trd_dd)
    if day is None or (mkt_id != "ALL" and mkt_id not in MARKETS):
        return {"OutBlock_1": [], "CURRENT_DATETIME": _krx_now()}
    market = _market()
    indices = _indices(mkt_id)
    if is_trading_day(day):
        rows = market.trading_rows(day, indices)
    else:
        rows = [_dash_row(market.rows[i]) for i in indices]
    return {"OutBlock_1": rows, "CURRENT_DATETIME": _current_datetime(day)}


def _serialise(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@functools.lru_cache(maxsize=64)
def _cached_quotes(mkt_id: str, trd_dd: str) -> tuple[dict[str, Any], bytes]:
    # Callers must not mutate the cached body; _copy_body() before changing rows.
    body = _build_quotes(mkt_id, trd_dd)
    return body, _serialise(body)


def _copy_body(body: dict[str, Any]) -> dict[str, Any]:
    copied = dict(body)
    for key, value in body.items():
        if isinstance(value, list):
            copied[key] = [dict(row) for row in value]
    return copied


def quotes_answer(mkt_id: str, trd_dd: str) -> dict[str, Any]:
    """The MDCSTAT01501 answer body the fake serves for ``(mkt_id, trd_dd)`` without faults (a copy)."""
    return _copy_body(_cached_quotes(mkt_id, trd_dd)[0])
