"""``FakeKrx``: the fake KRX data service's login, data and control endpoints, its sessions and its log."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from adelie_fakes.krx import answers
from adelie_fakes.krx.answers import ALL_TICKER_QUOTES_BLD, MARKETS, _parse_day, _serialise, quotes_answer
from adelie_fakes.krx.events import Event, apply_events
from adelie_fakes.krx.faults import _ERROR_PAGES, DATA_FAULTS, FAULTS, LOGIN_FAULTS, _apply_row_fault, _Fault
from adelie_fakes.krx.http import _Aborted, _Handler, _HttpServer
from adelie_fakes.krx.indices import INDEX_OHLCV_BLD, apply_index_fault, index_answer, market_of
from adelie_fakes.krx.prices import _krx_now

DATA_PATH = "/comm/bldAttendant/getJsonData.cmd"
LOGIN_PAGE_PATH = "/contents/MDC/COMS/client/MDCCOMS001.cmd"
LOGIN_JSP_PATH = "/contents/MDC/COMS/client/view/login.jsp"
LOGIN_PATH = "/contents/MDC/COMS/client/MDCCOMS001D1.cmd"
CONTROL_FAULT_PATH = "/_fake/fault"
CONTROL_STATS_PATH = "/_fake/stats"
CONTROL_RESET_PATH = "/_fake/reset"

_LOGIN_MESSAGES = {
    "CD001": "정상",
    "CD002": "아이디 또는 비밀번호가 일치하지 않습니다.",
    "CD011": "이미 로그인된 사용자입니다.",
}


class DataRequest(NamedTuple):
    """One data request as the fake saw it. ``start``/``end`` are ``time.monotonic()`` values."""

    bld: str
    mkt_id: str
    trd_dd: str
    start: float
    end: float
    status: int  # 0: no answer (cut off by stop())
    fault: str | None
    # MDCSTAT00301 (an index over a range): mkt_id is the index's market (indIdx 1: STK, 2: KSQ).
    ind_idx: str = ""
    strt_dd: str = ""
    end_dd: str = ""


class FakeKrx:
    """A local HTTP server that behaves like data.krx.co.kr for pykrx (see the package docstring)."""

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
        self._events: tuple[Event, ...] = ()
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
        days: Iterable[str] | None = None,
    ) -> None:
        """Switch to ``fault`` (one of ``FAULTS``) or, with None, back to normal (see the package docs).
        ``days``: only the quote requests of those trading days (YYYYMMDD, KRX's trdDd) get it."""
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
        day_scope = None if days is None else frozenset([days] if isinstance(days, str) else days)
        if day_scope is not None and not (day_scope and all(len(d) == 8 and d.isdigit() for d in day_scope)):
            raise ValueError(f"days must be trading days as YYYYMMDD (KRX's trdDd); not {sorted(day_scope)}")
        with self._lock:
            self._fault = _Fault(fault, scope, times, hang_seconds, day_scope)

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

    def _take_fault(
        self, kind: str, mkt_id: str = "", skip_dup: bool = False, trd_dd: str = ""
    ) -> _Fault | None:
        with self._lock:
            fault = self._fault
            if fault is None:
                return None
            if kind == "data" and (
                fault.name not in DATA_FAULTS or not fault.applies_to(mkt_id) or not fault.applies_on(trd_dd)
            ):
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
        """Forget the request log and counters, clear the fault and the listing events. Sessions and
        ``latency`` stay."""
        with self._lock:
            self._log.clear()
            self._data_count = 0
            self._login_count = 0
            self._max_concurrent = self._in_flight
            self._fault = None
            self._events = ()

    def set_events(self, events: Iterable[Event]) -> None:
        """Serve the quotes with these listing events (splits, bonus issues, reused codes, zero closes;
        see ``events.py``), in order, from now on; ``set_events([])`` serves the plain prices again."""
        with self._lock:
            self._events = tuple(events)

    @property
    def events(self) -> tuple[Event, ...]:
        with self._lock:
            return self._events

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
        index_range = (form.get("indIdx", ""), form.get("strtDd", ""), form.get("endDd", ""))
        if bld == INDEX_OHLCV_BLD:
            mkt_id = market_of(index_range[0])
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
                fault = self._take_fault("data", mkt_id, trd_dd=trd_dd)
                fault_name = None if fault is None else fault.name
                response = self._answer_data(bld, mkt_id, trd_dd, fault, form)
        finally:
            # Logged before the answer is written, so a client that got its answer finds it in the log.
            status = 0 if response is None else response[0]
            record = DataRequest(
                bld, mkt_id, trd_dd, start, time.monotonic(), status, fault_name, *index_range
            )
            with self._lock:
                self._in_flight -= 1
                self._log.append(record)
        if response is not None:
            handler.answer(*response)

    def _answer_data(
        self, bld: str, mkt_id: str, trd_dd: str, fault: _Fault | None, form: dict[str, str]
    ) -> tuple[int, bytes]:
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

        if bld == INDEX_OHLCV_BLD:
            request = (form.get(k, "") for k in ("indIdx", "indIdx2", "strtDd", "endDd"))
            payload = _serialise(apply_index_fault(index_answer(*request), fault))
        elif bld != ALL_TICKER_QUOTES_BLD:
            payload = _serialise({"output": [], "CURRENT_DATETIME": _krx_now()})
        elif self.events and _parse_day(trd_dd) is not None:
            body = quotes_answer(mkt_id, trd_dd)
            body["OutBlock_1"] = apply_events(body["OutBlock_1"], _parse_day(trd_dd), self.events)
            if fault is not None and name in ("all_dash", "empty_rows", "huge_volume"):
                body = _apply_row_fault(body, fault)
            payload = _serialise(body)
        elif fault is not None and name in ("all_dash", "empty_rows", "huge_volume"):
            payload = _serialise(_apply_row_fault(quotes_answer(mkt_id, trd_dd), fault))
        else:
            # Looked up on the module so that a test can substitute the answers.
            payload = answers._cached_quotes(mkt_id, trd_dd)[1]

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
                    days=request.get("days"),
                )
            except (ValueError, TypeError) as error:
                reply(400, {"error": str(error)})
                return
            reply(200, self.stats())
        else:
            reply(404, {"error": f"no control endpoint {handler.command} {path}"})
