"""The fake KRX and the fake OpenAI, started together and stopped together.

The demo, the playground and the e2e / deploy harnesses each run one pair of them as threads of their own
process; this is that pair's lifecycle, once: if the second fails to start the first is stopped, and a
stop is safe after a failed or partial start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from adelie_fakes.krx import FakeKrx
from adelie_fakes.openai import DEFAULT_API_KEY, FakeOpenAI


def start_fakes(
    *, krx_credentials: tuple[str, str], krx_latency: float = 0.0, llm_api_key: str = DEFAULT_API_KEY
) -> tuple[FakeKrx, FakeOpenAI]:
    """Both servers running on free ports of 127.0.0.1; stop them with `stop_fakes`."""
    krx = FakeKrx(credentials=krx_credentials, latency=krx_latency).start()
    try:
        llm = FakeOpenAI(api_key=llm_api_key).start()
    except BaseException:
        krx.stop()
        raise
    return krx, llm


def stop_fakes(*fakes: FakeKrx | FakeOpenAI | None) -> None:
    """Stops the servers given; None (never started) and already-stopped ones are passed over."""
    for fake in fakes:
        if fake is not None:
            fake.stop()


@contextmanager
def running_fakes(
    *, krx_credentials: tuple[str, str], krx_latency: float = 0.0, llm_api_key: str = DEFAULT_API_KEY
) -> Iterator[tuple[FakeKrx, FakeOpenAI]]:
    """`start_fakes` for the length of a `with` block."""
    krx, llm = start_fakes(krx_credentials=krx_credentials, krx_latency=krx_latency, llm_api_key=llm_api_key)
    try:
        yield krx, llm
    finally:
        stop_fakes(krx, llm)
