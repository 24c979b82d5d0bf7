"""historical_cases against the fake OpenAI server, through the real openai SDK, on a day whose themes,
analogs and indices are in the warehouse."""

import json
from datetime import date

import pytest
from dagster import DagsterInstance, materialize

from adelie_assets.defs.cases.assets import historical_cases
from adelie_assets.defs.cases.generate import request_hash
from adelie_assets.resources.llm import LLM
from adelie_assets.resources.warehouse import Warehouse, market_analogs_table
from adelie_fakes.openai import FakeOpenAI
from tests.builders import executed_steps, step_failures
from tests.case_inputs import case_day_warehouse

DAY = date(2026, 11, 27)
KEY = DAY.isoformat()


@pytest.fixture
def warehouse(sqlite_warehouse_url: str) -> Warehouse:
    return case_day_warehouse(sqlite_warehouse_url)  # type: ignore[return-value]


def llm_for(fake: FakeOpenAI, **overrides: object) -> LLM:
    settings = {"api_key": fake.api_key, "base_url": fake.base_url, "max_retries": 2, "timeout_seconds": 5.0}
    settings.update(overrides)
    return LLM(**settings)


def run(llm: LLM, warehouse: Warehouse, config: dict | None = None, partition: str = KEY):
    return materialize(
        [historical_cases],
        partition_key=partition,
        resources={"llm": llm, "warehouse": warehouse},
        instance=DagsterInstance.ephemeral(),
        run_config={"ops": {"historical_cases": {"config": config or {}}}},
        raise_on_error=False,
    )


def test_writes_one_korean_case_per_theme_with_the_analogs_facts(fake_llm: FakeOpenAI, warehouse: Warehouse):
    result = run(llm_for(fake_llm), warehouse)
    assert result.success, step_failures(result)
    cases = warehouse.read_historical_cases([DAY])
    assert list(cases["theme_rank"]) == [1, 2, 3, 4, 5]
    analogs = warehouse.read(market_analogs_table, [DAY]).set_index("analog_id")
    for row in cases.itertuples():
        analog = analogs.loc[row.analog_id]
        assert row.event_date == analog.analog_date and row.sync_rate == round(analog.similarity)
        assert row.outcome["after_60_pct"] == analog.after_60_pct
        assert set(row.related_tickers) <= set(row.theme_tickers)
        assert len(row.narrative["devils_advocate"]["bullets"]) == 3
        assert row.language == "ko" and row.prompt_version == "historical_case_v4_ko"
        assert row.model == "gpt-4o-mini"
    assert cases.loc[0, "theme_label"] == "코스피 급등주"
    metadata = result.asset_materializations_for_node("historical_cases")[0].metadata
    assert metadata["dagster/row_count"].value == 5
    assert metadata["llm_calls"].value == 5 and metadata["cache_hits"].value == 0
    assert metadata["input_tokens"].value == fake_llm.prompt_tokens
    assert metadata["estimated_cost_usd"].value > 0
    assert len(metadata["request_ids"].value) == 5
    prompt = fake_llm.completion_requests[0].body["messages"][1]["content"]
    assert f"거래일: {KEY}" in prompt and "\n후보 (종목 후보는 같은 시총 등급):\n" in prompt
    assert "\n국면 A: 코로나19 이후 동학개미 상승장 2020-03-19~2021-07-06" in prompt


def test_english_cases_by_environment(fake_llm: FakeOpenAI, warehouse: Warehouse, monkeypatch):
    monkeypatch.setenv("ADELIE_CASE_LANGUAGE", "en")
    assert run(llm_for(fake_llm), warehouse).success
    cases = warehouse.read_historical_cases([DAY])
    assert set(cases["language"]) == {"en"} and set(cases["prompt_version"]) == {"historical_case_v4_en"}
    assert cases.loc[0, "theme_label"] == "Top gainers on KOSPI"
    monkeypatch.setenv("ADELIE_CASE_LANGUAGE", "fr")
    result = run(llm_for(fake_llm), warehouse)
    assert "ADELIE_CASE_LANGUAGE='fr' is not a case language" in step_failures(result)["historical_cases"]


def test_rerun_with_same_inputs_costs_no_tokens_and_regenerate_asks_again(
    fake_llm: FakeOpenAI, warehouse: Warehouse
):
    assert run(llm_for(fake_llm), warehouse).success
    first = warehouse.read_historical_cases([DAY])
    calls = fake_llm.completion_count
    result = run(llm_for(fake_llm), warehouse)
    assert result.success and fake_llm.completion_count == calls
    metadata = result.asset_materializations_for_node("historical_cases")[0].metadata
    assert metadata["cache_hits"].value == 5 and metadata["input_tokens"].value == 0
    again = warehouse.read_historical_cases([DAY])
    assert len(again) == 5 and list(again["title"]) == list(first["title"])
    regenerated = run(llm_for(fake_llm), warehouse, {"regenerate": True})
    assert regenerated.success and fake_llm.completion_count == calls + 5
    assert (
        regenerated.asset_materializations_for_node("historical_cases")[0].metadata["cache_hits"].value == 0
    )
    # A different model is a different request: it regenerates.
    assert run(llm_for(fake_llm, model="gpt-4.1-mini"), warehouse).success
    assert fake_llm.completion_count == calls + 10


def test_request_hash_changes_with_prompt_version_and_model() -> None:
    messages = [{"role": "user", "content": "x"}]
    base = request_hash("m", "historical_case_v3_ko", messages)
    assert base == request_hash("m", "historical_case_v3_ko", messages)
    assert base != request_hash("m", "historical_case_v3_en", messages)
    assert base != request_hash("m2", "historical_case_v3_ko", messages)


def test_theme_calls_run_concurrently(fake_llm: FakeOpenAI, warehouse: Warehouse):
    fake_llm.latency = 0.3
    assert run(llm_for(fake_llm), warehouse, {"max_concurrent_calls": 4}).success
    assert fake_llm.max_concurrent >= 3


def test_sdk_retries_a_429_and_succeeds(fake_llm: FakeOpenAI, warehouse: Warehouse):
    fake_llm.push_faults("rate_limit", "rate_limit")
    assert run(llm_for(fake_llm), warehouse).success
    assert fake_llm.completion_count == 7
    assert len(warehouse.read_historical_cases([DAY])) == 5


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("refusal", "the model refused"),
        ("length", "answer truncated (finish_reason=length)"),
        ("invalid_json", "answer is not a valid case"),
        ("schema_violation", "answer is not a valid case"),
        ("invented_number", "ungrounded answer (number '37.77%' is not among the facts"),
        ("unknown_analog_id", "ungrounded answer (analog_id '999999-9' was not offered"),
        ("english_text", "ungrounded answer (the case is not in Korean"),
    ],
)
def test_bad_answers_are_retried_then_fail_without_a_partial_day(
    fake_llm: FakeOpenAI, warehouse: Warehouse, fault: str, message: str
):
    # One bad answer is retried away.
    fake_llm.push_faults(fault)
    assert run(llm_for(fake_llm), warehouse).success
    previous = warehouse.read_historical_cases([DAY])
    # A model that keeps answering badly fails the step after max_attempts; the old day stays.
    fake_llm.reset()
    fake_llm.set_fault(fault)
    result = run(
        llm_for(fake_llm), warehouse, {"max_attempts": 2, "max_concurrent_calls": 1, "regenerate": True}
    )
    assert not result.success
    text = step_failures(result)["historical_cases"]
    assert message in text and "no valid case after 2 attempts" in text
    assert "nothing partial was written" in text
    assert list(warehouse.read_historical_cases([DAY])["title"]) == list(previous["title"])


@pytest.mark.parametrize(
    ("fault", "message", "max_requests"),
    [
        ("rate_limit", "kept answering 429 (rate limit or quota) after 2 retries", None),
        ("server_error", "answered HTTP 500 after 1 retries", None),
        ("bad_key", "rejected the API key (HTTP 401): check OPENAI_API_KEY", 5),
        ("hang", "did not answer within 0.5 s", None),
    ],
)
def test_http_faults_fail_the_step_with_what_to_check(
    fake_llm: FakeOpenAI, warehouse: Warehouse, fault: str, message: str, max_requests: int | None
):
    fake_llm.set_fault(fault)
    fake_llm.hang_seconds = 3
    retries = 2 if fault == "rate_limit" else (0 if fault == "hang" else 1)
    llm = llm_for(fake_llm, max_retries=retries, timeout_seconds=0.5)
    result = run(llm, warehouse, {"max_concurrent_calls": 4})
    assert not result.success
    text = step_failures(result)["historical_cases"]
    assert message in text
    assert fake_llm.api_key not in text
    if max_requests is not None:  # 401 is not retried, by the SDK or by us: at most one request per theme
        assert fake_llm.completion_count <= max_requests
    assert warehouse.read_historical_cases([DAY]).empty


def test_no_key_fails_the_step_naming_openai_api_key(fake_llm: FakeOpenAI, warehouse: Warehouse):
    result = run(LLM(base_url=fake_llm.base_url), warehouse)
    assert not result.success
    assert "OPENAI_API_KEY is not set" in step_failures(result)["historical_cases"]
    assert fake_llm.completion_count == 0


def test_missing_upstream_day_says_what_to_materialize(fake_llm: FakeOpenAI, warehouse: Warehouse):
    result = run(llm_for(fake_llm), warehouse, partition="2026-11-26")
    assert (
        "daily_themes, market_analogs, market_indices has no rows for 2026-11-26"
        in step_failures(result)["historical_cases"]
    )
    assert executed_steps(result) == {"historical_cases"}


@pytest.mark.parametrize(
    ("config", "field"),
    [({"candidates_per_subject": 0}, "candidates_per_subject"), ({"max_attempts": 9}, "max_attempts")],
)
def test_invalid_config_is_refused_naming_the_field(
    fake_llm: FakeOpenAI, warehouse: Warehouse, config, field
):
    result = run(llm_for(fake_llm), warehouse, config)
    assert not result.success
    text = step_failures(result)["historical_cases"]
    assert field in text and ("greater than or equal" in text or "less than or equal" in text)
    assert fake_llm.completion_count == 0


BATCH = {"llm_mode": "batch", "batch_poll_seconds": 0.05, "batch_timeout_seconds": 10}


def test_batch_mode_writes_the_same_validated_cases_at_half_the_price(
    fake_llm: FakeOpenAI, warehouse: Warehouse
):
    result = run(llm_for(fake_llm), warehouse, BATCH)
    assert result.success, step_failures(result)
    cases = warehouse.read_historical_cases([DAY])
    assert len(cases) == 5 and set(cases["language"]) == {"ko"}
    assert fake_llm.completion_count == 0 and fake_llm.batch_line_count == 5
    metadata = result.asset_materializations_for_node("historical_cases")[0].metadata
    tokens_in, tokens_out = metadata["input_tokens"].value, metadata["output_tokens"].value
    full_price = llm_for(fake_llm).estimated_cost_usd(tokens_in, tokens_out)
    assert metadata["estimated_cost_usd"].value == pytest.approx(full_price / 2, rel=1e-3)
    # The batch answers fill the same cache: a sync re-run costs nothing.
    assert run(llm_for(fake_llm), warehouse).success and fake_llm.completion_count == 0


def test_batch_lines_are_judged_like_sync_answers_and_retried_in_a_new_round(
    fake_llm: FakeOpenAI, warehouse: Warehouse
):
    fake_llm.push_faults("invented_number", "refusal")
    assert run(llm_for(fake_llm), warehouse, BATCH).success
    assert fake_llm.batch_line_count == 7  # 5 lines, then a second round for the 2 bad ones
    assert len(warehouse.read_historical_cases([DAY])) == 5


def test_batch_that_keeps_failing_stores_nothing(fake_llm: FakeOpenAI, warehouse: Warehouse):
    fake_llm.set_fault("unknown_analog_id")
    result = run(llm_for(fake_llm), warehouse, {**BATCH, "max_attempts": 2})
    assert not result.success
    text = step_failures(result)["historical_cases"]
    assert "no valid case after 2 attempts" in text and "was not offered" in text
    assert warehouse.read_historical_cases([DAY]).empty


def test_batch_that_does_not_finish_in_time_is_cancelled(fake_llm: FakeOpenAI, warehouse: Warehouse):
    fake_llm.batch_delay = 30
    result = run(llm_for(fake_llm), warehouse, {**BATCH, "batch_timeout_seconds": 0.3})
    assert not result.success
    assert "did not finish within 0.3 s and was cancelled" in step_failures(result)["historical_cases"]
    assert warehouse.read_historical_cases([DAY]).empty


def test_an_expired_batch_keeps_the_lines_it_answered_and_asks_only_for_the_rest(
    fake_llm: FakeOpenAI, warehouse: Warehouse
):
    # OpenAI's batches expire past their window: the lines answered by then are in the output file,
    # and billed. Before: "LLM batch ... ended expired" failed the step and threw them away.
    fake_llm.batch_expires_after_lines = 3
    result = run(llm_for(fake_llm), warehouse, BATCH)
    assert result.success, step_failures(result)
    assert len(warehouse.read_historical_cases([DAY])) == 5
    first, second = fake_llm.batch_input_lines
    assert len(first) == 5 and len(second) == 2
    answered = {line["custom_id"] for line in first[:3]}
    assert answered.isdisjoint(line["custom_id"] for line in second)
    # The unanswered lines are asked again as they were: no repair turn about an answer never given.
    asked = {line["custom_id"]: line["body"]["messages"] for line in first}
    assert all(line["body"]["messages"] == asked[line["custom_id"]] for line in second)


def test_every_case_ends_with_the_line_code_adds_and_names_its_analogs_episode(
    fake_llm: FakeOpenAI, warehouse: Warehouse
):
    """Issue 33: the disclaimer is a fixed line added by code (the model's answer, as cached, has none),
    and a case whose analog sat in a market episode names it, with its dates, as a model given them does."""
    from adelie_assets.defs.cases.prompt import DISCLAIMER

    assert run(llm_for(fake_llm), warehouse).success
    cases = warehouse.read_historical_cases([DAY])
    for row in cases.itertuples():
        action = row.narrative["action"]["content"]
        assert action.endswith(" " + DISCLAIMER["ko"]) and action.count(DISCLAIMER["ko"]) == 1
        assert "코로나19 이후 동학개미 상승장" in row.title
        assert (
            "코로나19 이후 동학개미 상승장(2020년 3월 19일~2021년 7월 6일)"
            in row.narrative["background"]["content"]
        )
    cached = warehouse.cached_llm_responses(list(cases["request_hash"]))
    assert len(cached) == 5
    assert all(DISCLAIMER["ko"] not in json.dumps(e["response"], ensure_ascii=False) for e in cached.values())
