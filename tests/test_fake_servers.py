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
