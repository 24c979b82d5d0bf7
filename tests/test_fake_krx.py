"""The fake KRX server, exercised over HTTP and through the real pykrx client code."""

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from adelie_fakes.krx import (
    ALL_TICKER_QUOTES_BLD,
    DATA_PATH,
    FAULTS,
    HUGE_VOLUME,
    LOGIN_JSP_PATH,
    LOGIN_PAGE_PATH,
    LOGIN_PATH,
    DataRequest,
    FakeKrx,
    is_trading_day,
    load_sample,
    quotes_answer,
)

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "demo-user", "demo-pass"
SYNTHETIC_DAY = "20261127"  # a Friday, a trading day
HOLIDAY = "20260924"  # the day before Chuseok 2026, a Thursday
DASH_FIELDS = (
    "TDD_CLSPRC",
    "CMPPREVDD_PRC",
    "FLUC_RT",
    "TDD_OPNPRC",
    "TDD_HGPRC",
    "TDD_LWPRC",
    "ACC_TRDVOL",
    "ACC_TRDVAL",
    "MKTCAP",
)
INTEGER = re.compile(r"-?\d{1,3}(,\d{3})*")
RATE = re.compile(r"-?\d+\.\d\d")
TEMPLATE = load_sample("ALL", "20210104")["OutBlock_1"]
TEMPLATE_KEYS = list(TEMPLATE[0])


def num(text):
    return int(text.replace(",", ""))


def tick(price):
    for bound, size in ((2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100), (500_000, 500)):
        if price < bound:
            return size
    return 1_000


def check_trading_row(row):
    """The invariants of one row of a (synthetic) trading day."""
    assert list(row) == TEMPLATE_KEYS
    for key in DASH_FIELDS + ("LIST_SHRS",):
        assert INTEGER.fullmatch(row[key]) or key == "FLUC_RT", (key, row)
    assert RATE.fullmatch(row["FLUC_RT"]), row
    close, change, volume = num(row["TDD_CLSPRC"]), num(row["CMPPREVDD_PRC"]), num(row["ACC_TRDVOL"])
    opn, high, low, value = (num(row[k]) for k in ("TDD_OPNPRC", "TDD_HGPRC", "TDD_LWPRC", "ACC_TRDVAL"))
    assert num(row["MKTCAP"]) == close * num(row["LIST_SHRS"])
    if volume == 0:  # halted: stays halted with the recorded close
        assert (opn, high, low, value, change) == (0, 0, 0, 0, 0)
        assert (row["FLUC_TP_CD"], row["FLUC_RT"]) == ("0", "0.00")
        return
    assert 0 < low <= min(opn, close) and max(opn, close) <= high
    assert volume * low <= value <= volume * high
    assert volume < 2**31
    for price in (opn, high, low, close):
        assert price % tick(price) == 0, row
    previous = close - change
    assert previous > 0
    assert abs(float(row["FLUC_RT"]) - change / previous * 100) <= 0.005 + 1e-9
    limit = 15 if row["MKT_ID"] == "KNX" else 30
    assert abs(float(row["FLUC_RT"])) <= limit
    expected = {1: ("1", "4"), -1: ("2", "5"), 0: ("3",)}[(change > 0) - (change < 0)]
    assert row["FLUC_TP_CD"] in expected, row


def check_holiday_rows(rows, market):
    expected = [r for r in TEMPLATE if market == "ALL" or r["MKT_ID"] == market]
    assert [r["ISU_SRT_CD"] for r in rows] == [r["ISU_SRT_CD"] for r in expected]
    for row in rows:
        assert list(row) == TEMPLATE_KEYS
        assert all(row[key] == "-" for key in DASH_FIELDS)
        assert row["FLUC_TP_CD"] == "3"
        assert INTEGER.fullmatch(row["LIST_SHRS"])


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with FakeKrx(hang_seconds=0.5) as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    server.latency = 0.0
    server.hang_seconds = 0.5
    server.require_login = True
    yield server
    server.set_fault(None)
    server.latency = 0.0
    server.require_login = True


@pytest.fixture
def pykrx_at_fake(fake, monkeypatch):
    """The real pykrx modules, pointed at the fake and not logged in."""
    # pykrx logs in at import time from these (and prints the id); it must not reach the real KRX.
    monkeypatch.delenv("KRX_ID", raising=False)
    monkeypatch.delenv("KRX_PW", raising=False)
    from pykrx.website.comm import auth
    from pykrx.website.krx import krxio
    from pykrx.website.krx.market import core

    monkeypatch.setattr(krxio.KrxWebIo, "url", property(lambda self: fake.url + DATA_PATH))
    monkeypatch.setattr(auth, "LOGIN_PAGE", fake.url + LOGIN_PAGE_PATH)
    monkeypatch.setattr(auth, "LOGIN_JSP", fake.url + LOGIN_JSP_PATH + "?site=mdc")
    monkeypatch.setattr(auth, "LOGIN_URL", fake.url + LOGIN_PATH)
    monkeypatch.setattr(auth, "_auth_session", None)
    return auth, core


@pytest.fixture
def quotes(pykrx_at_fake):
    """pykrx's 전종목시세 (MDCSTAT01501), logged in to the fake."""
    auth, core = pykrx_at_fake
    session = auth.KRXSession()
    assert session.refresh(USER, PASSWORD)
    auth.set_auth_session(session)
    return core.전종목시세()


def login(url, user=USER, password=PASSWORD):
    session = requests.Session()
    session.get(url + LOGIN_PAGE_PATH, timeout=5)
    answer = session.post(url + LOGIN_PATH, data={"mbrId": user, "pw": password}, timeout=5)
    return session, answer.json()


@pytest.fixture
def http(fake):
    session, answer = login(fake.url)
    assert answer["_error_code"] == "CD001"
    yield session
    session.close()


def post(session, fake, market, day, bld=ALL_TICKER_QUOTES_BLD, timeout=5):
    form = {"bld": bld, "mktId": market, "trdDd": day}
    return session.post(fake.url + DATA_PATH, data=form, timeout=timeout)


# --- module hygiene ----------------------------------------------------------------------------------


def test_import_starts_nothing_and_does_not_import_pykrx():
    code = (
        "import sys, threading\n"
        "import adelie_fakes.krx as k\n"
        "assert 'pykrx' not in sys.modules\n"
        "assert threading.active_count() == 1\n"
        "print('clean')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "clean"


# --- data through the real pykrx ---------------------------------------------------------------------


def test_recorded_day_round_trips_verbatim(fake, quotes, http):
    df = quotes.fetch("20210122", "STK")
    assert len(df) == 917
    assert df.set_index("ISU_SRT_CD").loc["095570", "TDD_CLSPRC"] == "4,210"
    recorded = load_sample("STK", "20210122")
    assert df.to_dict("records") == recorded["OutBlock_1"]

    answer = post(http, fake, "STK", "20210122")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.json() == recorded


def test_recorded_all_markets_day_and_its_subsets(quotes):
    everything = quotes.fetch("20210104", "ALL")
    assert len(everything) == 2531
    assert (everything["ACC_TRDVOL"] == "0").sum() == 112
    assert everything.to_dict("records") == TEMPLATE
    for market, count in (("STK", 917), ("KSQ", 1471), ("KNX", 143)):
        df = quotes.fetch("20210104", market)
        assert len(df) == count
        assert df.to_dict("records") == [r for r in TEMPLATE if r["MKT_ID"] == market]


@pytest.mark.parametrize("market, count", [("STK", 917), ("KSQ", 1471)])
def test_synthetic_day_is_deterministic_and_consistent(fake, quotes, http, market, count):
    df = quotes.fetch(SYNTHETIC_DAY, market)
    rows = df.to_dict("records")
    assert len(rows) == count
    assert list(df.columns) == TEMPLATE_KEYS
    assert {r["MKT_ID"] for r in rows} == {market}
    for row in rows:
        check_trading_row(row)

    template = {r["ISU_SRT_CD"]: r for r in TEMPLATE}
    halted = [r for r in rows if template[r["ISU_SRT_CD"]]["ACC_TRDVOL"] == "0"]
    assert halted and all(r["ACC_TRDVOL"] == "0" for r in halted)
    assert all(r["TDD_CLSPRC"] == template[r["ISU_SRT_CD"]]["TDD_CLSPRC"] for r in halted)
    moved = sum(r["TDD_CLSPRC"] != template[r["ISU_SRT_CD"]]["TDD_CLSPRC"] for r in rows)
    assert moved > count * 0.8

    first, second = post(http, fake, market, SYNTHETIC_DAY), post(http, fake, market, SYNTHETIC_DAY)
    assert first.status_code == 200 and first.content == second.content
    assert first.json()["CURRENT_DATETIME"] == "2026.11.27 PM 06:00:00"

    # The previous trading day's close plus today's change is today's close.
    previous_day = quotes.fetch("20261126", market).to_dict("records")
    before = {r["ISU_SRT_CD"]: num(r["TDD_CLSPRC"]) for r in previous_day}
    for row in rows:
        assert before[row["ISU_SRT_CD"]] + num(row["CMPPREVDD_PRC"]) == num(row["TDD_CLSPRC"])


def test_price_model_over_two_months_and_before_the_template():
    changes = []
    closes = None
    day = dt.date(2026, 10, 1)
    while day <= dt.date(2026, 11, 30):
        if is_trading_day(day):
            rows = quotes_answer("ALL", day.strftime("%Y%m%d"))["OutBlock_1"]
            assert len(rows) == 2531
            for row in rows:
                check_trading_row(row)
                if closes is not None:
                    assert closes[row["ISU_SRT_CD"]] + num(row["CMPPREVDD_PRC"]) == num(row["TDD_CLSPRC"])
            changes += [abs(float(r["FLUC_RT"])) for r in rows if r["ACC_TRDVOL"] != "0"]
            closes = {r["ISU_SRT_CD"]: num(r["TDD_CLSPRC"]) for r in rows}
        day += dt.timedelta(days=1)
    assert sum(c <= 5 for c in changes) / len(changes) > 0.95  # mostly within ±5 %
    assert max(changes) >= 20  # a few big movers

    # Before 2021-01-04 the walk runs backwards; it must end exactly on the recorded closes.
    last_2020 = quotes_answer("ALL", "20201230")["OutBlock_1"]
    for row in last_2020:
        check_trading_row(row)
    recorded = quotes_answer("ALL", "20210104")["OutBlock_1"]
    for old, new in zip(last_2020, recorded, strict=True):
        if new["ACC_TRDVOL"] != "0":
            assert num(old["TDD_CLSPRC"]) * 10 > num(new["TDD_CLSPRC"]) > 0


def test_synthetic_holiday_matches_the_recorded_holiday_format(fake, quotes):
    df = quotes.fetch(HOLIDAY, "STK")
    check_holiday_rows(df.to_dict("records"), "STK")
    check_holiday_rows(quotes.fetch("20261128", "KSQ").to_dict("records"), "KSQ")  # a Saturday

    recorded = load_sample("STK", "20210123")["OutBlock_1"]
    generated = quotes_answer("STK", "20210124")["OutBlock_1"]  # a Sunday, not recorded
    # Between 2021-01-04 and 01-23 some tickers were renamed or issued shares; everything else matches.
    ours = {r["ISU_SRT_CD"]: r for r in generated}
    theirs = {r["ISU_SRT_CD"]: r for r in recorded}
    assert ours.keys() == theirs.keys() and len(ours) == 917
    for code, row in ours.items():
        assert list(row) == list(theirs[code])
        changing = ("LIST_SHRS", "ISU_ABBRV")
        assert {k: v for k, v in row.items() if k not in changing} == {
            k: v for k, v in theirs[code].items() if k not in changing
        }


def test_unknown_bld_market_or_date_answer_empty(fake, http):
    other = post(http, fake, "STK", SYNTHETIC_DAY, bld="dbms/MDC/STAT/standard/MDCSTAT99999")
    assert other.status_code == 200
    assert other.json()["output"] == []
    assert post(http, fake, "XYZ", SYNTHETIC_DAY).json()["OutBlock_1"] == []
    assert post(http, fake, "STK", "2026-11-27").json()["OutBlock_1"] == []


# --- login -------------------------------------------------------------------------------------------


def test_without_login_krx_says_logout(fake, pykrx_at_fake):
    _, core = pykrx_at_fake
    with pytest.raises(json.JSONDecodeError):
        core.전종목시세().fetch(SYNTHETIC_DAY, "STK")

    answer = requests.post(
        fake.url + DATA_PATH, data={"bld": ALL_TICKER_QUOTES_BLD, "mktId": "STK", "trdDd": SYNTHETIC_DAY}
    )
    assert (answer.status_code, answer.text) == (400, "LOGOUT")
    assert answer.headers["Content-Type"].startswith("text/html")
    assert [r.status for r in fake.requests] == [400, 400]


def test_login_checks_credentials_and_sessions(fake, pykrx_at_fake):
    auth, _ = pykrx_at_fake
    assert not auth.KRXSession().refresh(USER, "wrong")
    session, answer = login(fake.url, password="wrong")
    assert answer["_error_code"] == "CD002" and "_error_message" in answer
    assert post(session, fake, "STK", SYNTHETIC_DAY).text == "LOGOUT"

    session, answer = login(fake.url)
    assert answer == {"_error_code": "CD001", "_error_message": "정상"}
    assert "JSESSIONID" in session.cookies
    assert post(session, fake, "STK", SYNTHETIC_DAY).status_code == 200

    fake.expire_sessions()
    assert post(session, fake, "STK", SYNTHETIC_DAY).text == "LOGOUT"

    fake.require_login = False
    assert post(requests.Session(), fake, "STK", SYNTHETIC_DAY).status_code == 200


def test_login_faults(fake, pykrx_at_fake):
    auth, _ = pykrx_at_fake
    fake.set_fault("bad_login", times=1)
    assert not auth.KRXSession().refresh(USER, PASSWORD)
    assert auth.KRXSession().refresh(USER, PASSWORD)

    fake.set_fault("duplicate_login")
    before = fake.login_count
    assert auth.KRXSession().refresh(USER, PASSWORD)  # pykrx retries with skipDup=Y
    assert fake.login_count == before + 2
    _, answer = login(fake.url)
    assert answer["_error_code"] == "CD011"


# --- faults ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault, status, body",
    [
        ("logout", 400, "LOGOUT"),
        ("http_403", 403, None),
        ("http_500", 500, None),
        ("http_503", 503, None),
        ("empty_body", 200, ""),
        ("truncated_json", 200, None),
    ],
)
def test_broken_answers(fake, quotes, http, fault, status, body):
    fake.set_fault(fault)
    with pytest.raises(requests.exceptions.JSONDecodeError):
        quotes.fetch(SYNTHETIC_DAY, "STK")

    answer = post(http, fake, "STK", SYNTHETIC_DAY)
    assert answer.status_code == status
    assert answer.headers["Content-Type"].startswith("text/html")
    if body is not None:
        assert answer.text == body
    if fault == "truncated_json":
        whole = json.dumps(quotes_answer("STK", SYNTHETIC_DAY), ensure_ascii=False, separators=(",", ":"))
        assert whole.startswith(answer.text) and 0 < len(answer.text) < len(whole)
    assert [(r.fault, r.status) for r in fake.requests] == [(fault, status)] * 2


def test_all_dash_fault_answers_a_trading_day_like_a_holiday(fake, quotes):
    fake.set_fault("all_dash")
    check_holiday_rows(quotes.fetch(SYNTHETIC_DAY, "KSQ").to_dict("records"), "KSQ")


def test_empty_rows_fault_scoped_to_one_market(fake, quotes):
    fake.set_fault("empty_rows", markets={"KSQ"})
    everything = quotes.fetch(SYNTHETIC_DAY, "ALL")
    assert len(everything) == 917 + 143
    assert set(everything["MKT_ID"]) == {"STK", "KNX"}
    assert quotes.fetch(SYNTHETIC_DAY, "KSQ").empty
    assert len(quotes.fetch(SYNTHETIC_DAY, "STK")) == 917


def test_huge_volume_fault(fake, quotes):
    fake.set_fault("huge_volume", markets="STK")
    rows = quotes.fetch(SYNTHETIC_DAY, "STK").to_dict("records")
    huge = [r for r in rows if r["ACC_TRDVOL"] == "3,000,000,000"]
    assert len(huge) == 1
    row = huge[0]
    assert num(row["ACC_TRDVOL"]) == HUGE_VOLUME > 2**31
    low, value, high = (num(row[k]) for k in ("TDD_LWPRC", "ACC_TRDVAL", "TDD_HGPRC"))
    assert HUGE_VOLUME * low <= value <= HUGE_VOLUME * high
    normal = {r["ISU_SRT_CD"]: r for r in quotes_answer("STK", SYNTHETIC_DAY)["OutBlock_1"]}
    assert sum(r != normal[r["ISU_SRT_CD"]] for r in rows) == 1


def test_hang_fault_delays_but_does_not_block_others(fake, http):
    fake.set_fault("hang", times=1, hang_seconds=1.0)
    results = {}

    def slow():
        started = time.monotonic()
        results["slow"] = (post(http, fake, "STK", SYNTHETIC_DAY), time.monotonic() - started)

    thread = threading.Thread(target=slow)
    thread.start()
    deadline = time.monotonic() + 2
    while fake.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    quick = post(http, fake, "KSQ", SYNTHETIC_DAY)  # the hang was for one request only
    assert quick.status_code == 200 and "slow" not in results  # answered while the other still hangs
    thread.join(5)
    answer, took = results["slow"]
    assert answer.status_code == 200 and len(answer.json()["OutBlock_1"]) == 917
    assert took >= 1.0
    assert fake.fault is None


def test_stop_cuts_a_hang_short():
    with FakeKrx(hang_seconds=30) as fake:
        url = fake.url
        session, _ = login(url)
        fake.set_fault("hang")
        errors = []

        def hang():
            try:
                post(session, fake, "STK", SYNTHETIC_DAY, timeout=10)
            except requests.exceptions.ConnectionError as error:
                errors.append(error)

        thread = threading.Thread(target=hang)
        thread.start()
        deadline = time.monotonic() + 2
        while fake.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        fake.stop()
        thread.join(5)
        assert time.monotonic() - started < 2
        assert errors
        assert fake.requests[-1].status == 0 and fake.requests[-1].fault == "hang"
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url + LOGIN_PAGE_PATH, timeout=1)  # stopped means stopped


def test_outage_of_n_requests_recovers(fake, quotes, http):
    fake.set_fault("http_500", times=2)
    for _ in range(2):
        with pytest.raises(requests.exceptions.JSONDecodeError):
            quotes.fetch(SYNTHETIC_DAY, "STK")
    assert fake.fault is None
    assert len(quotes.fetch(SYNTHETIC_DAY, "STK")) == 917

    fake.set_fault("http_503", markets={"KSQ"}, times=1)
    assert post(http, fake, "STK", SYNTHETIC_DAY).status_code == 200  # out of scope: not counted
    assert fake.fault_remaining == 1
    assert post(http, fake, "ALL", SYNTHETIC_DAY).status_code == 503  # ALL includes KSQ
    assert post(http, fake, "KSQ", SYNTHETIC_DAY).status_code == 200


def test_set_fault_validates(fake):
    for bad in (
        {"fault": "nope"},
        {"fault": "http_500", "markets": {"KOSPI"}},
        {"fault": "hang", "times": 0},
    ):
        with pytest.raises(ValueError):
            fake.set_fault(bad.pop("fault"), **bad)
    assert set(FAULTS) >= {"logout", "hang", "empty_rows", "huge_volume", "bad_login"}


# --- observability -----------------------------------------------------------------------------------


def test_request_log_and_max_concurrent(fake, http):
    fake.latency = 0.5
    cookies = http.cookies.get_dict()
    days = ["20261123", "20261124", "20261125", "20261126"]

    def fetch(day):
        return requests.post(
            fake.url + DATA_PATH,
            data={"bld": ALL_TICKER_QUOTES_BLD, "mktId": "STK", "trdDd": day},
            cookies=cookies,
            timeout=5,
        ).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(fetch, days)) == [200] * 4
    assert fake.max_concurrent == 4  # all four were in flight at once
    assert fake.data_request_count == 4
    log = fake.requests
    assert all(isinstance(r, DataRequest) for r in log)
    seen = sorted((r.bld, r.mkt_id, r.trd_dd) for r in log)
    assert seen == [(ALL_TICKER_QUOTES_BLD, "STK", day) for day in days]
    assert all(r.end - r.start >= 0.5 and r.status == 200 and r.fault is None for r in log)

    fake.latency = 0.0
    post(http, fake, "STK", SYNTHETIC_DAY)
    assert fake.data_request_count == 5
    fake.reset()
    assert (fake.data_request_count, fake.max_concurrent, fake.requests) == (0, 0, [])


def test_control_endpoint_in_process(fake, http):
    answer = requests.post(
        fake.url + "/_fake/fault", json={"fault": "http_500", "markets": ["KSQ"], "times": 2}, timeout=5
    )
    assert answer.status_code == 200
    assert answer.json()["fault"] == "http_500" and answer.json()["times_remaining"] == 2
    assert [post(http, fake, m, SYNTHETIC_DAY).status_code for m in ("KSQ", "STK", "KSQ", "KSQ")] == [
        500,
        200,
        500,
        200,
    ]
    requests.post(fake.url + "/_fake/fault", json={"fault": "logout"}, timeout=5)
    assert fake.fault == "logout"
    requests.post(fake.url + "/_fake/fault", json={"fault": None}, timeout=5)
    assert fake.fault is None
    assert requests.post(fake.url + "/_fake/fault", json={"fault": "nope"}, timeout=5).status_code == 400
    stats = requests.get(fake.url + "/_fake/stats", timeout=5).json()
    assert stats["data_request_count"] == 4
    requests.post(fake.url + "/_fake/reset", timeout=5)
    assert fake.data_request_count == 0


def test_cli_serves_and_is_controlled_from_another_process():
    env = {k: v for k, v in os.environ.items() if k not in ("KRX_ID", "KRX_PW")}
    process = subprocess.Popen(
        [sys.executable, "-m", "adelie_fakes.krx", "--port", "0", "--hang-seconds", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        session, answer = login(url)
        assert answer["_error_code"] == "CD001"
        fault = requests.post(url + "/_fake/fault", json={"fault": "http_503", "times": 1}, timeout=5)
        assert fault.json()["fault"] == "http_503"
        form = {"bld": ALL_TICKER_QUOTES_BLD, "mktId": "KSQ", "trdDd": SYNTHETIC_DAY}
        assert session.post(url + DATA_PATH, data=form, timeout=5).status_code == 503
        answer = session.post(url + DATA_PATH, data=form, timeout=5)
        assert answer.status_code == 200
        # The same date gives the same bytes in another process.
        expected = json.dumps(quotes_answer("KSQ", SYNTHETIC_DAY), ensure_ascii=False, separators=(",", ":"))
        assert answer.content == expected.encode()
        assert requests.get(url + "/_fake/stats", timeout=5).json()["data_request_count"] == 2
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()
        process.stderr.close()
