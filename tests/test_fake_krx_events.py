"""The fake KRX's listing events, over HTTP: corporate actions, a reused code and a zero close served
the way real KRX shows them (unadjusted closes; CMPPREVDD_PRC and FLUC_RT against the adjusted base)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from adelie_fakes.krx import FakeKrx
from adelie_fakes.krx.events import ReusedTicker, ShareChange, ZeroClose
from tests.test_fake_krx import check_trading_row, login, num, post

BEFORE, ON, NEXT = date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23)


def _rows(fake: FakeKrx, day: date) -> dict[str, dict[str, str]]:
    session, answer = login(fake.url)
    assert answer["_error_code"] == "CD001"
    rows = post(session, fake, "ALL", day.strftime("%Y%m%d")).json()["OutBlock_1"]
    return {row["ISU_SRT_CD"]: row for row in rows}


@pytest.fixture
def fake(fake_krx: FakeKrx) -> FakeKrx:
    yield fake_krx
    fake_krx.reset()


@pytest.mark.parametrize(
    ("ticker", "ratio"),
    [("035720", Fraction(50)), ("000660", Fraction(1, 10)), ("247540", Fraction(3, 2))],
    ids=["1:50 split", "10:1 reverse split", "bonus issue 1 for 2"],
)
def test_a_share_change_is_served_unadjusted_against_an_adjusted_base(
    fake: FakeKrx, ticker: str, ratio: Fraction
) -> None:
    plain = {day: _rows(fake, day)[ticker] for day in (BEFORE, ON, NEXT)}
    fake.set_events([ShareChange(ticker, ON, ratio)])
    served = {day: _rows(fake, day)[ticker] for day in (BEFORE, ON, NEXT)}
    assert served[BEFORE] == plain[BEFORE]
    for day in (ON, NEXT):
        check_trading_row(served[day])
        close = num(served[day]["TDD_CLSPRC"])
        assert close == pytest.approx(num(plain[day]["TDD_CLSPRC"]) / ratio, rel=0.01)
        # FLUC_RT is the day's move against the base KRX adjusted: the plain day's, within a tick.
        assert float(served[day]["FLUC_RT"]) == pytest.approx(float(plain[day]["FLUC_RT"]), abs=0.7)
        assert num(served[day]["LIST_SHRS"]) == round(num(plain[day]["LIST_SHRS"]) * ratio)
    # The base of the effective day is the previous close adjusted; the next day's, the close served.
    base_on = num(served[ON]["TDD_CLSPRC"]) - num(served[ON]["CMPPREVDD_PRC"])
    assert base_on == pytest.approx(num(served[BEFORE]["TDD_CLSPRC"]) / ratio, rel=0.01)
    base_next = num(served[NEXT]["TDD_CLSPRC"]) - num(served[NEXT]["CMPPREVDD_PRC"])
    assert base_next == num(served[ON]["TDD_CLSPRC"])


def test_a_reused_code_is_absent_then_another_company(fake: FakeKrx) -> None:
    before = _rows(fake, date(2026, 11, 16))["091990"]
    fake.set_events([ReusedTicker("091990", date(2026, 11, 16), ON, "새로운바이오", Fraction(1, 40))])
    assert "091990" in _rows(fake, date(2026, 11, 16))
    assert "091990" not in _rows(fake, BEFORE)
    listed = _rows(fake, ON)["091990"]
    check_trading_row(listed)
    assert listed["ISU_ABBRV"] == "새로운바이오" and listed["ISU_CD"] != before["ISU_CD"]
    assert num(listed["TDD_CLSPRC"]) < num(before["TDD_CLSPRC"]) / 20


def test_a_zero_close_and_reset(fake: FakeKrx) -> None:
    fake.set_events([ZeroClose("005930", ON)])
    row = _rows(fake, ON)["005930"]
    assert (row["TDD_CLSPRC"], row["ACC_TRDVOL"], row["FLUC_TP_CD"]) == ("0", "0", "0")
    assert _rows(fake, NEXT)["005930"]["TDD_CLSPRC"] != "0"
    fake.reset()
    assert fake.events == () and _rows(fake, ON)["005930"]["TDD_CLSPRC"] != "0"
