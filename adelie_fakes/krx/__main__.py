"""``python -m adelie_fakes.krx``: serve a fake KRX until Ctrl-C or SIGTERM; prints its URL first."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from adelie_fakes.krx.server import FakeKrx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m adelie_fakes.krx",
        description="Serve a fake KRX data service (see the package docstring) until Ctrl-C or SIGTERM.",
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
