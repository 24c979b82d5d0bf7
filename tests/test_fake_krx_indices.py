"""The fake KRX's index answers (MDCSTAT00301): KRX's format, and agreement with the quotes it serves."""

import re
from collections.abc import Iterator

import pytest
import requests

from adelie_fakes.krx import DATA_PATH, FakeKrx, quotes_answer
from adelie_fakes.krx.indices import INDEX_OHLCV_BLD, index_answer, sample_name

RECORDED = ("1", "001", "20210101", "20210130")
POINTS = re.compile(r"^-?\d{1,3}(,\d{3})*\.\d\d$")
AMOUNT = re.compile(r"^\d{1,3}(,\d{3})*$")


def num(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeKrx]:
    with FakeKrx(require_login=False) as server:
        yield server


def ask(fake: FakeKrx, ind_idx: str, start: str, end: str) -> requests.Response:
    form = {"bld": INDEX_OHLCV_BLD, "indIdx": ind_idx, "indIdx2": "001", "strtDd": start, "endDd": end}
    return requests.post(fake.url + DATA_PATH, data=form, timeout=30)


def test_recorded_answer_is_served_verbatim_and_synthetic_rows_have_its_format(fake: FakeKrx):
    recorded = ask(fake, "1", "20210101", "20210130").json()
    assert recorded == index_answer(*RECORDED)
    assert (
        recorded["output"][0]["TRD_DD"] == "2021/01/29" and recorded["output"][0]["CLSPRC_IDX"] == "2,976.21"
    )
    assert sample_name(*RECORDED).startswith("MDCSTAT00301_endDd=20210130")
    answer = ask(fake, "2", "20261102", "20261127")
    assert answer.headers["Content-Type"].startswith("text/html")
    rows = answer.json()["output"]
    assert [list(row) for row in rows] == [list(recorded["output"][0])] * len(rows)
    assert [row["TRD_DD"] for row in rows][:2] == ["2026/11/27", "2026/11/26"]  # newest first, like KRX
    assert len(rows) == 20
    for row in rows:
        assert all(POINTS.match(row[k]) for k in ("CLSPRC_IDX", "OPNPRC_IDX", "HGPRC_IDX", "LWPRC_IDX"))
        assert all(AMOUNT.match(row[k]) for k in ("ACC_TRDVOL", "ACC_TRDVAL", "MKTCAP"))
        assert re.match(r"^-?\d+\.\d\d$", row["UPDN_RATE"]) and re.match(r"^-?\d+\.\d\d$", row["PRV_DD_CMPR"])
        assert row["FLUC_TP_CD"] == (
            "1" if num(row["PRV_DD_CMPR"]) > 0 else "2" if num(row["PRV_DD_CMPR"]) < 0 else "3"
        )
        low, high = num(row["LWPRC_IDX"]), num(row["HGPRC_IDX"])
        assert low <= min(num(row["OPNPRC_IDX"]), num(row["CLSPRC_IDX"])) <= high


def test_holiday_only_unknown_index_or_bad_dates_answer_no_rows(fake: FakeKrx):
    assert ask(fake, "1", "20260924", "20260927").json()["output"] == []
    assert ask(fake, "9", "20261102", "20261127").json()["output"] == []
    assert ask(fake, "1", "2026-11-02", "20261127").json()["output"] == []


@pytest.mark.parametrize(("ind_idx", "market"), [("1", "STK"), ("2", "KSQ")])
def test_index_agrees_with_the_quotes_of_its_market(ind_idx: str, market: str):
    rows = index_answer(ind_idx, "001", "20260921", "20261002")["output"]  # across Chuseok
    days = [row["TRD_DD"].replace("/", "") for row in rows]
    caps = {}
    for row, day in zip(rows, days, strict=True):
        quotes = quotes_answer(market, day)["OutBlock_1"]
        caps[day] = sum(num(q["MKTCAP"]) for q in quotes)
        assert num(row["MKTCAP"]) == caps[day]
        assert num(row["ACC_TRDVOL"]) == sum(num(q["ACC_TRDVOL"]) for q in quotes)
        assert num(row["ACC_TRDVAL"]) == sum(num(q["ACC_TRDVAL"]) for q in quotes)
    for newer, older, day, before in zip(rows, rows[1:], days, days[1:], strict=False):
        # Day D+1 follows day D: the change is against the previous trading day's close ...
        assert num(newer["PRV_DD_CMPR"]) == pytest.approx(num(newer["CLSPRC_IDX"]) - num(older["CLSPRC_IDX"]))
        # ... and equals the market-cap-weighted change of the market's stocks.
        assert num(newer["UPDN_RATE"]) == pytest.approx((caps[day] / caps[before] - 1) * 100, abs=0.006)


def test_a_range_is_the_days_one_by_one_in_any_order():
    whole = index_answer("2", "001", "20261102", "20261127")["output"]
    single = [index_answer("2", "001", d, d)["output"][0] for d in ("20261127", "20261102", "20261113")]
    by_day = {row["TRD_DD"]: row for row in whole}
    assert all(by_day[row["TRD_DD"]] == row for row in single)


def test_row_faults_and_their_market_scope(fake: FakeKrx):
    fake.set_fault("all_dash", markets={"KSQ"})
    try:
        kospi = ask(fake, "1", "20261126", "20261127").json()["output"]
        kosdaq = ask(fake, "2", "20261126", "20261127").json()["output"]
    finally:
        fake.clear_fault()
    assert POINTS.match(kospi[0]["CLSPRC_IDX"])
    assert {v for row in kosdaq for k, v in row.items() if k != "TRD_DD"} == {"-"}
    fake.set_fault("empty_rows", times=1)
    assert ask(fake, "1", "20261126", "20261127").json()["output"] == []
    assert len(ask(fake, "1", "20261126", "20261127").json()["output"]) == 2
    logged = fake.requests[-1]
    assert (logged.bld, logged.mkt_id, logged.ind_idx, logged.strt_dd, logged.end_dd) == (
        INDEX_OHLCV_BLD,
        "STK",
        "1",
        "20261126",
        "20261127",
    )
