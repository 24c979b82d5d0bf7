"""The case writer under a realistic model (issue 34): a rejected answer is followed by a repair turn
naming its problem; a model that writes as small models do (the fake's ``realistic`` fault: rounded
figures, gaps in %p, the price limit, 100만 원, and half of its first answers with a slip) gets its
days stored with every number grounded. Through the fake OpenAI over HTTP and the real openai SDK."""

from __future__ import annotations

from datetime import date

import pytest
from dagster import DagsterInstance, materialize

from adelie_assets.defs.cases.assets import historical_cases
from adelie_assets.defs.cases.grounding import ungrounded
from adelie_assets.defs.cases.inputs import case_requests
from adelie_assets.resources.llm import LLM
from adelie_assets.resources.warehouse import Warehouse
from adelie_fakes.openai import FakeOpenAI
from tests.builders import step_failures
from tests.case_inputs import case_day_warehouse

DAY = date(2026, 11, 27)
SLIPS = ("2008년", "금융위기 때와도 비슷한", "1000원어치", "5일 수익률은 지수보다", "한 달 수익률은")


@pytest.fixture
def warehouse(sqlite_warehouse_url: str) -> Warehouse:
    return case_day_warehouse(sqlite_warehouse_url)  # type: ignore[return-value]


def run(fake: FakeOpenAI, warehouse: Warehouse, **config: object):
    return materialize(
        [historical_cases],
        partition_key=DAY.isoformat(),
        resources={"llm": LLM(api_key=fake.api_key, base_url=fake.base_url), "warehouse": warehouse},
        instance=DagsterInstance.ephemeral(),
        run_config={"ops": {"historical_cases": {"config": {"max_concurrent_calls": 1, **config}}}},
        raise_on_error=False,
    )


def metadata(result) -> dict:  # noqa: ANN001 - dagster's result
    return {
        k: v.value for k, v in result.asset_materializations_for_node("historical_cases")[0].metadata.items()
    }


def test_a_rejected_answer_is_followed_by_a_repair_turn_naming_the_problem(
    fake_llm: FakeOpenAI, warehouse: Warehouse
):
    fake_llm.push_faults("invented_number")
    result = run(fake_llm, warehouse)
    assert result.success, step_failures(result)
    first, repair = (r.body["messages"] for r in fake_llm.completion_requests[:2])
    # The same request, the rejected answer as the model sent it, then what was wrong and what to do.
    assert [m["role"] for m in repair] == ["system", "user", "assistant", "user"]
    assert repair[:2] == first
    assert "37.77%" in repair[2]["content"]
    assert "- number '37.77%' is not among the facts" in repair[3]["content"]
    assert "숫자 없이 말로 쓰세요" in repair[3]["content"]
    assert len(warehouse.read_historical_cases([DAY])) == 5
    figures = metadata(result)
    assert figures["llm_calls"] == 6 and figures["first_try_accepted"] == 4
    attempts = figures["attempts_by_theme"][f"{DAY} #1"]
    assert attempts["attempts"] == 2 and attempts["input_tokens"] > 0
    assert attempts["rejected"] == ["attempt 1: ungrounded answer (number '37.77%' is not among the facts)"]


def test_batch_retries_are_repair_turns_too(fake_llm: FakeOpenAI, warehouse: Warehouse):
    fake_llm.push_faults("invented_number")
    result = run(fake_llm, warehouse, llm_mode="batch", batch_poll_seconds=0.05, batch_timeout_seconds=10)
    assert result.success, step_failures(result)
    assert fake_llm.batch_line_count == 6
    first_round, second_round = fake_llm.batch_input_lines
    assert len(first_round) == 5 and len(second_round) == 1
    messages = second_round[0]["body"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "- number '37.77%' is not among the facts" in messages[-1]["content"]


def test_a_realistic_model_gets_its_day_stored_with_every_number_grounded(
    fake_llm: FakeOpenAI, warehouse: Warehouse
):
    fake_llm.set_fault("realistic")
    result = run(fake_llm, warehouse)
    assert result.success, step_failures(result)
    cases = warehouse.read_historical_cases([DAY])
    assert len(cases) == 5
    requests = {r.theme.rank: r for r in case_requests(warehouse, [DAY], "ko", 1)[DAY]}
    for case in cases.to_dict("records"):
        texts = [case["title"], case["summary"], case["key_insight"]]
        texts += [t for s in case["narrative"].values() for t in (*s["bullets"], s["content"])]
        assert [p for t in texts for p in ungrounded(t, requests[case["theme_rank"]].facts)] == []
        assert not any(slip in text for slip in SLIPS for text in texts)
        # What a model writes naturally, now among the facts (prompt v4): the gap, the rule, 100만 원.
        assert "%p" in case["narrative"]["mirroring"]["bullets"][-1] or case["theme_rank"] != 1
        assert "100만 원" in case["narrative"]["simulation"]["content"]
    figures = metadata(result)
    rejected = [a for a in figures["attempts_by_theme"].values() if a["rejected"]]
    assert rejected, "the realistic model slipped in none of its first answers: the replay proves nothing"
    assert figures["llm_calls"] == 5 + sum(a["attempts"] - 1 for a in figures["attempts_by_theme"].values())
