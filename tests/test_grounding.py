"""The grounding rule: a case may state only numbers, dates and ids that were among its facts."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from adelie_assets.defs.cases.grounding import Facts, GroundingError, check_analog_id, check_texts, ungrounded
from adelie_assets.defs.cases.normal_form import normal_form

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


ZWSP, WORD_JOINER, SOFT_HYPHEN = "\u200b", "\u2060", "\u00ad"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        # Invisible characters between the characters of a number the app then shows as "91.4%".
        (ZWSP.join("91.4%") + " 올랐다.", "number '91.4%'"),
        (WORD_JOINER.join("91.4") + "% 올랐다.", "number '91.4%'"),
        (SOFT_HYPHEN.join("91.4") + "% 올랐다.", "number '91.4%'"),
        ("9\u200d1\ufeff.\u20604%", "number '91.4%'"),  # ZWJ, BOM
        ("9\u03051.4% 올랐다.", "number '91.4%'"),  # a combining mark on a digit
        ("9\u31641.4% 올랐다.", "number '91.4%'"),  # a Hangul filler
        # Numbers in words, with a unit.
        ("주가는 삼십칠 퍼센트 올랐다.", "number '삼십칠 퍼센트' (37퍼센트)"),
        ("구십일 점 사 퍼센트 상승", "number '구십일 점 사 퍼센트' (91.4퍼센트)"),
        ("서른일곱 퍼센트 하락", "number '서른일곱 퍼센트' (37퍼센트)"),
        ("삼만 칠천 원에 샀다.", "number '삼만 칠천 원' (37000원)"),
        ("이천팔년의 일이다.", "year '2008년'"),
        ("It rose thirty-seven percent.", "number 'thirty-seven percent' (37 percent)"),
        ("It rose ninety-one point four per cent.", "number 'ninety-one point four per cent' (91.4)"),
        # Numerals of other scripts and compatibility forms.
        ("⁹¹·⁴% 올랐다.", "number '91.4%'"),  # superscripts and a middle dot
        ("ⅩⅩⅩⅦ% 올랐다.", "number '37%'"),  # Roman numerals: XXXVII
        ("㊲% 올랐다.", "number '37%'"),  # a circled number
        ("٣٧% 올랐다.", "number '37%'"),  # Arabic-Indic digits
        ("१२.४% 올랐다.", "number '12.4%'"),  # Devanagari digits
        ("１２．４％ 올랐다.", "number '12.4%'"),  # full width: 12.4, not 12 and 4
        ("12,9% 올랐다.", "'12,9' is not one plain number"),
    ],
)
def test_a_number_disguised_by_unicode_or_words_is_read_as_shown(text: str, why: str) -> None:
    problems = ungrounded(text, FACTS)
    assert problems and why in problems[0], problems


@pytest.mark.parametrize(
    "text",
    [
        "１２．３％ 올랐다.",
        "삼성전자는 십이 퍼센트 올랐다.",
        "① 수급 ② 심리",
        "이 원칙은 회사원에게도 통한다.",
        "이 배는 일조했다.",
        "It rose twelve percent; one of the two stocks fell.",
    ],
)
def test_disguises_of_given_facts_and_everyday_words_are_accepted(text: str) -> None:
    assert ungrounded(text, FACTS) == []


@pytest.mark.parametrize(
    "text",
    ["９１．４％", "⁹¹·⁴%", "ⅩⅩⅩⅦ", "①②", "٣٧", f"9{ZWSP}1", "9\u03051", " 한글\u3164 ", "½", "1️⃣", "e\u0301"],
)
def test_the_normal_form_is_idempotent_and_keeps_no_invisible_character(text: str) -> None:
    once = normal_form(text)
    assert normal_form(once) == once
    assert not any(unicodedata.category(c) == "Cf" for c in once)
