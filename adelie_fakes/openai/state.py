"""``FakeOpenAI``: its lifecycle, faults, request log and counters, and the completions it answers."""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from adelie_fakes.openai import wire
from adelie_fakes.openai.batches import FilesAndBatches, _Batch, _StoredFile
from adelie_fakes.openai.http import _HTTPServer
from adelie_fakes.openai.wire import DEFAULT_API_KEY, FAULTS, FaultName, RecordedRequest, _bad_request, _Reply


class FakeOpenAI(FilesAndBatches):
    """A real OpenAI-compatible HTTP server on 127.0.0.1, driven from tests; see the package docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = DEFAULT_API_KEY,
        latency: float = 0.0,
        hang_seconds: float = 30.0,
        batch_delay: float = 0.0,
        verbose: bool = False,
        max_logged_requests: int = 10_000,
    ) -> None:
        self.host = host
        self.api_key = api_key
        self.latency = latency
        self.hang_seconds = hang_seconds
        self.batch_delay = batch_delay
        self.verbose = verbose
        self._requested_port = port
        self._max_logged = max_logged_requests
        self._defaults = (latency, hang_seconds, batch_delay)
        self._lock = threading.Lock()
        # Separate from _lock because finishing a batch creates files, which takes _lock.
        self._batch_lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._init_state()

    def _init_state(self) -> None:
        self._fault_queue: deque[str] = deque()
        self._sticky_fault: str | None = None
        # Bounded so a long-running CLI fake serving a big backfill doesn't grow without limit.
        self._requests: deque[RecordedRequest] = deque(maxlen=self._max_logged)
        self._completion_count = 0
        self._batch_line_count = 0
        self._in_flight = 0
        self._max_concurrent = 0
        self._prompt_tokens = 0
        self._completion_tokens = 0
        self._files: dict[str, _StoredFile] = {}
        self._batches: dict[str, _Batch] = {}

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("FakeOpenAI is already running")
        self._stopping = threading.Event()
        self._server = _HTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut down promptly; requests still sleeping in ``hang``/``latency`` are dropped unanswered."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        # Idle keep-alive connections would otherwise keep their handler threads serving after stop.
        with server.connections_lock:
            connections = list(server.connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:54321`` (the control endpoints live under ``/_fake``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as ``OpenAI(base_url=...)``, e.g. ``http://127.0.0.1:54321/v1``."""
        return f"{self.url}/v1"

    def client_kwargs(self) -> dict[str, str]:
        """``OpenAI(**fake.client_kwargs())``."""
        return {"api_key": self.api_key, "base_url": self.base_url}

    def env(self) -> dict[str, str]:
        """Environment variables that point an SDK-using process at this fake."""
        return {"OPENAI_API_KEY": self.api_key, "OPENAI_BASE_URL": self.base_url}

    # -- faults ------------------------------------------------------------------------------------

    @staticmethod
    def _check_fault(fault: str) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")

    def push_faults(self, *faults: FaultName) -> None:
        """Queue faults; each completion request (or batch line) consumes one, then behaviour is normal."""
        for fault in faults:
            self._check_fault(fault)
        with self._lock:
            self._fault_queue.extend(faults)

    def set_fault(self, fault: FaultName | None) -> None:
        """Apply ``fault`` to every completion (after the queue is drained) until ``set_fault(None)``."""
        if fault is not None:
            self._check_fault(fault)
        with self._lock:
            self._sticky_fault = fault

    def clear_faults(self) -> None:
        with self._lock:
            self._fault_queue.clear()
            self._sticky_fault = None

    @property
    def pending_faults(self) -> list[str]:
        with self._lock:
            return list(self._fault_queue)

    @property
    def sticky_fault(self) -> str | None:
        return self._sticky_fault

    def _next_fault(self) -> str | None:
        with self._lock:
            return self._fault_queue.popleft() if self._fault_queue else self._sticky_fault

    # -- observability -----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every /v1 request received so far (copies of the list, not of the records)."""
        with self._lock:
            return list(self._requests)

    @property
    def completion_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    @property
    def completion_count(self) -> int:
        """POST /v1/chat/completions requests received, whatever their outcome (batch lines excluded)."""
        return self._completion_count

    @property
    def batch_line_count(self) -> int:
        return self._batch_line_count

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def max_concurrent(self) -> int:
        """Most /v1 requests being handled at the same moment since start or reset()."""
        return self._max_concurrent

    @property
    def prompt_tokens(self) -> int:
        return self._prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return self._completion_tokens

    @property
    def total_tokens(self) -> int:
        """Tokens of all successful completions served, batch lines included."""
        return self._prompt_tokens + self._completion_tokens

    def reset(self) -> None:
        """Forget requests, counters, faults, files and batches; restore latency/hang/batch settings."""
        with self._lock:
            in_flight = self._in_flight
            self._init_state()
            self._in_flight = in_flight
            self.latency, self.hang_seconds, self.batch_delay = self._defaults
            self.batch_expires_after_lines = None

    def snapshot(self) -> dict[str, Any]:
        """Counters and settings as JSON-able data (also served at ``GET /_fake/state``)."""
        with self._lock:
            return {
                "base_url": self.base_url if self.running else None,
                "sticky_fault": self._sticky_fault,
                "pending_faults": list(self._fault_queue),
                "latency": self.latency,
                "hang_seconds": self.hang_seconds,
                "batch_delay": self.batch_delay,
                "completion_count": self._completion_count,
                "batch_line_count": self._batch_line_count,
                "requests": len(self._requests),
                "in_flight": self._in_flight,
                "max_concurrent": self._max_concurrent,
                "prompt_tokens": self._prompt_tokens,
                "completion_tokens": self._completion_tokens,
                "total_tokens": self._prompt_tokens + self._completion_tokens,
            }

    # -- internals used by the handler -------------------------------------------------------------

    def _enter(self, record: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(record)
            self._in_flight += 1
            self._max_concurrent = max(self._max_concurrent, self._in_flight)
            if record.method == "POST" and record.path == "/v1/chat/completions":
                self._completion_count += 1

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _count_tokens(self, reply: _Reply) -> None:
        if reply.status == 200:
            with self._lock:
                self._prompt_tokens += reply.prompt_tokens
                self._completion_tokens += reply.completion_tokens

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _chat_completion(
        self, body: Any, record: RecordedRequest, presented_key: str | None
    ) -> _Reply | None:
        """The completion reply, or None when stop() interrupted the wait (the connection is dropped)."""
        fault = self._next_fault()
        record.fault = fault
        if fault == "hang":
            self._sleep(self.hang_seconds)
        self._sleep(self.latency)
        if self._stopping.is_set():
            return None
        # Looked up on the module so that a test can substitute the answers.
        reply = wire._complete(body, fault, presented_key=presented_key)
        self._count_tokens(reply)
        return reply

    def _control(self, body: Any) -> _Reply:
        if not isinstance(body, Mapping):
            return _bad_request("Expected a JSON object.")
        try:
            if "fault" in body:
                self.set_fault(body["fault"])
            if "push" in body:
                pushed = body["push"]
                self.push_faults(*([pushed] if isinstance(pushed, str) else pushed))
            if body.get("clear"):
                self.clear_faults()
            for key in ("latency", "hang_seconds", "batch_delay"):
                if key in body:
                    setattr(self, key, float(body[key]))
        except (TypeError, ValueError) as exc:
            return _bad_request(str(exc))
        return _Reply(200, self.snapshot())
