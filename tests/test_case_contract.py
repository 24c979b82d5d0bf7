"""The case contract between the prompt, the judge and the fake OpenAI's case writer: the fake's
default answer is valid and grounded; each of its faults is what the judge rejects."""

from __future__ import annotations

import pytest

from adelie_assets.defs.cases.generate import judge_answer
from adelie_assets.defs.cases.prompt import build_request
from adelie_assets.defs.cases.schema import HistoricalCase
from adelie_fakes.openai.cases import INVENTED_NUMBER, UNKNOWN_ANALOG_ID, write_case
from tests.case_inputs import DAY, INDICES, analogs, theme


def _answer(language: str, fault: str | None, seed: int = 0) -> tuple[HistoricalCase, object]:
    request = build_request(DAY, theme(), analogs(), INDICES, language, per_subject=1)
    user = [m["content"] for m in request.messages if m["role"] == "user"]
    system = [m["content"] for m in request.messages if m["role"] == "system"]
    return HistoricalCase.model_validate(write_case(user, system, seed, fault)), request


def test_the_prompt_offers_each_stock_and_the_themes_index_once() -> None:
    request = build_request(DAY, theme(), analogs(), INDICES, "ko", per_subject=1)
    assert sorted(request.offered) == ["005387-1", "005930-1", "KOSPI-1"]
    user = request.messages[1]["content"]
    assert "거래일: 2026-11-27 / 테마: 코스피 급등주" in user
    # v4: the 60-day gap to the index in %p (26.1 - 12.75) is a column of its own; issue 33: the
    # episode's key (A), the analog's market cap (억원), the index it is compared with, that index's
    # one-year change and distance from its 250-day high, and the lowest and highest % within 60 days.
    assert (
        "005930-1|SK하이닉스(000660)|2020-03-20|A|551300|86|11.8|15.25|22.4|3.1|KOSPI|1.42|-28.2|-31.52"
        "|-3.21|8.46|26.1|-8.5(7)|31.25(58)|12.75|13.35|126.1\n" in user
    )
    # An index's own candidate has no index columns: they would repeat its own numbers.
    assert "KOSPI-1|코스피|2020-03-20|A|-|86|11.8|15.25|22.4|3.1|-|-|-28.2|-31.52|-3.21|8.46|26.1|" in user
    assert user.endswith("\n국면 A: 코로나19 이후 동학개미 상승장 2020-03-19~2021-07-06")
    # Amounts in 억원; a KOSPI theme shows KOSPI and no market column; 지수대비 = 12.34 - 1.23.
    assert "삼성전자(005930)|61200|12.34|11.11|15.25|22.4|3.1|12346|3650000" in user
    assert "지수: 코스피 2612.34 (1.23%) 1년 12.4% 고점 -3.1%\n" in user and "코스닥" not in user
    assert "약 한 달" in user and "±30%" in user
    # What each column means, the rule for choosing, and the disclaimer left to code.
    system = request.messages[0]["content"]
    assert "지수 = 후보의 시장 지수" in user and "배수 = 거래량/20일 평균" in user
    assert "유사도가 가장 높은 후보" in system and "코드가 붙입니다" in system
    assert request.prompt_version == "historical_case_v4_ko"


@pytest.mark.parametrize(
    ("text", "grounded"),
    [
        ("거래대금은 1조 2,346억 원이었다.", True),  # the figure shown, 12346억원
        ("거래대금은 12,346억 원이었다.", True),
        ("거래대금은 1.2조 원이었다.", True),
        ("시가총액은 365조 원이었다.", True),
        ("거래대금은 1조 2,345억 원이었다.", False),  # 1,234,567,890,123 was never shown
        ("코스닥은 845.1에 마감했다.", False),  # the other market's index is not shown to a KOSPI theme
        ("같은 기간 지수는 4.2% 올랐다.", False),  # the index's 20-day outcome is not shown either
        # v4's derived figures (issue 34): the gaps, the price limit, the worked example.
        ("삼성전자는 지수보다 11.1%p 더 올랐다.", True),
        ("60거래일 뒤 지수보다 약 13%p 앞섰다.", True),
        ("상한가는 30%다.", True),
        ("100만 원을 샀다면 석 달 뒤 약 126만 원, 정확히는 126만 1,000원이 되었다.", True),
        ("손익은 26만 1,000원이었다.", True),
        ("한 달 뒤 약 108만 원이었다.", False),  # only the 60-day example is offered
        ("지수보다 1.6%p 더 올랐다.", False),
        ("1000원어치를 샀다면", False),
        # Issue 33's facts: the episode (its name and dates), the regime, the size, the path's extremes.
        ("코로나19 이후 동학개미 상승장(2020년 3월 19일~2021년 7월 6일)의 초입이었다.", True),
        ("국면은 2020-03-19에 시작했다.", True),
        ("당시 코스피는 1년 전보다 28.2% 낮았고 250일 고점보다 31.5% 아래였다.", True),
        ("오늘 코스피는 1년 새 12.4% 올랐고 고점보다 3.1% 낮다.", True),
        ("SK하이닉스의 시가총액은 55조 1,300억 원이었다.", True),
        ("58거래일째 31.25%까지 올랐다가, 7거래일째에는 -8.5%였다.", True),
        ("지수는 60거래일 안에 16.1%까지 올랐다.", False),  # the index's extremes are not shown
        ("코로나19 이후 동학개미 상승장은 2021년 8월에 끝났다.", False),
    ],
)
def test_the_facts_are_the_figures_the_prompt_shows(text: str, grounded: bool) -> None:
    from adelie_assets.defs.cases.grounding import ungrounded

    request = build_request(DAY, theme(), analogs(), INDICES, "ko", per_subject=1)
    assert (ungrounded(text, request.facts) == []) is grounded


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fakes_default_case_is_grounded(language: str, seed: int) -> None:
    case, request = _answer(language, None, seed)
    assert judge_answer(case, None, request) is None
    assert case.analog_id in request.offered


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("invented_number", f"number '{INVENTED_NUMBER}%' is not among the facts"),
        ("unknown_analog_id", f"analog_id '{UNKNOWN_ANALOG_ID}' was not offered"),
        ("english_text", "the case is not in Korean"),
    ],
)
def test_each_fault_of_the_fake_is_rejected(fault: str, problem: str) -> None:
    case, request = _answer("ko", fault)
    verdict = judge_answer(case, None, request)
    assert verdict is not None and problem in verdict, verdict


@pytest.mark.parametrize("language", ["ko", "en"])
def test_the_case_written_by_code_passes_every_check_of_an_answer(language: str) -> None:
    from adelie_assets.defs.cases.fallback import fallback_case

    request = build_request(DAY, theme(), analogs(), INDICES, language, per_subject=1)
    case = fallback_case(request)
    assert judge_answer(case, None, request) is None
    assert case.analog_id == "005930-1" and "1,261,000" in case.narrative.simulation.content
