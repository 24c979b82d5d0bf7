"""``python -m adelie_fakes.openai``: serve a fake OpenAI until Ctrl-C or SIGTERM; prints its URL first."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import cast

from adelie_fakes.openai.state import FakeOpenAI
from adelie_fakes.openai.wire import DEFAULT_API_KEY, FAULTS, FaultName


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m adelie_fakes.openai", description="Run a fake OpenAI-compatible server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8124)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each completion")
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    parser.add_argument("--batch-delay", type=float, default=0.0)
    parser.add_argument("--fault", choices=FAULTS, default=None, help="sticky fault from the start")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    fake = FakeOpenAI(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        latency=args.latency,
        hang_seconds=args.hang_seconds,
        batch_delay=args.batch_delay,
        verbose=args.verbose,
    )
    if args.fault:
        fake.set_fault(cast(FaultName, args.fault))
    done = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    fake.start()
    print(f"Fake OpenAI server at {fake.base_url} (api key {fake.api_key})", flush=True)
    print(f"  OPENAI_BASE_URL={fake.base_url} OPENAI_API_KEY={fake.api_key}", flush=True)
    print(f"  control: POST {fake.url}/_fake/fault  GET {fake.url}/_fake/state", flush=True)
    try:
        # Short waits so the signal handler gets to run promptly on every platform.
        while not done.wait(0.2):
            pass
    finally:
        fake.stop()
    print("Fake OpenAI server stopped.", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
