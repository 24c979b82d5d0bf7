"""The HTTP plumbing of the fake KRX: the threaded server, and the handler that passes to ``FakeKrx``."""

from __future__ import annotations

import http.cookies
import sys
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from adelie_fakes.krx.server import FakeKrx

HTML = "text/html; charset=utf-8"


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
        content_type: str = HTML,
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
