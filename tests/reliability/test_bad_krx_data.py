"""Bad KRX data never replaces good rows (issue 11, items 1-3), on both warehouses.

A day is first stored from a good answer; then the fake KRX answers the same day badly (its answer
is rewritten before it is served, over real HTTP through pykrx) and the re-run must fail naming the
ticker and the field, as a data problem, while the good rows stay exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from adelie_assets.defs.market.assets import market_data
from adelie_assets.resources.warehouse import Warehouse, WarehouseDataError
from adelie_fakes.krx import FakeKrx
from adelie_fakes.krx import answers as krx_answers
from adelie_fakes.krx.events import ZeroClose
from tests.builders import krx_for, market_frame, step_failures

DAY = date(2026, 11, 27)
TRD_DD = DAY.strftime("%Y%m%d")
Rewrite = Callable[[list[dict[str, str]]], list[dict[str, str]]]


@pytest.fixture
def rewrite(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, Rewrite], None]]:
    """`rewrite(mkt_id, fn)`: the fake serves fn(rows) for that market's answer of DAY."""
    original = krx_answers._cached_quotes
    rewrites: dict[str, Rewrite] = {}

    def quotes(mkt_id: str, trd_dd: str) -> tuple[dict, bytes]:
        body, raw = original(mkt_id, trd_dd)
        if trd_dd != TRD_DD or mkt_id not in rewrites:
            return body, raw
        body = krx_answers._copy_body(body)
        body["OutBlock_1"] = rewrites[mkt_id](body["OutBlock_1"])
        return body, krx_answers._serialise(body)

    monkeypatch.setattr(krx_answers, "_cached_quotes", quotes)
    yield lambda mkt_id, fn: rewrites.__setitem__(mkt_id, fn)


def run(fake: FakeKrx, warehouse: Warehouse):
    return materialize(
        [market_data],
        partition_key=DAY.isoformat(),
        resources={"krx": krx_for(fake), "warehouse": warehouse},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def traded(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [row for row in rows if row["ACC_TRDVOL"] not in ("0", "-")]


def set_field(field: str, value: str, count: int | None = None) -> Rewrite:
    def fn(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        for row in traded(rows)[:count]:
            row[field] = value if "{}" not in value else value.format(row[field])
        return rows

    return fn


def extra_tickers(count: int) -> Rewrite:
    def fn(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        template = traded(rows)[0]
        return rows + [
            {**template, "ISU_SRT_CD": f"9{i:05d}", "ISU_ABBRV": f"Extra {i}"} for i in range(count)
        ]

    return fn


def duplicate_first(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [*rows, dict(traded(rows)[0])]


def nul_in_name(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    traded(rows)[3]["ISU_ABBRV"] = "Bad\x00Name"
    return rows


# (market, rewrite, what the operator must read)
CASES = {
    "close_dash_for_traded": ("STK", set_field("TDD_CLSPRC", "-", 3), ["[prices_consistent] 3 tickers"]),
    "far_more_rows_than_a_market_has": (
        "KSQ",
        extra_tickers(2000),
        ["[markets_covered]", "KOSDAQ 3471 rows"],
    ),
    "fluc_rt_with_percent_sign": ("STK", set_field("FLUC_RT", "{}%"), ["FLUC_RT (change_pct) = '", "%'"]),
    "dot_thousands_separator": (
        "KSQ",
        set_field("ACC_TRDVOL", "1.234.567", 1),
        ["ACC_TRDVOL (volume) = '1.234.567'"],
    ),
    "space_thousands_separator": (
        "STK",
        set_field("MKTCAP", "12 345 678", 1),
        ["MKTCAP (market_cap) = '12 345 678'"],
    ),
    "nul_byte_in_name": ("STK", nul_in_name, ["NUL byte", "ISU_ABBRV = 'Bad\\x00Name'"]),
    "ticker_listed_twice": (
        "STK",
        duplicate_first,
        ["[unique_keys] 1 (trade_date, ticker) keys appear more than once"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_krx_answer_fails_naming_what_and_keeps_the_good_rows(
    fake_krx: FakeKrx, warehouse_url: str, rewrite, case: str
):
    warehouse = Warehouse(url=warehouse_url)
    assert run(fake_krx, warehouse).success
    good = warehouse.read_market_data([DAY])
    assert len(good) == 2388

    market, fn, expected = CASES[case]
    rewrite(market, fn)
    result = run(fake_krx, warehouse)
    assert not result.success
    text = step_failures(result)["market_data"]
    for part in expected:
        assert part in text, text
    assert "ADELIE_WAREHOUSE_URL" not in text and "database server" not in text
    assert "TypeError" not in text
    # The ticker the problem is in is named.
    ticker_named = any(
        row["ISU_SRT_CD"] in text for row in krx_answers._cached_quotes(market, TRD_DD)[0]["OutBlock_1"]
    )
    assert ticker_named, text
    # Rows lost 0, rows wrong 0: exactly the good rows of the first run.
    pd.testing.assert_frame_equal(warehouse.read_market_data([DAY]), good)


def test_a_failed_data_step_is_not_retried(fake_krx: FakeKrx, sqlite_warehouse_url: str, rewrite):
    rewrite("STK", set_field("FLUC_RT", "{}%"))
    result = run(fake_krx, Warehouse(url=sqlite_warehouse_url))
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_failure_data.user_failure_data is not None  # a dagster Failure, retries off
    assert fake_krx.data_request_count == 1  # KOSPI only: refused at once, KOSDAQ never asked


def test_a_duplicate_key_refused_by_the_database_is_a_data_error(warehouse_url: str):
    """Below the guards: the database's own refusal of the rows names the key, not the connection."""
    warehouse = Warehouse(url=warehouse_url)
    frame = market_frame(DAY)
    warehouse.replace_market_data([DAY], frame)
    twice = pd.concat([frame, frame.iloc[[5]]], ignore_index=True)
    with pytest.raises(WarehouseDataError) as excinfo:
        warehouse.replace_market_data([DAY], twice)
    text = str(excinfo.value)
    assert "refused the rows themselves" in text and "problem of the data" in text
    assert "check ADELIE_WAREHOUSE_URL" not in text
    assert len(warehouse.read_market_data([DAY])) == len(frame)


def test_a_row_count_far_from_the_previous_days_is_refused(fake_krx: FakeKrx, warehouse_url: str):
    warehouse = Warehouse(url=warehouse_url)
    previous = date(2026, 11, 26)
    warehouse.replace_market_data([previous], market_frame(previous, per_market=600))  # 1,200 rows
    result = run(fake_krx, warehouse)
    text = step_failures(result)["market_data"]
    assert (
        "[row_count_vs_previous_day] 2388 rows vs 1200 stored for 2026-11-26 (+99.0%, more than ±20%)" in text
    )
    assert "re-run 2026-11-26 first" in text
    assert warehouse.read_market_data([DAY]).empty


def test_a_zero_close_from_krx_is_refused_naming_the_ticker(fake_krx: FakeKrx, sqlite_warehouse_url: str):
    """A zero close as KRX lists a ticker without a price never reaches market_data, so no feature is
    computed from it (issue 32, item 4; analog_features refuses one stored before: test_analog_pipeline)."""
    warehouse = Warehouse(url=sqlite_warehouse_url)
    assert run(fake_krx, warehouse).success
    good = warehouse.read_market_data([DAY])
    fake_krx.set_events([ZeroClose("035720", DAY)])
    result = run(fake_krx, warehouse)
    assert not result.success
    text = step_failures(result)["market_data"]
    assert "[prices_consistent]" in text and "035720" in text
    pd.testing.assert_frame_equal(warehouse.read_market_data([DAY]), good)
