"""Model text that hides numbers or says nothing (issue 32, items 2 and 6), served by the fake OpenAI
over real HTTP through the real openai SDK (its completion generator is wrapped, as in
test_hostile_text.py), judged and stored by historical_cases."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from datetime import date

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, materialize

from adelie_assets.defs.cases.assets import historical_cases
from adelie_assets.defs.cases.normal_form import normal_form
from adelie_assets.resources.llm import LLM
from adelie_assets.resources.warehouse import Warehouse, llm_cache_table
from adelie_fakes.openai import FakeOpenAI
from adelie_fakes.openai import wire as openai_wire
from tests.builders import step_failures
from tests.case_inputs import case_day_warehouse

DAY = date(2026, 11, 27)
ZWSP, WORD_JOINER, SOFT_HYPHEN = "\u200b", "\u2060", "\u00ad"
Case = dict


@pytest.fixture
def warehouse(sqlite_warehouse_url: str) -> Warehouse:
    return case_day_warehouse(sqlite_warehouse_url)  # type: ignore[return-value]


def answering(monkeypatch: pytest.MonkeyPatch, rewrite: Callable[[Case], None], times: int) -> list[int]:
    """The fake's first `times` case answers rewritten by `rewrite`; returns a counter of them."""
    original = openai_wire._complete
    served = [0]

    def complete(body, fault, *, presented_key):  # noqa: ANN001, ANN202 - the fake's own signature
        reply = original(body, fault, presented_key=presented_key)
        message = reply.body.get("choices", [{}])[0].get("message", {}) if reply.status == 200 else {}
        if message.get("content") and served[0] < times:
            served[0] += 1
            case = json.loads(message["content"])
            rewrite(case)
            message["content"] = json.dumps(case, ensure_ascii=False)
        return reply

    monkeypatch.setattr(openai_wire, "_complete", complete)
    return served


def run(fake: FakeOpenAI, warehouse: Warehouse, **config: object):
    return materialize(
        [historical_cases],
        partition_key=DAY.isoformat(),
        resources={
            "llm": LLM(api_key=fake.api_key, base_url=fake.base_url, max_retries=0),
            "warehouse": warehouse,
        },
        instance=DagsterInstance.ephemeral(),
        run_config={"ops": {"historical_cases": {"config": {"max_concurrent_calls": 1, **config}}}},
        raise_on_error=False,
    )


def stored_texts(warehouse: Warehouse) -> list[str]:
    cases = warehouse.read_historical_cases([DAY])
    texts = []
    for case in cases.to_dict("records"):
        texts += [case["title"], case["summary"], case["key_insight"]]
        for section in case["narrative"].values():
            texts += [*section["bullets"], section["content"]]
        texts += [t for g in case["glossary"] for t in (g["term"], g["definition"])]
    return texts


def hide(number: str, joiner: str) -> str:
    return joiner.join(number)


# Each disguise passed the rule before the normal form: its fragments are small counting words.
HIDDEN_NUMBERS = {
    "zero-width spaces": f"주가는 {hide('91.4%', ZWSP)} 올랐다.",
    "word joiners": f"주가는 {hide('91.4%', WORD_JOINER)} 올랐다.",
    "soft hyphens": f"주가는 {hide('91.4%', SOFT_HYPHEN)} 올랐다.",
    "korean words": "주가는 삼십칠 퍼센트 올랐다.",
    "superscripts": "주가는 ⁹¹·⁴% 올랐다.",
    "roman numerals": "주가는 ⅩⅩⅩⅦ% 올랐다.",
    "circled numerals": "주가는 ㊲% 올랐다.",
    "full-width digits": "주가는 ９．４％ 올랐다.",
}


@pytest.mark.parametrize("disguise", list(HIDDEN_NUMBERS))
def test_a_number_hidden_from_the_check_is_rejected_and_never_stored(
    fake_llm: FakeOpenAI, warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, disguise: str
):
    def rewrite(case: Case) -> None:
        case["summary"] += " " + HIDDEN_NUMBERS[disguise]

    answering(monkeypatch, rewrite, times=10)
    result = run(fake_llm, warehouse, max_attempts=2)
    assert not result.success
    text = step_failures(result)["historical_cases"]
    assert "ungrounded answer (number '" in text and "is not among the facts" in text
    assert warehouse.read_historical_cases([DAY]).empty
    with warehouse.engine().connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(llm_cache_table)).scalar() == 0


def test_one_hidden_number_is_asked_again_and_what_is_stored_is_what_was_checked(
    fake_llm: FakeOpenAI, warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
):
    def rewrite(case: Case) -> None:
        # Invisible characters and compatibility forms around a harmless word and a given figure.
        case["title"] = f"{SOFT_HYPHEN}{case['title']}{ZWSP} "
        case["narrative"]["difference"]["content"] += f" 시{ZWSP}장{WORD_JOINER} 환경은 다르다."
        case["summary"] += " " + HIDDEN_NUMBERS["zero-width spaces"]

    served = answering(monkeypatch, rewrite, times=1)
    result = run(fake_llm, warehouse)
    assert result.success, step_failures(result)
    assert served[0] == 1 and fake_llm.completion_count == 6  # the hidden number was asked again
    texts = stored_texts(warehouse)
    assert texts and all(text == normal_form(text) for text in texts)
    assert not any(unicodedata.category(c) == "Cf" for text in texts for c in text)
    assert not any("91.4" in text for text in texts)


def test_a_cached_answer_hiding_a_number_is_not_served_again(fake_llm: FakeOpenAI, warehouse: Warehouse):
    assert run(fake_llm, warehouse).success
    with warehouse.engine().begin() as conn:
        row = conn.execute(sa.select(llm_cache_table).limit(1)).one()
        poisoned = dict(row.response)
        poisoned["summary"] += " " + HIDDEN_NUMBERS["zero-width spaces"]
        conn.execute(
            llm_cache_table.update()
            .where(llm_cache_table.c.request_hash == row.request_hash)
            .values(response=poisoned)
        )
    calls = fake_llm.completion_count
    assert run(fake_llm, warehouse).success
    assert fake_llm.completion_count == calls + 1  # the poisoned entry was judged again and replaced
    assert not any("91.4" in normal_form(text) for text in stored_texts(warehouse))


def _invisible_section(case: Case) -> None:
    case["narrative"]["action"]["bullets"] = [ZWSP * 5, f" {WORD_JOINER} "]


def _one_point_thrice(case: Case) -> None:
    point = case["narrative"]["devils_advocate"]["bullets"][0]
    case["narrative"]["devils_advocate"]["bullets"] = [point, point + " ", point + ZWSP]


def _same_sentence_everywhere(case: Case) -> None:
    sentence = "과거의 흐름은 오늘과 닮았지만 결과는 다를 수 있다."
    case["summary"] = case["key_insight"] = sentence
    for section in case["narrative"].values():
        section["content"] = sentence
        section["bullets"] = [sentence] * len(section["bullets"])


def _content_of_invisible_characters(case: Case) -> None:
    case["narrative"]["result"]["content"] = "\u2060" * 30


HOLLOW = {
    "a section of invisible characters": (_invisible_section, "narrative.action.bullets[0] is empty"),
    "one devil's-advocate point thrice": (
        _one_point_thrice,
        "narrative.devils_advocate.bullets[1] repeats bullets[0]",
    ),
    "the same sentence in every field": (_same_sentence_everywhere, "repeats"),
    "a content of invisible characters": (
        _content_of_invisible_characters,
        "narrative.result.content: String should have at least 20 characters",
    ),
}


@pytest.mark.parametrize("kind", list(HOLLOW))
def test_an_absurd_but_schema_valid_answer_is_rejected(
    fake_llm: FakeOpenAI, warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, kind: str
):
    rewrite, message = HOLLOW[kind]
    answering(monkeypatch, rewrite, times=10)
    result = run(fake_llm, warehouse, max_attempts=2)
    assert not result.success
    text = step_failures(result)["historical_cases"]
    assert message in text, text
    assert warehouse.read_historical_cases([DAY]).empty
