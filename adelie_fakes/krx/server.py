"""A fake of the KRX data service (data.krx.co.kr) that runs locally, for tests and benchmarks.

What it imitates
----------------
pykrx 1.2.9 talks to KRX over plain HTTP with ``requests``. This module runs a real HTTP server on
127.0.0.1 that answers the same paths the same way:

* login, as in ``pykrx/website/comm/auth.py``:
  ``GET /contents/MDC/COMS/client/MDCCOMS001.cmd`` (hands out a not yet logged-in ``JSESSIONID`` cookie),
  ``GET /contents/MDC/COMS/client/view/login.jsp?site=mdc`` (an HTML page), and
  ``POST /contents/MDC/COMS/client/MDCCOMS001D1.cmd`` with the form fields ``mbrId``/``pw``. It answers
  ``{"_error_code": "CD001", ...}`` plus a new logged-in ``JSESSIONID`` cookie when the credentials match,
  and ``{"_error_code": "CD002", ...}`` when they don't.
* data: ``POST /comm/bldAttendant/getJsonData.cmd``, form-encoded (``bld=...&mktId=...&trdDd=...``).
  The answer is JSON, but KRX labels it ``text/html; charset=utf-8``, and so does the fake.
  Without a logged-in ``JSESSIONID`` (when ``require_login``), KRX answers HTTP 400 with the plain body
  ``LOGOUT``.

Only ``bld=dbms/MDC/STAT/standard/MDCSTAT01501`` is modelled. That is the quotes of every ticker on one
day, which pykrx's ``전종목시세`` and ``get_market_ohlcv_by_ticker`` / ``get_market_cap_by_ticker``
request. It takes ``mktId`` ``STK`` (KOSPI), ``KSQ`` (KOSDAQ), ``KNX`` (KONEX) or ``ALL`` and
``trdDd=YYYYMMDD``. The answer is ``{"OutBlock_1": [rows], "CURRENT_DATETIME": "..."}``:

* the fake has a real recorded answer for exactly that ``(mktId, trdDd)``: it serves it verbatim. Those
  are ALL/STK/KSQ/KNX on 20210104, STK on 20210122 and STK on 20210123 (see ``krx_samples/README.md``).
* a trading day (a weekday not in ``holidays.financial_holidays("XKRX")``): the rows of the 2021-01-04
  recording (2,531 tickers, the same for every date) with made-up prices. The prices depend only on the
  date and the ticker (the same date always gives the same bytes). Each ticker's close follows a
  mean-reverting random walk over the trading days, starting from the real close of 2021-01-04, so
  ``CMPPREVDD_PRC`` always equals the close minus the close of the previous trading day. The prices are
  on the KRX tick grid and within the daily limit (±30 %, ±15 % on KONEX). Most changes are within ±5 %,
  and a few tickers a day jump by up to the limit. Also: low <= open, close <= high; ACC_TRDVAL lies
  between volume x low and volume x high; MKTCAP = close x LIST_SHRS. FLUC_TP_CD works as in real KRX:
  1 up, 2 down, 3 unchanged, 4 closed at the upper limit, 5 at the lower limit. Tickers halted on
  2021-01-04 (ACC_TRDVOL "0", 112 of them) stay halted: FLUC_TP_CD "0", change "0"/"0.00",
  open/high/low/volume/value "0", and the close and MKTCAP of the recording. Numbers are formatted
  like KRX does it ("4,210", "-35", "-0.76"). Rows keep the recorded keys in the recorded order.
  ``CURRENT_DATETIME`` is fixed per date (``"YYYY.MM.DD PM 06:00:00"``) so that answers are
  byte-identical.
* a non-trading day: every ticker, with "-" in the price, change, volume, value and cap fields and
  FLUC_TP_CD "3", like the recorded Saturday 20210123.
* an unknown ``mktId``, or a ``trdDd`` that is not a date: ``{"OutBlock_1": [], ...}``.
* any other ``bld``: HTTP 200 ``{"output": [], "CURRENT_DATETIME": ...}``. Real KRX answers this way
  when a query has no data, so a client that asks for the wrong ``bld`` gets an empty, not an error.

Limits: the list of tickers is that of 2021-01-04 on every date (no listings, delistings or splits).
A synthetic day right after 20210122 does not continue from the recorded 20210122 prices.

Faults
------
``set_fault(name, markets=None, times=None, hang_seconds=None)`` switches a fault on at run time
(thread-safe); ``set_fault(None)`` switches it off. Only one fault is active at a time.

``markets`` limits a fault to requests for those markets. An ``ALL`` request counts as a request for each
market, and the faults that change rows (``all_dash``, ``empty_rows``, ``huge_volume``) then change only
the rows of those markets. ``times=N`` ends the fault after N requests it applied to (an outage that
ends). The data faults count data requests; the login faults count login POSTs.

===================  ============================================================================
``logout``           HTTP 400, body ``LOGOUT`` (the session stays valid; see ``expire_sessions()``)
``http_403``         HTTP 403 with an HTML body
``http_500``         HTTP 500 with an HTML body
``http_503``         HTTP 503 with an HTML body
``hang``             waits ``hang_seconds`` (default 30), then answers normally; ``stop()`` cuts it short
                     and closes the connection without an answer
``empty_body``       HTTP 200 with an empty body
``truncated_json``   HTTP 200 with the JSON cut off in the middle
``all_dash``         the holiday answer ("-" rows) even on a trading day
``empty_rows``       ``{"OutBlock_1": [], ...}`` (rows of the scoped markets removed)
``huge_volume``      the first traded row gets ACC_TRDVOL "3,000,000,000" (> 2**31) and a matching value
``bad_login``        the login POST answers CD002 for any credentials
``duplicate_login``  the login POST answers CD011 unless the form has ``skipDup=Y`` (pykrx then retries)
===================  ============================================================================

``fault`` / ``fault_remaining`` show the active fault; ``clear_fault()`` is ``set_fault(None)``.
``expire_sessions()`` logs every client out for real (data requests get LOGOUT until they log in again).
``latency`` (seconds, default 0) delays every data request, for benchmarks.

Observability: ``requests`` (a list of ``DataRequest(bld, mkt_id, trd_dd, start, end, status, fault)``,
with ``time.monotonic()`` times and status 0 for a request that was cut off). Each one is logged before
its answer is written. Also ``data_request_count``, ``login_count``, ``in_flight``, ``max_concurrent``
(the most data requests in flight at once), ``stats()`` (all of it as a dict) and ``reset()`` (clears the
log, the counters and the fault; keeps sessions and ``latency``).

Usage
-----
In a test (pykrx logs in at import time from KRX_ID/KRX_PW, so unset those before importing it)::

    from adelie_assets.fakes.krx_server import DATA_PATH, LOGIN_JSP_PATH, LOGIN_PAGE_PATH, LOGIN_PATH, FakeKrx

    with FakeKrx() as fake:                  # port 0: a free port; fake.url == "http://127.0.0.1:PORT"
        from pykrx.website.comm import auth
        from pykrx.website.krx import krxio

        krxio.KrxWebIo.url = property(lambda self: fake.url + DATA_PATH)    # or monkeypatch.setattr
        auth.LOGIN_PAGE = fake.url + LOGIN_PAGE_PATH
        auth.LOGIN_JSP = fake.url + LOGIN_JSP_PATH + "?site=mdc"
        auth.LOGIN_URL = fake.url + LOGIN_PATH
        session = auth.KRXSession()
        assert session.refresh("demo-user", "demo-pass")
        auth.set_auth_session(session)

        fake.set_fault("http_503", markets={"KSQ"}, times=2)
        ...
        assert fake.max_concurrent <= 4

From the command line (serves until Ctrl-C or SIGTERM and prints its URL on the first line; see
``--help`` for ``--user``, ``--password``, ``--no-login``, ``--latency`` and ``--hang-seconds``)::

    python -m adelie_assets.fakes.krx_server --port 8123
    curl -X POST http://127.0.0.1:8123/_fake/fault -d '{"fault": "http_500", "markets": ["KSQ"], "times": 2}'
    curl -X POST http://127.0.0.1:8123/_fake/fault -d '{"fault": null}'
    curl http://127.0.0.1:8123/_fake/stats
    curl -X POST http://127.0.0.1:8123/_fake/reset

Importing this module starts nothing. It does not import pykrx.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gzip
import http.cookies
import importlib.resources
import json
import secrets
import signal
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import holidays
import numpy as np
import numpy.typing as npt

__all__ = [
    "ALL_TICKER_QUOTES_BLD",
    "DATA_FAULTS",
    "DATA_PATH",
    "FAULTS",
    "LOGIN_FAULTS",
    "LOGIN_JSP_PATH",
    "LOGIN_PAGE_PATH",
    "LOGIN_PATH",
    "MARKETS",
    "DataRequest",
    "FakeKrx",
    "is_trading_day",
    "load_sample",
    "main",
    "quotes_answer",
]

DATA_PATH = "/comm/bldAttendant/getJsonData.cmd"
LOGIN_PAGE_PATH = "/contents/MDC/COMS/client/MDCCOMS001.cmd"
LOGIN_JSP_PATH = "/contents/MDC/COMS/client/view/login.jsp"
LOGIN_PATH = "/contents/MDC/COMS/client/MDCCOMS001D1.cmd"
CONTROL_FAULT_PATH = "/_fake/fault"
CONTROL_STATS_PATH = "/_fake/stats"
CONTROL_RESET_PATH = "/_fake/reset"

ALL_TICKER_QUOTES_BLD = "dbms/MDC/STAT/standard/MDCSTAT01501"
MARKETS: tuple[str, ...] = ("STK", "KSQ", "KNX")

DATA_FAULTS: tuple[str, ...] = (
    "logout",
    "http_403",
    "http_500",
    "http_503",
    "hang",
    "empty_body",
    "truncated_json",
    "all_dash",
    "empty_rows",
    "huge_volume",
)
LOGIN_FAULTS: tuple[str, ...] = ("bad_login", "duplicate_login")
FAULTS: tuple[str, ...] = DATA_FAULTS + LOGIN_FAULTS

HUGE_VOLUME = 3_000_000_000

_HTML = "text/html; charset=utf-8"
_SAMPLES_PACKAGE = "adelie_assets.fakes"
_SAMPLES_DIR = "krx_samples"
# (mktId, trdDd) -> recorded answer; a recorded ALL answer also serves its STK/KSQ/KNX subsets.
_SAMPLES: dict[tuple[str, str], str] = {
    ("ALL", "20210104"): "MDCSTAT01501_mktId=ALL_trdDd=20210104",
    ("STK", "20210122"): "MDCSTAT01501_mktId=STK_trdDd=20210122",
    ("STK", "20210123"): "MDCSTAT01501_mktId=STK_trdDd=20210123",
}
_TEMPLATE_SAMPLE = _SAMPLES[("ALL", "20210104")]
_ANCHOR = dt.date(2021, 1, 4)

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
_HALTED_FIELDS = {
    "FLUC_TP_CD": "0",
    "CMPPREVDD_PRC": "0",
    "FLUC_RT": "0.00",
    "TDD_OPNPRC": "0",
    "TDD_HGPRC": "0",
    "TDD_LWPRC": "0",
    "ACC_TRDVOL": "0",
    "ACC_TRDVAL": "0",
}
_LOGIN_MESSAGES = {
    "CD001": "정상",
    "CD002": "아이디 또는 비밀번호가 일치하지 않습니다.",
    "CD011": "이미 로그인된 사용자입니다.",
}
_ERROR_PAGES = {
    "http_403": (403, "Forbidden"),
    "http_500": (500, "Internal Server Error"),
    "http_503": (503, "Service Unavailable"),
}

# --- the price model ---------------------------------------------------------------------------------

FloatArray = npt.NDArray[np.float64]

_SEED = 0x4B5258  # any constant works; changing it changes every synthetic price
_CHECKPOINT_DAYS = 16  # trades memory for the length of the walk from the nearest stored day
_REVERSION = 0.02  # pulls each close back towards its 2021-01-04 close, so prices stay plausible for decades
_JUMP_PROBABILITY = 0.003  # a handful of big movers per day across 2,531 tickers
_BACKWARD_MARGIN = 0.03  # walking backwards, rounding of the previous close must not break the daily limit
# Keeps every synthetic volume below 2**31; the huge_volume fault is there to go above it.
_VOLUME_FACTOR_RANGE = (0.05, 8.0)
# KRX tick sizes since 2023-01-25 (KOSPI and KOSDAQ alike). Each bound is a multiple of the next tick size,
# so rounding to a lower band's tick never gives a price that is off the grid of the band above.
_TICK_BOUNDS = np.array([2_000, 5_000, 20_000, 50_000, 200_000, 500_000], dtype=np.float64)
_TICK_SIZES = np.array([1, 5, 10, 50, 100, 500, 1_000], dtype=np.float64)
_EPSILON = 1e-9  # 3000 * 0.7 is 2100.0000000000005 in floating point; must not round up a tick


def _tick(price: FloatArray) -> FloatArray:
    return _TICK_SIZES[np.searchsorted(_TICK_BOUNDS, price, side="right")]


def _round_tick(price: FloatArray) -> FloatArray:
    tick = _tick(price)
    return np.round(price / tick) * tick


def _floor_tick(price: FloatArray) -> FloatArray:
    tick = _tick(price)
    return np.floor(price / tick + _EPSILON) * tick


def _ceil_tick(price: FloatArray) -> FloatArray:
    tick = _tick(price)
    return np.ceil(price / tick - _EPSILON) * tick


_calendar_lock = threading.Lock()


@functools.cache
def _krx_holidays() -> holidays.HolidayBase:
    return holidays.financial_holidays("XKRX")


def is_trading_day(day: dt.date) -> bool:
    """True when KRX trades on ``day``: a weekday not in ``holidays.financial_holidays("XKRX")``."""
    if day.weekday() >= 5:
        return False
    # The holidays object fills in each year on first use; that fill-in is not thread-safe.
    with _calendar_lock:
        return day not in _krx_holidays()


@functools.cache
def _is_trading_ordinal(ordinal: int) -> bool:
    return is_trading_day(dt.date.fromordinal(ordinal))


def _num(text: str) -> int:
    return int(text.replace(",", ""))


def _fmt(value: int) -> str:
    return f"{value:,}"


def _fluc_rt(change: int, previous: int) -> str:
    # KRX rounds half away from zero; integer arithmetic avoids float's half-to-even on binary fractions.
    hundredths = (abs(change) * 20_000 + previous) // (2 * previous)
    sign = "-" if change < 0 else ""
    return f"{sign}{hundredths // 100}.{hundredths % 100:02d}"


def _current_datetime(day: dt.date) -> str:
    return f"{day:%Y.%m.%d} PM 06:00:00"


def _krx_now() -> str:
    return time.strftime("%Y.%m.%d %p %I:%M:%S")


class _SyntheticMarket:
    """The made-up prices of the template tickers on any trading day.

    The state of a day is the array of every template ticker's close at the end of that calendar day.
    The state of 2021-01-04 is the recorded close. A later trading day applies that day's return to the
    state of the day before. An earlier trading day undoes it. Non-trading days carry the state over.
    A day's random draws are seeded by its date alone, so the result does not depend on the order of
    requests.
    """

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows = rows
        n = len(rows)
        markets = np.array([row["MKT_ID"] for row in rows])
        self.close0 = np.array([_num(row["TDD_CLSPRC"]) for row in rows], dtype=np.float64)
        self.halted = np.array([row["ACC_TRDVOL"] == "0" for row in rows])
        self.volume0 = np.array([max(_num(row["ACC_TRDVOL"]), 1) for row in rows], dtype=np.float64)
        self.shares = [_num(row["LIST_SHRS"]) for row in rows]
        self.limit = np.where(markets == "KNX", 0.15, 0.30)
        rng = np.random.default_rng([_SEED, 0])
        self.sigma = rng.uniform(0.008, 0.022, n) * np.where(markets == "STK", 1.0, 1.3)
        self._anchor = _ANCHOR.toordinal()
        self._states: dict[int, FloatArray] = {self._anchor: self.close0}
        self._lock = threading.Lock()

    def _shock(self, ordinal: int) -> FloatArray:
        n = len(self.rows)
        rng = np.random.default_rng([_SEED, ordinal, 0])
        normal = np.clip(rng.standard_normal(n), -4.0, 4.0)
        jump_here = rng.random(n) < _JUMP_PROBABILITY
        jump = rng.uniform(0.08, 0.32, n) * np.where(rng.random(n) < 0.5, -1.0, 1.0)
        return self.sigma * normal + np.where(jump_here, jump, 0.0)

    def lower_limit(self, previous: FloatArray) -> FloatArray:
        return np.maximum(_ceil_tick(previous * (1.0 - self.limit)), 1.0)

    def upper_limit(self, previous: FloatArray) -> FloatArray:
        return np.maximum(_floor_tick(previous * (1.0 + self.limit)), 1.0)

    def _forward(self, previous: FloatArray, ordinal: int) -> FloatArray:
        ret = self._shock(ordinal) - _REVERSION * np.log(previous / self.close0)
        ret = np.clip(ret, -self.limit, self.limit)
        close = np.clip(
            _round_tick(previous * (1.0 + ret)), self.lower_limit(previous), self.upper_limit(previous)
        )
        return np.where(self.halted, previous, np.maximum(close, 1.0))

    def _backward(self, close: FloatArray, ordinal: int) -> FloatArray:
        ret = self._shock(ordinal) + _REVERSION * np.log(close / self.close0)
        bound = self.limit - _BACKWARD_MARGIN
        ret = np.clip(ret, -bound, bound)
        previous = np.maximum(_round_tick(close / (1.0 + ret)), 1.0)
        return np.where(self.halted, close, previous)

    def _state(self, ordinal: int) -> FloatArray:
        """Closes at the end of calendar day ``ordinal``. Must hold ``self._lock``."""
        if ordinal in self._states:
            return self._states[ordinal]
        anchor, step = self._anchor, _CHECKPOINT_DAYS
        if ordinal > anchor:
            k = (ordinal - anchor) // step
            while anchor + k * step not in self._states:
                k -= 1
            day = anchor + k * step
            state = self._states[day]
            while day < ordinal:
                day += 1
                if _is_trading_ordinal(day):
                    state = self._forward(state, day)
                if (day - anchor) % step == 0:
                    self._states[day] = state
        else:
            k = (anchor - ordinal) // step
            while anchor - k * step not in self._states:
                k -= 1
            day = anchor - k * step
            state = self._states[day]
            while day > ordinal:
                if _is_trading_ordinal(day):
                    state = self._backward(state, day)
                day -= 1
                if (anchor - day) % step == 0:
                    self._states[day] = state
        return state

    def previous_and_close(self, day: dt.date) -> tuple[FloatArray, FloatArray]:
        ordinal = day.toordinal()
        with self._lock:
            if ordinal > self._anchor:
                previous = self._state(ordinal - 1)
                return previous, self._forward(previous, ordinal)
            close = self._state(ordinal)
            return self._backward(close, ordinal), close

    def trading_rows(self, day: dt.date, indices: list[int]) -> list[dict[str, str]]:
        previous, close = self.previous_and_close(day)
        n = len(self.rows)
        rng = np.random.default_rng([_SEED, day.toordinal(), 1])
        gap = rng.standard_normal(n) * 0.4 * self.sigma
        up = np.abs(rng.standard_normal(n)) * 0.6 * self.sigma
        down = np.abs(rng.standard_normal(n)) * 0.6 * self.sigma
        volume_noise = np.exp(rng.standard_normal(n) * 0.5)

        lower, upper = self.lower_limit(previous), self.upper_limit(previous)
        open_ = np.clip(_round_tick(previous * (1.0 + gap)), lower, upper)
        body_high, body_low = np.maximum(open_, close), np.minimum(open_, close)
        high = np.maximum(np.minimum(_ceil_tick(body_high * (1.0 + up)), upper), body_high)
        low = np.minimum(np.maximum(np.maximum(_floor_tick(body_low * (1.0 - down)), lower), 1.0), body_low)
        realised = np.abs(close / previous - 1.0)
        factor = np.clip(volume_noise * (1.0 + 8.0 * realised), *_VOLUME_FACTOR_RANGE)
        volume = np.maximum(np.round(self.volume0 * factor), 1.0)

        out: list[dict[str, str]] = []
        for i in indices:
            row = dict(self.rows[i])
            if self.halted[i]:
                row.update(_HALTED_FIELDS)
                out.append(row)
                continue
            p, c, o, h, lo, v = (
                int(previous[i]),
                int(close[i]),
                int(open_[i]),
                int(high[i]),
                int(low[i]),
                int(volume[i]),
            )
            change = c - p
            if change > 0:
                tp = "4" if c == int(upper[i]) else "1"
            elif change < 0:
                tp = "5" if c == int(lower[i]) else "2"
            else:
                tp = "3"
            row.update(
                TDD_CLSPRC=_fmt(c),
                FLUC_TP_CD=tp,
                CMPPREVDD_PRC=_fmt(change),
                FLUC_RT=_fluc_rt(change, p),
                TDD_OPNPRC=_fmt(o),
                TDD_HGPRC=_fmt(h),
                TDD_LWPRC=_fmt(lo),
                ACC_TRDVOL=_fmt(v),
                ACC_TRDVAL=_fmt(v * (h + lo + 2 * c) // 4),
                MKTCAP=_fmt(c * self.shares[i]),
            )
            out.append(row)
        return out


# --- answers -----------------------------------------------------------------------------------------


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


# --- the server --------------------------------------------------------------------------------------


class DataRequest(NamedTuple):
    """One data request as the fake saw it. ``start``/``end`` are ``time.monotonic()`` values."""

    bld: str
    mkt_id: str
    trd_dd: str
    start: float
    end: float
    status: int  # 0: no answer (cut off by stop())
    fault: str | None


@dataclass
class _Fault:
    name: str
    markets: frozenset[str] | None
    remaining: int | None
    hang_seconds: float | None

    def applies_to(self, mkt_id: str) -> bool:
        if self.markets is None or mkt_id in self.markets:
            return True
        return mkt_id == "ALL" and not self.markets.isdisjoint(MARKETS)

    def covers_row(self, row: dict[str, Any]) -> bool:
        return self.markets is None or "ALL" in self.markets or row.get("MKT_ID") in self.markets


class _Aborted(Exception):
    """The fake is stopping: drop the connection without an answer."""


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 makes concurrent benchmark clients wait on SYN retries

    def __init__(self, address: tuple[str, int], fake: FakeKrx) -> None:
        super().__init__(address, _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # the client went away, e.g. it timed out on a hang fault
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.0"  # one request per connection, so stop() leaves no idle keep-alive thread

    def do_GET(self) -> None:
        self.server.fake._dispatch(self)

    def do_POST(self) -> None:
        self.server.fake._dispatch(self)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def form(self) -> dict[str, str]:
        query = urlsplit(self.path).query
        fields = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if self.command == "POST":
            body = self.read_body().decode("utf-8", errors="replace")
            fields.update({k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()})
        return fields

    def cookie(self, name: str) -> str | None:
        jar = http.cookies.SimpleCookie()
        for header in self.headers.get_all("Cookie") or []:
            try:
                jar.load(header)
            except http.cookies.CookieError:
                continue
        morsel = jar.get(name)
        return None if morsel is None else morsel.value

    def answer(
        self,
        status: int,
        body: bytes,
        content_type: str = _HTML,
        headers: Iterable[tuple[str, str]] = (),
    ) -> int:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(body)
        return status


class FakeKrx:
    """A local HTTP server that behaves like data.krx.co.kr for pykrx (see the module docstring)."""

    def __init__(
        self,
        port: int = 0,
        credentials: tuple[str, str] = ("demo-user", "demo-pass"),
        require_login: bool = True,
        *,
        host: str = "127.0.0.1",
        hang_seconds: float = 30.0,
        latency: float = 0.0,
    ) -> None:
        self.host = host
        self.credentials = credentials
        self.require_login = require_login
        self.hang_seconds = hang_seconds
        self.latency = latency
        self._requested_port = port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._fault: _Fault | None = None
        self._log: list[DataRequest] = []
        self._data_count = 0
        self._login_count = 0
        self._in_flight = 0
        self._max_concurrent = 0
        self._sessions: dict[str, bool] = {}  # JSESSIONID -> logged in

    # lifecycle

    def start(self) -> FakeKrx:
        if self._server is not None:
            raise RuntimeError("FakeKrx is already running")
        self._stopping.clear()
        server = _HttpServer((self.host, self._requested_port), self)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-krx", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeKrx:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeKrx is not running; call start()")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The origin, e.g. ``http://127.0.0.1:54321``; clients append the KRX paths."""
        return f"http://{self.host}:{self.port}"

    # faults

    def set_fault(
        self,
        fault: str | None,
        *,
        markets: Iterable[str] | str | None = None,
        times: int | None = None,
        hang_seconds: float | None = None,
    ) -> None:
        """Switch to ``fault`` (one of ``FAULTS``) or, with None, back to normal. See the module docstring."""
        if fault is None:
            with self._lock:
                self._fault = None
            return
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
        scope: frozenset[str] | None = None
        if markets is not None:
            scope = frozenset([markets] if isinstance(markets, str) else markets)
            unknown = scope - {*MARKETS, "ALL"}
            if unknown or not scope:
                allowed = ", ".join((*MARKETS, "ALL"))
                raise ValueError(f"markets must be a non-empty subset of {allowed}; not {sorted(scope)}")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise ValueError(f"times must be a positive int or None; got {times!r}")
        if hang_seconds is not None and hang_seconds < 0:
            raise ValueError(f"hang_seconds must be >= 0; got {hang_seconds!r}")
        with self._lock:
            self._fault = _Fault(fault, scope, times, hang_seconds)

    def clear_fault(self) -> None:
        self.set_fault(None)

    @property
    def fault(self) -> str | None:
        """The active fault's name, or None."""
        with self._lock:
            return None if self._fault is None else self._fault.name

    @property
    def fault_remaining(self) -> int | None:
        """How many more requests the active fault applies to (None: until cleared or no fault)."""
        with self._lock:
            return None if self._fault is None else self._fault.remaining

    def _take_fault(self, kind: str, mkt_id: str = "", skip_dup: bool = False) -> _Fault | None:
        with self._lock:
            fault = self._fault
            if fault is None:
                return None
            if kind == "data" and (fault.name not in DATA_FAULTS or not fault.applies_to(mkt_id)):
                return None
            if kind == "login" and (
                fault.name not in LOGIN_FAULTS or (fault.name == "duplicate_login" and skip_dup)
            ):
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._fault = None
            return replace(fault)

    # observability

    @property
    def requests(self) -> list[DataRequest]:
        """Finished data requests, oldest first (a copy)."""
        with self._lock:
            return list(self._log)

    @property
    def data_request_count(self) -> int:
        """Data requests received (including those still in flight)."""
        with self._lock:
            return self._data_count

    @property
    def login_count(self) -> int:
        """Login POSTs received."""
        with self._lock:
            return self._login_count

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def max_concurrent(self) -> int:
        """The largest number of data requests in flight at the same time since start/reset()."""
        with self._lock:
            return self._max_concurrent

    def reset(self) -> None:
        """Forget the request log and counters and clear the fault. Sessions and ``latency`` stay."""
        with self._lock:
            self._log.clear()
            self._data_count = 0
            self._login_count = 0
            self._max_concurrent = self._in_flight
            self._fault = None

    def expire_sessions(self) -> None:
        """Log every client out, as when a KRX session expires: data requests get LOGOUT until re-login."""
        with self._lock:
            self._sessions.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            fault = self._fault
            return {
                "data_request_count": self._data_count,
                "login_count": self._login_count,
                "in_flight": self._in_flight,
                "max_concurrent": self._max_concurrent,
                "fault": None if fault is None else fault.name,
                "markets": None if fault is None or fault.markets is None else sorted(fault.markets),
                "times_remaining": None if fault is None else fault.remaining,
                "latency": self.latency,
                "hang_seconds": self.hang_seconds,
            }

    # request handling

    def _dispatch(self, handler: _Handler) -> None:
        path = urlsplit(handler.path).path
        try:
            if path == DATA_PATH:
                self._handle_data(handler)
            elif path == LOGIN_PATH and handler.command == "POST":
                self._handle_login(handler)
            elif path == LOGIN_PAGE_PATH:
                self._handle_login_page(handler)
            elif path == LOGIN_JSP_PATH:
                handler.answer(200, b"<html><body><form id='loginForm'></form></body></html>")
            elif path.startswith("/_fake/"):
                self._handle_control(handler, path)
            else:
                handler.answer(404, b"<html><body><h1>404 Not Found</h1></body></html>")
        except _Aborted:
            handler.close_connection = True

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self._stopping.wait(seconds):
            raise _Aborted

    def _logged_in(self, handler: _Handler) -> bool:
        token = handler.cookie("JSESSIONID")
        with self._lock:
            return token is not None and self._sessions.get(token, False)

    def _handle_login_page(self, handler: _Handler) -> None:
        headers = []
        if handler.cookie("JSESSIONID") is None:
            token = secrets.token_hex(16).upper()
            with self._lock:
                self._sessions[token] = False
            headers.append(("Set-Cookie", f"JSESSIONID={token}; Path=/; HttpOnly"))
        handler.answer(200, b"<html><body>KRX Data Marketplace</body></html>", headers=headers)

    def _handle_login(self, handler: _Handler) -> None:
        form = handler.form()
        with self._lock:
            self._login_count += 1
        fault = self._take_fault("login", skip_dup=form.get("skipDup") == "Y")
        if fault is not None and fault.name == "duplicate_login":
            code = "CD011"
        elif fault is None and (form.get("mbrId"), form.get("pw")) == tuple(self.credentials):
            code = "CD001"
        else:
            code = "CD002"
        headers = []
        if code == "CD001":
            token = secrets.token_hex(16).upper()
            with self._lock:
                self._sessions[token] = True
            headers.append(("Set-Cookie", f"JSESSIONID={token}; Path=/; HttpOnly"))
        body = {"_error_code": code, "_error_message": _LOGIN_MESSAGES[code]}
        handler.answer(200, _serialise(body), headers=headers)

    def _handle_data(self, handler: _Handler) -> None:
        start = time.monotonic()
        form = handler.form()
        bld, mkt_id, trd_dd = form.get("bld", ""), form.get("mktId", ""), form.get("trdDd", "")
        with self._lock:
            self._data_count += 1
            self._in_flight += 1
            self._max_concurrent = max(self._max_concurrent, self._in_flight)
        response: tuple[int, bytes] | None = None
        fault_name = None
        try:
            self._sleep(self.latency)
            if self.require_login and not self._logged_in(handler):
                response = (400, b"LOGOUT")
            else:
                fault = self._take_fault("data", mkt_id)
                fault_name = None if fault is None else fault.name
                response = self._answer_data(bld, mkt_id, trd_dd, fault)
        finally:
            # Logged before the answer is written, so a client that got its answer finds it in the log.
            status = 0 if response is None else response[0]
            record = DataRequest(bld, mkt_id, trd_dd, start, time.monotonic(), status, fault_name)
            with self._lock:
                self._in_flight -= 1
                self._log.append(record)
        if response is not None:
            handler.answer(*response)

    def _answer_data(self, bld: str, mkt_id: str, trd_dd: str, fault: _Fault | None) -> tuple[int, bytes]:
        name = None if fault is None else fault.name
        if fault is not None and name == "logout":
            return 400, b"LOGOUT"
        if fault is not None and name in _ERROR_PAGES:
            code, reason = _ERROR_PAGES[name]
            page = f"<html><head><title>{code} {reason}</title></head><body><h1>{reason}</h1></body></html>"
            return code, page.encode()
        if fault is not None and name == "hang":
            self._sleep(self.hang_seconds if fault.hang_seconds is None else fault.hang_seconds)
        if fault is not None and name == "empty_body":
            return 200, b""

        if bld != ALL_TICKER_QUOTES_BLD:
            payload = _serialise({"output": [], "CURRENT_DATETIME": _krx_now()})
        elif fault is not None and name in ("all_dash", "empty_rows", "huge_volume"):
            payload = _serialise(_apply_row_fault(quotes_answer(mkt_id, trd_dd), fault))
        else:
            payload = _cached_quotes(mkt_id, trd_dd)[1]

        if fault is not None and name == "truncated_json":
            text = payload.decode("utf-8")
            payload = text[: len(text) // 2].encode("utf-8")
        return 200, payload

    def _handle_control(self, handler: _Handler, path: str) -> None:
        def reply(status: int, body: dict[str, Any]) -> None:
            handler.answer(status, _serialise(body), content_type="application/json; charset=utf-8")

        if path == CONTROL_STATS_PATH and handler.command == "GET":
            reply(200, self.stats())
        elif path == CONTROL_RESET_PATH and handler.command == "POST":
            self.reset()
            reply(200, self.stats())
        elif path == CONTROL_FAULT_PATH and handler.command == "POST":
            try:
                request = json.loads(handler.read_body() or b"{}")
                if not isinstance(request, dict):
                    raise ValueError("expected a JSON object")
                self.set_fault(
                    request.get("fault"),
                    markets=request.get("markets"),
                    times=request.get("times"),
                    hang_seconds=request.get("hang_seconds"),
                )
            except (ValueError, TypeError) as error:
                reply(400, {"error": str(error)})
                return
            reply(200, self.stats())
        else:
            reply(404, {"error": f"no control endpoint {handler.command} {path}"})


def _apply_row_fault(body: dict[str, Any], fault: _Fault) -> dict[str, Any]:
    rows: list[dict[str, str]] = body.get("OutBlock_1", [])
    if fault.name == "all_dash":
        body["OutBlock_1"] = [_dash_row(row) if fault.covers_row(row) else row for row in rows]
    elif fault.name == "empty_rows":
        body["OutBlock_1"] = [row for row in rows if not fault.covers_row(row)]
    elif fault.name == "huge_volume":
        for row in rows:
            if fault.covers_row(row) and row.get("ACC_TRDVOL") not in ("0", "-", None):
                high, low, close = (_num(row[k]) for k in ("TDD_HGPRC", "TDD_LWPRC", "TDD_CLSPRC"))
                row["ACC_TRDVOL"] = _fmt(HUGE_VOLUME)
                row["ACC_TRDVAL"] = _fmt(HUGE_VOLUME * (high + low + 2 * close) // 4)
                break
    return body


# --- command line ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m adelie_assets.fakes.krx_server",
        description="Serve a fake KRX data service (see the module docstring) until Ctrl-C or SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123, help="0 picks a free port (default: 8123)")
    parser.add_argument("--user", default="demo-user", help="login id the fake accepts")
    parser.add_argument("--password", default="demo-pass", help="password the fake accepts")
    parser.add_argument("--no-login", action="store_true", help="serve data without a logged-in session")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every data request")
    parser.add_argument("--hang-seconds", type=float, default=30.0, help="how long the hang fault waits")
    args = parser.parse_args(argv)

    fake = FakeKrx(
        port=args.port,
        credentials=(args.user, args.password),
        require_login=not args.no_login,
        host=args.host,
        hang_seconds=args.hang_seconds,
        latency=args.latency,
    )
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fake.start()
    print(fake.url, flush=True)
    print(f"fake KRX serving on {fake.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        # A timed wait, so signal handlers run promptly in the main thread.
        while not stopping.wait(0.2):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
