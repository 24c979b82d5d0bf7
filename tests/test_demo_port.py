"""`make demo-ui` with its port taken fails at once, naming the port, whoever holds it: another
Dagster answering there would otherwise be taken for the playground, a silent listener waited on."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


class AnotherDagster(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # /server_info answers as a Dagster webserver's does
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"dagster_webserver_version": "1.13.27"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(params=["another_dagster", "silent_listener"])
def taken_port(request: pytest.FixtureRequest) -> Iterator[int]:
    if request.param == "another_dagster":
        server = ThreadingHTTPServer(("127.0.0.1", 0), AnotherDagster)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield server.server_port
        server.shutdown()
        server.server_close()
    else:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepts nothing, answers nothing
        yield listener.getsockname()[1]
        listener.close()


def test_a_taken_port_fails_fast_naming_it(taken_port: int, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "adelie_fakes.playground",
            "--port",
            str(taken_port),
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert f"Port {taken_port} on 127.0.0.1 is taken" in proc.stderr
    assert f"make demo-ui PORT={taken_port + 1}" in proc.stderr
    assert "Playground ready" not in proc.stdout
    assert not (tmp_path / "dagster_home").exists(), "nothing was started or written"
