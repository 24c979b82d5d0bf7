"""The grounding rule: a case may state only numbers, dates and ids that were among its facts."""

from __future__ import annotations

from datetime import date

import pytest

from adelie_assets.defs.cases.grounding import Facts, GroundingError, check_analog_id, check_texts, ungrounded

FACTS = Facts.collect(
    {
        "today": {"trade_date": "2026-11-27", "ticker": "005930", "close": 61_200, "change_pct": 12.34},
        "analogs": [
            {
                "analog_id": "005930-1",
                "analog_ticker": "000660",
                "analog_date": "2020-03-19",
                "after_20_pct": -8.456,
                "trading_value": 1_234_567_890_123,
                "close": 1_234,
            }
        ],
        "spans": [5, 20, 60],
    }
)


@pytest.mark.parametrize(
    "text",
    [
        "삼성전자는 12.34% 올랐다.",
        "삼성전자는 12.3% 올랐다.",
        "삼성전자는 약 12% 올랐다.",
        "주가는 61,200원으로 마감했다.",
        "당시 주가는 1,234원이었다.",
        "2020년 3월 19일의 하락과 닮았다.",
        "2020-03-19 의 하락과 닮았다.",
        "2020년 3월, 시장은 흔들렸다.",
        "3월 19일 이후 20거래일 동안 -8.46% 움직였다.",
        "20거래일 뒤 8.5% 하락했다.",
        "2020년의 일이다.",
        "거래대금은 1.2조 원, 정확히는 1조 2,346억 원이었다.",
        "세 가지 이유가 있다: 1) 수급 2) 심리 3) 환율. 2차전지 업종도 움직였다.",
        "005930-1 사례에서 000660 종목은 5거래일 뒤 반등했다.",
        "On March 19, 2020 the stock fell 8.46% over 20 trading days; trading value was 1.2 trillion won.",
    ],
)
def test_formatting_variants_of_given_facts_are_accepted(text: str) -> None:
    assert ungrounded(text, FACTS) == []


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("삼성전자는 15.2% 올랐다.", "number '15.2%'"),
        ("주가는 70,000원까지 올랐다.", "number '70,000원'"),
        ("12.4% 올랐다.", "number '12.4%'"),  # 12.34 written with one decimal is 12.3, not 12.4
        ("2008년 금융위기와 닮았다.", "year '2008년'"),
        ("이는 2008 금융위기와 닮았다.", "year '2008'"),
        ("2020년 4월에 반등했다.", "month '2020년 4월'"),
        ("2020년 3월 20일에 반등했다.", "date '2020년 3월 20일'"),
        ("2019-03-19에도 비슷했다.", "date '2019-03-19'"),
        ("거래대금은 3조 원이었다.", "number '3조'"),
        ("123456 종목도 올랐다.", "number '123456'"),
    ],
)
def test_a_number_not_among_the_facts_is_rejected(text: str, why: str) -> None:
    problems = ungrounded(text, FACTS)
    assert problems and why in problems[0], problems
    with pytest.raises(GroundingError, match="not"):
        check_texts(["문제 없는 문장.", text], FACTS)


def test_an_analog_id_that_was_not_offered_is_rejected() -> None:
    check_analog_id("005930-1", FACTS)
    with pytest.raises(GroundingError, match=r"analog_id '005930-4' was not offered \(offered: 005930-1\)"):
        check_analog_id("005930-4", FACTS)


def test_facts_collect_dates_objects_and_ignore_booleans() -> None:
    facts = Facts.collect({"event_date": date(2016, 3, 2), "halted": True})
    assert ungrounded("2016년 3월 2일", facts) == []
    assert ungrounded("1개 종목", facts) == []
    assert ungrounded("2017년", facts) == ["year '2017년' is not the year of a date among the facts"]


def test_digits_inside_a_given_company_name_are_not_numbers() -> None:
    facts = Facts.collect({"name": "현대차2우B", "ticker": "005387", "change_pct": 4.1})
    assert ungrounded("현대차2우B(005387)는 4.1% 올랐다.", facts) == []
    assert ungrounded("KODEX 200도 올랐다.", facts) == ["number '200' is not among the facts"]
