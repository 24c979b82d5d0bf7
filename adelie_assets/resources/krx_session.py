"""pykrx, imported lazily without its import-time login, and the HTTP session it is given.

pykrx >= 1.2.5 logs in at import from KRX_ID/KRX_PW (in `pykrx.website.comm.webio`), prints the
login id and sets no timeout on data calls: so it is imported once with the credentials hidden and
stdout captured, and our own `requests.Session` (with a timeout) becomes its authenticated session.
Its package `__init__` imports matplotlib (pyplot and a font, for charts) and `pykrx.stock`: ~0.7 s
and ~30 MiB per process, none of it needed for the three submodules used here, so it is skipped.
"""

import contextlib
import importlib.util
import io
import os
import sys
import threading
import time
import types
from dataclasses import dataclass
from typing import Any

import requests
import urllib3

KRX_ORIGIN = "https://data.krx.co.kr"
DATA_PATH = "/comm/bldAttendant/getJsonData.cmd"
LOGIN_PATHS = {
    "LOGIN_PAGE": "/contents/MDC/COMS/client/MDCCOMS001.cmd",
    "LOGIN_JSP": "/contents/MDC/COMS/client/view/login.jsp?site=mdc",
    "LOGIN_URL": "/contents/MDC/COMS/client/MDCCOMS001D1.cmd",
}


@dataclass(frozen=True)
class _Pykrx:
    auth: Any
    krxio: Any
    quotes_cls: Any
    index_cls: Any


_pykrx_lock = threading.Lock()
_pykrx: _Pykrx | None = None


def _load_pykrx() -> _Pykrx:
    """Import pykrx once, without letting its import-time login run or print."""
    global _pykrx
    with _pykrx_lock:
        if _pykrx is None:
            hidden = {name: os.environ.pop(name) for name in ("KRX_ID", "KRX_PW") if name in os.environ}
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    _register_bare_package("pykrx")
                    from pykrx.website.comm import auth
                    from pykrx.website.krx import krxio
                    from pykrx.website.krx.market.core import 개별지수시세, 전종목시세
            finally:
                os.environ.update(hidden)
            _pykrx = _Pykrx(auth=auth, krxio=krxio, quotes_cls=전종목시세, index_cls=개별지수시세)
        return _pykrx


def _register_bare_package(name: str) -> None:
    """Make `name` importable as a package without running its `__init__`: its submodules import
    as usual. Does nothing once the real package (or this stand-in) is imported."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{name} is not installed as a package: pip install the project's dependencies")
    package = types.ModuleType(name)
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__file__ = spec.origin
    sys.modules[name] = package


class DeadlineExceeded(requests.Timeout):
    """The whole answer did not arrive within the call's deadline (e.g. a trickling body)."""


_CHUNK = 64 * 1024


class _TimeoutSession(requests.Session):
    """A requests session that never waits forever (pykrx passes no timeout) and remembers the last
    response, so that a body pykrx cannot parse (e.g. `LOGOUT`) can still be reported.

    `timeout` is a deadline for the whole call: requests' own timeout bounds each socket read, so a
    body trickling in a byte a second would never end; the body is read here, one socket read at a
    time, until the deadline. (Headers are small; they are bounded by the per-read timeout.)
    """

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.last_response: requests.Response | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        deadline = time.monotonic() + self.timeout
        kwargs.setdefault("timeout", self.timeout)
        kwargs["stream"] = True
        self.last_response = None
        response = super().request(method, url, *args, **kwargs)
        try:
            response._content = _read_until(response, deadline, self.timeout)  # noqa: SLF001
        finally:
            response.close()
        self.last_response = response
        return response


def _read_until(response: requests.Response, deadline: float, timeout: float) -> bytes:
    body = bytearray()
    while True:
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"the answer took longer than {timeout:g} s")
        try:
            chunk = response.raw.read1(_CHUNK, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as exc:  # as requests would raise them
            raise requests.Timeout(str(exc)) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise requests.ConnectionError(str(exc)) from exc
        if not chunk:
            response._content_consumed = True
            return bytes(body)
        body += chunk
