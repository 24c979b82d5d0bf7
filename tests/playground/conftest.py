"""Fixtures of the playground tests: one demo state made once, and playgrounds started on copies of it.

A playground is `python -m adelie_fakes.playground` as `make demo-ui` runs it, in its own session,
either with a pipe for its output or on a pseudo-terminal it controls (so that Ctrl-C is the
terminal's, as a person's would be).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.demo_state import DemoState, clean_env
from tests.e2e.harness import REPO_ROOT, free_port, wait_until

READY_LINE = "== Playground ready:"


@pytest.fixture(scope="session")
def demo_state(demo_made: DemoState) -> Path:
    """`make demo`'s state: history, the analysed days, the demo instance (made once, copied per use)."""
    return demo_made.path


def copy_state(demo_state: Path, target: Path) -> Path:
    shutil.copytree(demo_state, target)
    return target


class RunningPlayground:
    def __init__(self, state: Path, *, terminal: bool = False, krx_latency: float = 0.0) -> None:
        self.state = state
        self.port = free_port()
        self.terminal = terminal
        self.output = ""
        self._lock = threading.Lock()
        argv = [
            sys.executable,
            "-m",
            "adelie_fakes.playground",
            "--port",
            str(self.port),
            "--state-dir",
            str(state),
            "--krx-latency",
            str(krx_latency),
        ]
        self.master: int | None = None
        if terminal:
            master, slave = os.openpty()
            self.master = master
            self.proc = subprocess.Popen(
                argv,
                cwd=REPO_ROOT,
                env=clean_env(),
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
                # After setsid: the pseudo-terminal becomes the session's controlling terminal.
                preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
            )
            os.close(slave)
            reader = self._read_pty
        else:
            self.proc = subprocess.Popen(
                argv,
                cwd=REPO_ROOT,
                env=clean_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            reader = self._read_pipe
        self.started = time.monotonic()
        self.ready_at: float | None = None
        threading.Thread(target=reader, daemon=True).start()

    def _append(self, text: str) -> None:
        with self._lock:
            self.output += text

    def _read_pipe(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self._append(line.decode(errors="replace"))

    def _read_pty(self) -> None:
        assert self.master is not None
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO once every process holding the terminal has ended
                return
            if not chunk:
                return
            self._append(chunk.decode(errors="replace"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 300) -> None:
        def probe() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"the playground exited {self.proc.returncode}:\n{self.output[-4000:]}")
            return READY_LINE in self.output

        wait_until(probe, timeout, "the playground to be ready", 0.5)
        self.ready_at = time.monotonic()

    def fake_ports(self) -> list[int]:
        match = re.search(
            r"fake KRX http://127\.0\.0\.1:(\d+), fake OpenAI http://127\.0\.0\.1:(\d+)", self.output
        )
        assert match, self.output[-2000:]
        return [int(match.group(1)), int(match.group(2))]

    def ctrl_c(self) -> None:
        """Ctrl-C typed into the terminal: the terminal sends SIGINT to its foreground group."""
        assert self.master is not None
        os.write(self.master, b"\x03")

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        response = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
        )
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def runs(self) -> list[dict[str, Any]]:
        query = """{ runsOrError { ... on Runs { results {
            runId status jobName tags { key value } } } } }"""
        return list(self.graphql(query)["runsOrError"]["results"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self.master is not None:
            try:
                os.close(self.master)
            except OSError:
                pass
            self.master = None


@pytest.fixture(scope="module")
def playground(demo_state: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlayground]:
    """A playground on a copy of the demo state, ready, for a module's tests."""
    state = copy_state(demo_state, tmp_path_factory.mktemp("playground") / "state")
    running = RunningPlayground(state)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()
