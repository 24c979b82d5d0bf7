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

Two ``bld`` values are modelled. ``dbms/MDC/STAT/standard/MDCSTAT00301`` is one index's daily OHLCV over
a range (pykrx's ``개별지수시세``; ``indIdx`` 1 KOSPI / 2 KOSDAQ, ``indIdx2=001``, ``strtDd``/``endDd``):
``{"output": [rows newest first], ...}`` with dates ``2021/01/22`` and numbers like ``"3,140.63"``. The
three recorded KOSPI answers are served verbatim for exactly their request; otherwise the index is its
market's total market cap of the template tickers, scaled to the real 2021-01-04 close, so its change
is the market-cap-weighted change of the quotes served for that day, and its volume, value and cap are
their sums (see ``indices.py``). A holiday-only range or an unknown index answers ``"output": []``.
For faults an index request counts as a request for its market (1: STK, 2: KSQ); ``all_dash`` and
``empty_rows`` dash or drop its rows. ``DataRequest.ind_idx/strt_dd/end_dd`` log the index and range.

``dbms/MDC/STAT/standard/MDCSTAT01501`` is the quotes of every ticker on one
day, which pykrx's ``전종목시세`` and ``get_market_ohlcv_by_ticker`` / ``get_market_cap_by_ticker``
request. It takes ``mktId`` ``STK`` (KOSPI), ``KSQ`` (KOSDAQ), ``KNX`` (KONEX) or ``ALL`` and
``trdDd=YYYYMMDD``. The answer is ``{"OutBlock_1": [rows], "CURRENT_DATETIME": "..."}``:

* the fake has a real recorded answer for exactly that ``(mktId, trdDd)``: it serves it verbatim. Those
  are ALL/STK/KSQ/KNX on 20210104, STK on 20210122 and STK on 20210123 (see ``samples/README.md``).
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
* any other ``bld`` (but MDCSTAT00301 above): HTTP 200 ``{"output": [], "CURRENT_DATETIME": ...}``.
  Real KRX answers this way when a query has no data, so a client that asks for the wrong ``bld`` gets
  an empty, not an error.

Limits: the list of tickers is that of 2021-01-04 on every date (no listings, delistings or splits
but the listing events below). A synthetic day right after 20210122 does not continue from the
recorded 20210122 prices.

Listing events
--------------
``set_events([...])`` serves the synthetic quotes with listing events, the way KRX shows them
(``events.py``): ``ShareChange(ticker, day, ratio)`` a split (ratio 50 for 1:50), a reverse split (1/10)
or a bonus issue (3/2 for one new share for two): from ``day`` on, unadjusted prices in the new shares,
``CMPPREVDD_PRC``/``FLUC_RT`` against the base price KRX adjusted; ``ReusedTicker(ticker,
delisted_after, listed_on, name, price_ratio)`` a code absent after a delisting, then another company's;
``ZeroClose(ticker, day)`` a row with a zero close. ``events`` shows them; ``reset()`` clears them.

Faults
------
``set_fault(name, markets=None, times=None, hang_seconds=None, days=None)`` switches a fault on at run time
(thread-safe); ``set_fault(None)`` switches it off. Only one fault is active at a time.

``markets`` limits a fault to requests for those markets. An ``ALL`` request counts as a request for each
market, and the faults that change rows (``all_dash``, ``empty_rows``, ``huge_volume``) then change only
the rows of those markets. ``times=N`` ends the fault after N requests it applied to (an outage that
ends). ``days`` (trading days as YYYYMMDD) limits a data fault to the quote requests of those days,
e.g. one bad day inside a backfill's range. The data faults count data requests; the login faults
count login POSTs.

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

    from adelie_fakes.krx import DATA_PATH, LOGIN_JSP_PATH, LOGIN_PAGE_PATH, LOGIN_PATH, FakeKrx

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

    python -m adelie_fakes.krx --port 8123
    curl -X POST http://127.0.0.1:8123/_fake/fault -d '{"fault": "http_500", "markets": ["KSQ"], "times": 2}'
    curl -X POST http://127.0.0.1:8123/_fake/fault -d '{"fault": null}'
    curl http://127.0.0.1:8123/_fake/stats
    curl -X POST http://127.0.0.1:8123/_fake/reset

Importing this package starts nothing. It does not import pykrx.
"""

from __future__ import annotations

from adelie_fakes.krx.answers import ALL_TICKER_QUOTES_BLD, MARKETS, load_sample, quotes_answer
from adelie_fakes.krx.faults import DATA_FAULTS, FAULTS, HUGE_VOLUME, LOGIN_FAULTS
from adelie_fakes.krx.prices import is_trading_day
from adelie_fakes.krx.server import (
    CONTROL_FAULT_PATH,
    CONTROL_RESET_PATH,
    CONTROL_STATS_PATH,
    DATA_PATH,
    LOGIN_JSP_PATH,
    LOGIN_PAGE_PATH,
    LOGIN_PATH,
    DataRequest,
    FakeKrx,
)

__all__ = [
    "ALL_TICKER_QUOTES_BLD",
    "CONTROL_FAULT_PATH",
    "CONTROL_RESET_PATH",
    "CONTROL_STATS_PATH",
    "DATA_FAULTS",
    "DATA_PATH",
    "FAULTS",
    "HUGE_VOLUME",
    "LOGIN_FAULTS",
    "LOGIN_JSP_PATH",
    "LOGIN_PAGE_PATH",
    "LOGIN_PATH",
    "MARKETS",
    "DataRequest",
    "FakeKrx",
    "is_trading_day",
    "load_sample",
    "quotes_answer",
]
