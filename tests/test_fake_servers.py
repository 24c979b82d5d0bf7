"""adelie_fakes.servers: the fake KRX and fake OpenAI pair answers on its ports inside the block and
nowhere after it, with the credentials it was given."""

from __future__ import annotations

import socket

import pytest
import requests

from adelie_fakes.servers import running_fakes, start_fakes, stop_fakes


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def test_the_pair_answers_inside_the_block_and_is_gone_after_it() -> None:
    with running_fakes(krx_credentials=("u", "p"), llm_api_key="sk-pair") as (krx, llm):
        ports = [krx.port, llm.port]
        assert krx.credentials == ("u", "p")
        models = requests.get(
            f"{llm.base_url}/models", headers={"Authorization": "Bearer sk-pair"}, timeout=10
        )
        assert models.status_code == 200
        wrong = requests.get(
            f"{llm.base_url}/models", headers={"Authorization": "Bearer sk-other"}, timeout=10
        )
        assert wrong.status_code == 401
        assert all(_listening(port) for port in ports)
    assert not any(_listening(port) for port in ports)


def test_the_pair_is_stopped_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with running_fakes(krx_credentials=("u", "p")) as (krx, llm):
            ports = [krx.port, llm.port]
            raise RuntimeError("boom")
    assert not any(_listening(port) for port in ports)


def test_stop_passes_over_servers_never_started_and_can_run_twice() -> None:
    krx, llm = start_fakes(krx_credentials=("u", "p"))
    ports = [krx.port, llm.port]
    stop_fakes(None, krx, llm)
    stop_fakes(krx, llm, None)
    assert not any(_listening(port) for port in ports)


# --- latency: what the benchmarks' realistic waits rest on (bench/README.md, round ten) -------------


def test_a_krx_answer_waits_for_the_latency_after_the_polite_pause() -> None:
    """The project's KRX resource against a fake that answers in 0.4 s with a 0.3 s polite pause: a
    day (two market calls) takes both answers' latency plus the pause between them."""
    import time
    from datetime import date

    from adelie_assets.resources.krx import KRX

    with running_fakes(krx_credentials=("u", "p"), krx_latency=0.4) as (krx_fake, _):
        krx = KRX(krx_id="u", krx_pw="p", base_url=krx_fake.url, delay_seconds=0.3)
        started = time.monotonic()
        day = krx.fetch_day(date(2026, 11, 27))
        elapsed = time.monotonic() - started
        answers = krx_fake.requests
    assert len(day) > 2_000
    assert len(answers) == 2 and all(r.end - r.start >= 0.4 for r in answers)
    assert elapsed >= 2 * 0.4 + 0.3


@pytest.mark.parametrize(("concurrency", "waves"), [(2, 2), (4, 1)])
def test_llm_calls_overlap_up_to_the_configured_concurrency(concurrency: int, waves: int) -> None:
    """Four themes through historical_cases' fan-out against a fake answering in 1 s: as many in
    flight as `max_concurrent_calls` allows, no more, so 2 waves at 2 and one wave at 4 (no upper
    bound on the time: the machine may be loaded)."""
    import time

    from adelie_assets.defs.cases.config import HistoricalCasesConfig
    from adelie_assets.defs.cases.prompt import build_request
    from adelie_assets.defs.cases.sync import generate_cases_sync
    from adelie_assets.resources.llm import LLM
    from adelie_fakes.openai import FakeOpenAI
    from tests.case_inputs import DAY, INDICES, analogs, theme

    work = [build_request(DAY, theme(), analogs(), INDICES, "ko") for _ in range(4)]
    config = HistoricalCasesConfig(max_concurrent_calls=concurrency)
    with FakeOpenAI(latency=1.0) as fake:
        llm = LLM(api_key=fake.api_key, base_url=fake.base_url)
        started = time.monotonic()
        results, failures = generate_cases_sync(llm, work, {}, config)
        elapsed = time.monotonic() - started
        in_flight, calls = fake.max_concurrent, fake.completion_count
    assert (len(results), failures, calls) == (4, [], 4)
    assert in_flight == concurrency
    assert elapsed >= waves * 1.0
