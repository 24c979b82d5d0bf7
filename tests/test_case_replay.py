"""A replay corpus (issue 34): answers written as a small, fast model writes on a busy day, to the
request of tests/case_inputs.py (삼성전자 +12.34 % on a day KOSPI rose 1.23 %; its analog SK하이닉스 on
2020-03-20, +26.1 % after 60 trading days against the index's +12.75 %). Each is served by the fake
OpenAI over real HTTP as the first answer; the fake's ``realistic`` writer then follows the repair
turn, as a model does. Natural phrasing is accepted at once under prompt v4; a real mistake is
named in the repair turn and gone from the stored answer."""

from __future__ import annotations

import copy
import json

import pytest

from adelie_assets.defs.cases.generate import generate_case
from adelie_assets.defs.cases.prompt import build_request
from adelie_assets.resources.llm import LLM
from adelie_fakes.openai import FakeOpenAI
from adelie_fakes.openai import wire as openai_wire
from tests.case_inputs import DAY, INDICES, analogs, theme

BASE = {
    "analog_id": "005930-1",
    "title": "2020년 SK하이닉스의 급등, 오늘의 삼성전자와 닮은 하루",
    "summary": (
        "2020년 3월 20일 SK하이닉스는 하루 만에 약 12% 뛰었다. 오늘 삼성전자도 12.3% 오르며 "
        "지수보다 11.1%p 더 올랐고, 두 국면의 유사도는 86이다."
    ),
    "narrative": {
        "background": {
            "bullets": ["당일 11.8% 상승", "직전 20거래일 누적 22.4%"],
            "content": (
                "2020년 3월, SK하이닉스는 반도체 메모리를 만드는 회사로 급락장 한가운데서 반등을 이끌었다."
            ),
        },
        "mirroring": {
            "bullets": ["거래량이 평소의 약 3배", "지수보다 11%p 넘게 더 오른 하루"],
            "content": (
                "오늘의 삼성전자처럼 당시에도 대형 반도체주에 매수가 몰리며 하루 만에 가격이 크게 움직였다."
            ),
        },
        "difference": {
            "bullets": ["그때는 시장 전체가 급락한 직후였다", "금리와 환율 환경이 다르다"],
            "content": "닮은 것은 가격의 모양이지, 회사의 사업 환경과 시장의 분위기까지 같은 것은 아니다.",
        },
        "devils_advocate": {
            "bullets": [
                "가격 움직임이 닮았다고 원인까지 같지는 않다",
                "과거 한 번의 결과로 앞날을 단정할 수 없다",
                "가격제한폭 ±30% 안에서도 하루 변동은 얼마든지 달라진다",
            ],
            "content": "유사도는 숫자의 모양이 닮았다는 뜻일 뿐, 같은 결과를 약속하지 않는다.",
        },
        "simulation": {
            "bullets": ["약 일주일 뒤 -3.2%", "약 한 달 뒤 8.5%"],
            "content": (
                "그날 종가에 100만 원을 넣었다면 약 석 달 뒤 평가액은 약 126만 원, 26만 1,000원의 이익이었다."
            ),
        },
        "result": {
            "bullets": ["약 석 달 뒤 26.1%", "같은 기간 지수 12.75%"],
            "content": "60거래일 뒤 주가는 26.1% 올라 지수보다 약 13%p 앞섰다.",
        },
        "action": {
            "bullets": ["분할 매수와 손절 기준을 미리 정한다"],
            "content": "급등 다음 날에는 추격 매수보다 계획을 세우고 나누어 대응하는 편이 안전하다.",
        },
    },
    "key_insight": "닮은 국면에서도 결과는 그때그때 달랐으니 데이터로 확인해야 한다.",
    "glossary": [
        {"term": "%p", "definition": "두 비율의 차이를 나타내는 단위, 퍼센트포인트."},
        {"term": "상한가", "definition": "하루에 오를 수 있는 가장 높은 가격, 전날 종가의 +30%."},
    ],
}


def _with(where: str, sentence: str) -> dict:
    """BASE with `sentence` added to the content of narrative section `where` (or the summary)."""
    answer = copy.deepcopy(BASE)
    if where == "summary":
        answer["summary"] += " " + sentence
    else:
        answer["narrative"][where]["content"] += " " + sentence
    return answer


# (what the answer does, the answer, the problem named in the repair turn or None)
CORPUS = [
    ("rounds, gaps in %p, the price limit, 100만 원, 약 한 달", BASE, None),
    ("the gap of today in words", _with("summary", "지수보다 훨씬 강했다."), None),
    ("a wrong year", _with("summary", "2008년 금융위기 때의 반등과도 닮았다."), "year '2008년'"),
    (
        "an arbitrary example amount",
        _with("simulation", "1000원어치를 샀어도 비율은 같다."),
        "number '1000원'",
    ),
    (
        "a gap between figures not both given",
        _with("mirroring", "5일 수익률도 지수보다 14%p 높았다."),
        "number '14%p'",
    ),
    ("a rounding that is not one", _with("result", "한 달 수익률은 8.6%였다."), "number '8.6%'"),
    (
        "a number in words",
        _with("result", "지수는 삼십칠 퍼센트 오르지 못했다."),
        "'삼십칠 퍼센트' (37퍼센트)",
    ),
]


@pytest.mark.parametrize(("kind", "answer", "problem"), CORPUS, ids=[c[0] for c in CORPUS])
def test_a_replayed_answer_is_accepted_or_repaired_by_the_model_it_came_from(
    fake_llm: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, kind: str, answer: dict, problem: str | None
):
    original = openai_wire._complete

    def complete(body, fault, *, presented_key):  # noqa: ANN001, ANN202 - the fake's own signature
        reply = original(body, fault, presented_key=presented_key)
        if len(body["messages"]) == 2:  # the first answer is the corpus'; repairs are the fake's own
            reply.body["choices"][0]["message"]["content"] = json.dumps(answer, ensure_ascii=False)
        return reply

    monkeypatch.setattr(openai_wire, "_complete", complete)
    fake_llm.set_fault("realistic")
    request = build_request(DAY, theme(), analogs(), INDICES, "ko")
    result = generate_case(LLM(api_key=fake_llm.api_key, base_url=fake_llm.base_url), request, max_attempts=4)
    if problem is None:
        assert result.calls == 1 and result.rejected == []
        return
    # Repaired at once, unless the repair slipped again (REPAIR_SLIPS in 100): then named and repaired too.
    assert 2 <= result.calls <= 4, result.rejected
    assert problem in result.rejected[0]
    repair = fake_llm.completion_requests[1].body["messages"][-1]["content"]
    assert problem in repair
    token = problem.split("'")[1]
    assert not any(token in text for text in result.case.texts())
    assert result.case.analog_id == "005930-1"
