"""The fake OpenAI server, exercised through the real ``openai`` SDK (its HTTP layer cannot be mocked)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from typing import Literal

import openai
import pydantic
import pytest
from openai import OpenAI
from openai.lib import type_to_response_format_param
from pydantic import BaseModel, Field

from adelie_fakes.openai import (
    DEFAULT_API_KEY,
    FAULTS,
    HALLUCINATED_TICKER,
    REFUSAL_TEXT,
    FakeOpenAI,
    extract_tickers,
    fake_value_for_schema,
)


class Narrative(BaseModel):
    background: str = Field(min_length=20, max_length=1500)
    mirrors_today: str
    differs_from_today: str
    devils_advocate: list[str] = Field(min_length=3, max_length=3)
    what_happened_next: str
    investor_takeaway: str


class GlossaryTerm(BaseModel):
    term: str
    definition: str


class Case(BaseModel):
    title: str = Field(min_length=5, max_length=120)
    event_year: int = Field(ge=1960, le=2025)
    summary: str
    narrative: Narrative
    related_tickers: list[str] = Field(min_length=1, max_length=5)
    sync_rate: int = Field(ge=0, le=100)
    key_insight: str
    glossary: list[GlossaryTerm] = Field(min_length=1, max_length=5)


PROMPT_TICKERS = {"005930", "000660"}
MESSAGES = [
    {"role": "system", "content": "You are a Korean stock market historian. Example code: 123456."},
    {
        "role": "user",
        "content": "Theme: HBM memory\nToday's biggest movers are tickers 005930 and 000660 (+8%, +11%). "
        "Find a past episode of Korean market history that resembles this.",
    },
]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def make_client(fake: FakeOpenAI, **kwargs) -> OpenAI:
    options = {"api_key": fake.api_key, "base_url": fake.base_url, "max_retries": 2, "timeout": 5.0}
    return OpenAI(**{**options, **kwargs})


def parse_case(client: OpenAI, messages: list[dict] | None = None):
    return client.chat.completions.parse(
        model="gpt-4o-mini", messages=messages or MESSAGES, response_format=Case
    )


# -- happy path ---------------------------------------------------------------------------------------


def test_parse_returns_grounded_case(fake: FakeOpenAI) -> None:
    completion = parse_case(make_client(fake))

    case = completion.choices[0].message.parsed
    assert isinstance(case, Case)
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini"
    assert completion.choices[0].finish_reason == "stop"
    assert completion._request_id and completion._request_id.startswith("req_")
    # Grounding: only codes from the *user* message, never the system prompt's example.
    assert case.related_tickers and set(case.related_tickers) <= PROMPT_TICKERS
    assert 1990 <= case.event_year <= 2020
    assert str(case.event_year) in case.title
    assert len(set(case.narrative.devils_advocate)) == 3
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert fake.completion_count == 1
    assert fake.total_tokens == usage.total_tokens

    (record,) = fake.completion_requests
    assert record.status == 200 and record.authorized and record.fault is None
    assert record.headers["authorization"] == "<redacted>"
    assert DEFAULT_API_KEY not in json.dumps(record.headers)
    assert record.body["response_format"]["type"] == "json_schema"
    assert record.body["response_format"]["json_schema"]["name"] == "Case"


def test_raw_response_has_request_id_header(fake: FakeOpenAI) -> None:
    raw = make_client(fake).chat.completions.with_raw_response.parse(
        model="gpt-4o-mini", messages=MESSAGES, response_format=Case
    )
    assert raw.headers["x-request-id"].startswith("req_")
    assert isinstance(raw.parse().choices[0].message.parsed, Case)


def test_same_request_same_content(fake: FakeOpenAI) -> None:
    client = make_client(fake)
    first, second = parse_case(client), parse_case(client)
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.id != second.id

    other = [{"role": "user", "content": "Ticker 035420 jumped on AI news."}]
    third = parse_case(client, other).choices[0].message
    assert third.content != first.choices[0].message.content
    assert third.parsed is not None and third.parsed.related_tickers == ["035420"]


def test_plain_text_completion(fake: FakeOpenAI) -> None:
    completion = make_client(fake).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say something about 005930."}]
    )
    assert completion.choices[0].message.content
    assert completion.model == "gpt-4o-mini"


# -- faults -------------------------------------------------------------------------------------------


def test_rate_limit_twice_is_retried_by_the_sdk(fake: FakeOpenAI) -> None:
    fake.push_faults("rate_limit", "rate_limit")
    assert fake.pending_faults == ["rate_limit", "rate_limit"]

    case = parse_case(make_client(fake, max_retries=2)).choices[0].message.parsed

    assert isinstance(case, Case)
    assert fake.completion_count == 3
    assert [r.status for r in fake.completion_requests] == [429, 429, 200]
    assert [r.headers.get("x-stainless-retry-count") for r in fake.completion_requests] == ["0", "1", "2"]
    assert fake.pending_faults == []


def test_persistent_rate_limit_raises(fake: FakeOpenAI) -> None:
    fake.set_fault("rate_limit")
    with pytest.raises(openai.RateLimitError) as info:
        parse_case(make_client(fake, max_retries=2))
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after-ms"] == "10"
    assert "retry-after" in info.value.response.headers
    assert fake.completion_count == 3
    assert fake.total_tokens == 0

    fake.set_fault(None)
    assert isinstance(parse_case(make_client(fake)).choices[0].message.parsed, Case)


def test_server_error_after_retries(fake: FakeOpenAI) -> None:
    fake.set_fault("server_error")
    # One retry keeps the SDK's exponential backoff (no retry-after on 500s) well under a second.
    with pytest.raises(openai.InternalServerError) as info:
        parse_case(make_client(fake, max_retries=1))
    assert info.value.status_code == 500
    assert info.value.type == "server_error"
    assert fake.completion_count == 2


def test_bad_key_fault_is_not_retried(fake: FakeOpenAI) -> None:
    fake.push_faults("bad_key")
    with pytest.raises(openai.AuthenticationError) as info:
        parse_case(make_client(fake, max_retries=2))
    assert info.value.code == "invalid_api_key"
    assert fake.completion_count == 1


def test_wrong_api_key_is_rejected(fake: FakeOpenAI) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        parse_case(make_client(fake, api_key="sk-wrong-key-123456"))
    assert info.value.code == "invalid_api_key"
    assert "Incorrect API key provided" in info.value.message
    assert "sk-wrong-key-123456" not in info.value.message
    assert fake.completion_count == 1
    assert fake.completion_requests[0].authorized is False


def test_hang_times_out_and_stop_is_prompt() -> None:
    fake = FakeOpenAI().start()
    try:
        fake.set_fault("hang")
        with pytest.raises(openai.APITimeoutError):
            parse_case(make_client(fake, timeout=0.5, max_retries=0))
        assert fake.hang_seconds == 30
        assert fake.in_flight == 1
    finally:
        started = time.monotonic()
        fake.stop()
    assert time.monotonic() - started < 2


def test_hang_does_not_block_other_requests(fake: FakeOpenAI) -> None:
    fake.push_faults("hang")
    outcome: list[BaseException] = []

    def hung_call() -> None:
        try:
            parse_case(make_client(fake, timeout=0.5, max_retries=0))
        except BaseException as exc:  # handed to the main thread for the assertion
            outcome.append(exc)

    hung = threading.Thread(target=hung_call, daemon=True)
    hung.start()
    deadline = time.monotonic() + 2
    while fake.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    assert isinstance(parse_case(make_client(fake)).choices[0].message.parsed, Case)
    assert time.monotonic() - started < 0.4
    hung.join(timeout=5)
    assert len(outcome) == 1 and isinstance(outcome[0], openai.APITimeoutError)


def test_refusal(fake: FakeOpenAI) -> None:
    fake.push_faults("refusal")
    message = parse_case(make_client(fake)).choices[0].message
    assert message.refusal == REFUSAL_TEXT
    assert message.content is None
    assert message.parsed is None


def test_length_finish_reason(fake: FakeOpenAI) -> None:
    fake.push_faults("length")
    with pytest.raises(openai.LengthFinishReasonError) as info:
        parse_case(make_client(fake))
    content = info.value.completion.choices[0].message.content
    assert content and content.startswith("{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


@pytest.mark.parametrize("fault", ["invalid_json", "schema_violation"])
def test_unparseable_content_raises_validation_error(fake: FakeOpenAI, fault: str) -> None:
    fake.push_faults(fault)
    with pytest.raises(pydantic.ValidationError):
        parse_case(make_client(fake))
    assert fake.completion_count == 1  # a 200 is never retried by the SDK


def test_schema_violation_is_still_valid_json(fake: FakeOpenAI) -> None:
    fake.push_faults("schema_violation")
    raw = make_client(fake).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, response_format=type_to_response_format_param(Case)
    )
    content = raw.choices[0].message.content
    assert content is not None
    assert isinstance(json.loads(content), dict)


def test_hallucinated_ticker(fake: FakeOpenAI) -> None:
    fake.push_faults("hallucinated_ticker")
    case = parse_case(make_client(fake)).choices[0].message.parsed
    assert case is not None
    assert HALLUCINATED_TICKER in case.related_tickers
    assert HALLUCINATED_TICKER not in MESSAGES[1]["content"]


def test_unknown_fault_name_is_rejected(fake: FakeOpenAI) -> None:
    with pytest.raises(ValueError):
        fake.push_faults("meteor")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        fake.set_fault("meteor")  # type: ignore[arg-type]
    assert set(FAULTS) == {
        "rate_limit",
        "server_error",
        "bad_key",
        "hang",
        "refusal",
        "length",
        "invalid_json",
        "schema_violation",
        "hallucinated_ticker",
        "invented_number",
        "unknown_analog_id",
        "english_text",
        "realistic",
    }


def test_a_case_request_gets_a_korean_case_about_an_offered_analog(fake: FakeOpenAI) -> None:
    """Through the SDK: the prompt of historical_cases, the answer the asset's judge accepts."""
    from adelie_assets.defs.cases.generate import judge_answer
    from adelie_assets.defs.cases.prompt import build_request
    from adelie_assets.defs.cases.schema import HistoricalCase
    from tests.case_inputs import DAY, INDICES, analogs, theme

    request = build_request(DAY, theme(), analogs(), INDICES, "ko")
    client = make_client(fake)
    completion = client.chat.completions.parse(
        model="gpt-4o-mini", messages=request.messages, response_format=HistoricalCase
    )
    case = completion.choices[0].message.parsed
    assert case.analog_id in request.offered and judge_answer(case, None, request) is None
    fake.push_faults("invented_number")
    bad = client.chat.completions.parse(
        model="gpt-4o-mini", messages=request.messages, response_format=HistoricalCase
    )
    assert "37.77%" in bad.choices[0].message.parsed.summary


def test_latency_does_not_serialize_requests(fake: FakeOpenAI) -> None:
    fake.latency = 0.5
    client = make_client(fake)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(parse_case(client))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 4
    assert fake.completion_count == 4
    assert fake.max_concurrent >= 2


def test_reset(fake: FakeOpenAI) -> None:
    fake.latency = 0.01
    fake.push_faults("refusal")
    fake.set_fault("length")
    parse_case(make_client(fake))
    assert fake.completion_count == 1 and fake.requests

    fake.reset()

    assert fake.completion_count == 0 and fake.requests == [] and fake.total_tokens == 0
    assert fake.max_concurrent == 0 and fake.pending_faults == [] and fake.sticky_fault is None
    assert fake.latency == 0.0


# -- batch API ----------------------------------------------------------------------------------------


def batch_jsonl(count: int) -> bytes:
    response_format = type_to_response_format_param(Case)
    lines = []
    for index in range(count):
        body = {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": f"Case {index}: tickers 005930 and 000660 moved."}],
            "response_format": response_format,
        }
        lines.append(
            json.dumps(
                {"custom_id": f"case-{index}", "method": "POST", "url": "/v1/chat/completions", "body": body}
            )
        )
    return ("\n".join(lines) + "\n").encode()


def wait_for_batch(client: OpenAI, batch_id: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "cancelled", "expired") or time.monotonic() > deadline:
            return batch
        time.sleep(0.05)


def test_batch_end_to_end(fake: FakeOpenAI) -> None:
    client = make_client(fake)
    uploaded = client.files.create(file=("cases.jsonl", batch_jsonl(3)), purpose="batch")
    assert uploaded.id.startswith("file-") and uploaded.purpose == "batch" and uploaded.bytes > 0

    fake.push_faults("rate_limit")  # consumed by the first line
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert batch.status == "validating"
    assert batch.output_file_id is None

    batch = wait_for_batch(client, batch.id)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (
        3,
        2,
        1,
    )
    assert batch.output_file_id and batch.error_file_id
    assert batch.usage is not None and batch.usage.total_tokens > 0

    lines = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines()]
    assert sorted(line["custom_id"] for line in lines) == ["case-1", "case-2"]
    for line in lines:
        assert line["error"] is None and line["id"].startswith("batch_req_")
        assert line["response"]["status_code"] == 200 and line["response"]["request_id"]
        body = line["response"]["body"]
        assert body["object"] == "chat.completion"
        case = Case.model_validate_json(body["choices"][0]["message"]["content"])
        assert set(case.related_tickers) <= PROMPT_TICKERS

    (error_line,) = [json.loads(x) for x in client.files.content(batch.error_file_id).text.splitlines()]
    assert error_line["custom_id"] == "case-0"
    assert error_line["response"]["status_code"] == 429
    assert error_line["response"]["body"]["error"]["code"] == "rate_limit_exceeded"

    assert fake.batch_line_count == 3
    assert fake.completion_count == 0


def test_batch_delay_and_cancel(fake: FakeOpenAI) -> None:
    client = make_client(fake)
    fake.batch_delay = 0.3
    file_id = client.files.create(file=("b.jsonl", batch_jsonl(1)), purpose="batch").id
    batch = client.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert client.batches.retrieve(batch.id).status == "in_progress"
    time.sleep(0.35)
    assert client.batches.retrieve(batch.id).status == "completed"

    other = client.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert client.batches.cancel(other.id).status == "cancelling"
    cancelled = client.batches.retrieve(other.id)
    assert cancelled.status == "cancelled" and cancelled.output_file_id is None


def test_batch_rejects_bad_lines_and_unknown_ids(fake: FakeOpenAI) -> None:
    client = make_client(fake)
    bad = b'{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {}}\nnot json\n'
    file_id = client.files.create(file=("bad.jsonl", bad), purpose="batch").id
    batch = client.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "failed"
    assert batch.errors is not None and batch.errors.data and len(batch.errors.data) == 2

    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_missing")
    with pytest.raises(openai.NotFoundError):
        client.files.content("file-missing")
    with pytest.raises(openai.BadRequestError):
        client.batches.create(
            input_file_id="file-missing", endpoint="/v1/chat/completions", completion_window="24h"
        )


# -- control endpoint and CLI -------------------------------------------------------------------------


def post_control(url: str, payload: dict) -> dict:
    request = urllib.request.Request(
        f"{url}/_fake/fault", data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_control_endpoint(fake: FakeOpenAI) -> None:
    client = make_client(fake, max_retries=0)
    state = post_control(fake.url, {"fault": "server_error"})
    assert state["sticky_fault"] == "server_error"
    with pytest.raises(openai.InternalServerError):
        parse_case(client)

    state = post_control(fake.url, {"fault": None, "push": ["rate_limit"], "latency": 0.05})
    assert state["sticky_fault"] is None and state["pending_faults"] == ["rate_limit"]
    assert fake.latency == 0.05
    with pytest.raises(openai.RateLimitError):
        parse_case(client)
    assert isinstance(parse_case(client).choices[0].message.parsed, Case)

    with pytest.raises(urllib.error.HTTPError) as info:
        post_control(fake.url, {"fault": "meteor"})
    assert info.value.code == 400


def test_cli_serves_until_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "adelie_fakes.openai", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        base_url = next(word for word in first_line.split() if word.startswith("http://"))
        assert base_url.endswith("/v1")
        client = OpenAI(api_key=DEFAULT_API_KEY, base_url=base_url, max_retries=0, timeout=5)
        post_control(base_url.removesuffix("/v1"), {"push": ["refusal"]})
        assert parse_case(client).choices[0].message.refusal == REFUSAL_TEXT
        assert isinstance(parse_case(client).choices[0].message.parsed, Case)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_import_has_no_side_effects() -> None:
    code = (
        "import sys, threading; import adelie_fakes.openai; "
        "print('openai' in sys.modules, threading.active_count())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "1"]


# -- the generator on its own -------------------------------------------------------------------------


class Exotic(BaseModel):
    mood: Literal["bull", "bear"]
    ratio: float = Field(gt=0, lt=1)
    score: float = Field(ge=-5, le=5)
    lots: int = Field(multiple_of=10, ge=0, le=100)
    founded_year: int = Field(gt=2021)
    when: date
    note: str | None
    code: str = Field(pattern=r"^\d{6}$")
    short: str = Field(min_length=3, max_length=8)
    flags: list[bool] = Field(min_length=0, max_length=1)
    glossary: list[GlossaryTerm] = Field(min_length=4)
    tickers: list[str] = Field(max_length=1)


def test_generator_satisfies_assorted_constraints() -> None:
    schema = type_to_response_format_param(Exotic)["json_schema"]["schema"]  # type: ignore[index]
    for seed in range(25):
        value = fake_value_for_schema(schema, seed=seed, tickers=["005930", "000660"])
        parsed = Exotic.model_validate(value)
        assert parsed.note is not None
        assert parsed.tickers == ["005930"]
        assert parsed.founded_year >= 2022
    assert fake_value_for_schema(schema, seed=1) == fake_value_for_schema(schema, seed=1)


def test_extract_tickers() -> None:
    assert extract_tickers(["005930, 000660 and 005930; 20240115 and 12345 are not codes"]) == [
        "005930",
        "000660",
    ]
