"""The HTTP side of the fake OpenAI: the threaded server and the handler that routes to ``FakeOpenAI``."""

from __future__ import annotations

import json
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from adelie_fakes.openai.wire import (
    _MODELS,
    RecordedRequest,
    _bad_request,
    _error_body,
    _invalid_key_body,
    _list_body,
    _parse_multipart,
    _rand_id,
    _Reply,
)

if TYPE_CHECKING:
    from adelie_fakes.openai.state import FakeOpenAI


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # stop() must return promptly even while a "hang" handler is sleeping.
    block_on_close = False
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeOpenAI) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, like the real API; the SDK's connection pool relies on it for throughput.
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai/1.0"
    # Headers and body go out in two writes; with Nagle plus delayed ACKs each reply would stall ~40 ms.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ----------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        payload: bytes,
        *,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if self.server.fake._stopping.is_set():
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            # The client gave up (timeout) or stop() shut the socket; nobody is left to answer.
            self.close_connection = True

    def _send_reply(self, reply: _Reply, record: RecordedRequest | None = None) -> None:
        if record is not None:
            record.status = reply.status
        headers = {
            "x-request-id": _rand_id("req_", 32),
            "openai-version": "2020-10-01",
            "openai-organization": "org-fake",
            "openai-processing-ms": "1",
            **reply.headers,
        }
        self._send(reply.status, json.dumps(reply.body, ensure_ascii=False).encode(), headers=headers)

    def _dispatch(self, method: str) -> None:
        try:
            raw = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        path = urlsplit(self.path).path.rstrip("/") or "/"
        fake = self.server.fake
        try:
            if path.startswith("/_fake"):
                self._send_reply(self._route_control(method, path, raw))
                return
            self._handle_api(fake, method, path, raw)
        except Exception:  # a bug in the fake must surface as a 500, not a dropped connection
            traceback.print_exc(file=sys.stderr)
            self._send_reply(
                _Reply(500, _error_body("Fake server crashed; see stderr.", type_="server_error"))
            )

    def _route_control(self, method: str, path: str, raw: bytes) -> _Reply:
        fake = self.server.fake
        if method == "GET" and path == "/_fake/state":
            return _Reply(200, fake.snapshot())
        if method == "POST" and path == "/_fake/reset":
            fake.reset()
            return _Reply(200, fake.snapshot())
        if method == "POST" and path == "/_fake/fault":
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return _bad_request("Could not parse the JSON body.")
            return fake._control(body)
        return _Reply(404, _error_body(f"Invalid URL ({method} {path})", type_="invalid_request_error"))

    def _handle_api(self, fake: FakeOpenAI, method: str, path: str, raw: bytes) -> None:
        authorization = self.headers.get("Authorization", "")
        presented = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
        content_type = self.headers.get("Content-Type", "")
        body: Any = None
        json_error = False
        if content_type.startswith("multipart/form-data"):
            form = _parse_multipart(content_type, raw)
            body = {
                name: (
                    value.decode("utf-8", "replace")
                    if filename is None
                    else {"filename": filename, "bytes": len(value)}
                )
                for name, (filename, value) in form.items()
            }
        elif raw:
            try:
                body = json.loads(raw)
            except ValueError:
                json_error = True
        headers = {
            k.lower(): ("<redacted>" if k.lower() == "authorization" else v) for k, v in self.headers.items()
        }
        record = RecordedRequest(
            method=method, path=path, headers=headers, body=body, authorized=presented == fake.api_key
        )
        fake._enter(record)
        try:
            if presented != fake.api_key:
                reply = _Reply(401, _invalid_key_body(presented))
            elif json_error:
                reply = _bad_request(
                    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                    "using your HTTP library correctly.)"
                )
            elif method == "POST" and path == "/v1/chat/completions":
                reply = fake._chat_completion(body, record, presented)
                if reply is None:
                    self.close_connection = True
                    return
            else:
                reply = self._route_resources(fake, method, path, body, raw, content_type, presented)
                if reply is None:
                    return
            self._send_reply(reply, record)
        finally:
            fake._leave()

    def _route_resources(
        self,
        fake: FakeOpenAI,
        method: str,
        path: str,
        body: Any,
        raw: bytes,
        content_type: str,
        presented: str | None,
    ) -> _Reply | None:
        """Files, batches and models; returns None when it already wrote a non-JSON response."""
        parts = path.strip("/").split("/")[1:]  # drop "v1"
        not_found = _Reply(404, _error_body(f"Invalid URL ({method} {path})", type_="invalid_request_error"))
        routes: dict[tuple[str, int, str], Callable[[], _Reply | None]] = {
            ("POST", 1, "files"): lambda: self._upload(fake, raw, content_type),
            ("GET", 1, "files"): fake._list_files,
            ("GET", 2, "files"): lambda: self._file_meta(fake, parts[1]),
            ("DELETE", 2, "files"): lambda: self._file_delete(fake, parts[1]),
            ("GET", 3, "files"): lambda: (
                self._file_content(fake, parts[1]) if parts[2] == "content" else not_found
            ),
            ("POST", 1, "batches"): lambda: (
                fake._create_batch(body, presented)
                if isinstance(body, Mapping)
                else _bad_request("Bad body.")
            ),
            ("GET", 1, "batches"): fake._list_batches,
            ("GET", 2, "batches"): lambda: fake._batch_view(parts[1]),
            ("POST", 3, "batches"): lambda: (
                fake._batch_view(parts[1], cancel=True) if parts[2] == "cancel" else not_found
            ),
            ("GET", 1, "models"): lambda: _Reply(
                200,
                _list_body(
                    [{"id": m, "object": "model", "created": 0, "owned_by": "system"} for m in _MODELS]
                ),
            ),
        }
        handler = routes.get((method, len(parts), parts[0] if parts else ""))
        return handler() if handler is not None else not_found

    def _upload(self, fake: FakeOpenAI, raw: bytes, content_type: str) -> _Reply:
        form = _parse_multipart(content_type, raw)
        if "file" not in form:
            return _bad_request("Missing required parameter: 'file'.", param="file")
        purpose = form.get("purpose", (None, b""))[1].decode("utf-8", "replace")
        if not purpose:
            return _bad_request("Missing required parameter: 'purpose'.", param="purpose")
        filename, data = form["file"]
        stored = fake._create_file(filename or "upload.jsonl", purpose, data)
        return _Reply(200, stored.as_object())

    @staticmethod
    def _missing_file(file_id: str) -> _Reply:
        return _Reply(
            404, _error_body(f"No such File object: {file_id}", type_="invalid_request_error", param="id")
        )

    def _file_meta(self, fake: FakeOpenAI, file_id: str) -> _Reply:
        stored = fake._get_file(file_id)
        return _Reply(200, stored.as_object()) if stored else self._missing_file(file_id)

    def _file_delete(self, fake: FakeOpenAI, file_id: str) -> _Reply:
        if not fake._delete_file(file_id):
            return self._missing_file(file_id)
        return _Reply(200, {"id": file_id, "object": "file", "deleted": True})

    def _file_content(self, fake: FakeOpenAI, file_id: str) -> _Reply | None:
        stored = fake._get_file(file_id)
        if stored is None:
            return self._missing_file(file_id)
        self._send(
            200,
            stored.data,
            content_type="application/octet-stream",
            headers={"x-request-id": _rand_id("req_", 32)},
        )
        return None
