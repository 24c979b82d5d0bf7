"""market_indices: the real KRX index answers parsed exactly, and the asset through Dagster with the real
pykrx talking to the fake KRX."""

import gzip
import importlib.resources
import json
from datetime import date

import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from adelie_assets.calendar import trading_days
from adelie_assets.defs.market.assets import market_data
from adelie_assets.defs.market.index_checks import (
    both_indices_verdict,
    index_move_verdict,
    index_values_verdict,
)
from adelie_assets.defs.market.indices import market_indices
from adelie_assets.resources.krx_indices import INDEX_COLUMNS, parse_index_rows
from adelie_assets.resources.warehouse import Warehouse, market_indices_table
from adelie_fakes.krx import FakeKrx
from adelie_fakes.krx.indices import INDEX_OHLCV_BLD
from tests.builders import krx_for, step_failures

DAY = date(2026, 11, 27)
RANGE = (date(2026, 11, 2), DAY)


@pytest.fixture(scope="module", autouse=True)
def _warm_fake() -> None:
    # The fake's first answer of 2026 walks its prices from 2021 (~3 s), longer than the tests' timeout.
    from adelie_fakes.krx.indices import index_answer

    index_answer("1", "001", "20261102", "20261127")


def _sample(name: str) -> pd.DataFrame:
    resource = importlib.resources.files("adelie_fakes.krx") / "samples" / f"{name}.json.gz"
    return pd.DataFrame(json.loads(gzip.decompress(resource.read_bytes()))["output"])


def _run(assets, krx, warehouse, first: date, last: date | None = None):  # type: ignore[no-untyped-def]
    tags = {}
    if last is not None:
        tags = {
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        }
    return materialize(
        assets,
        partition_key=None if last is not None else first.isoformat(),
        tags=tags,
        resources={"krx": krx, "warehouse": warehouse},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


# --- the real answers --------------------------------------------------------------------------


def test_real_kospi_answer_of_january_2021_is_parsed_exactly():
    raw = _sample("MDCSTAT00301_endDd=20210130_indIdx=1_indIdx2=001_strtDd=20210101")
    rows = parse_index_rows(raw, "KOSPI")
    assert list(rows.columns) == INDEX_COLUMNS
    # KRX answers newest first; the rows come out oldest first, one per trading day of January 2021.
    assert rows["trade_date"].tolist() == trading_days(date(2021, 1, 1), date(2021, 1, 30))
    first = rows.iloc[0].to_dict()
    assert first == {
        "trade_date": date(2021, 1, 4),
        "index_name": "KOSPI",
        "open": 2874.50,
        "high": 2946.54,
        "low": 2869.11,
        "close": 2944.45,
        "change_pct": 2.47,
        "volume": 1_026_510_465,
        "trading_value": 25_011_393_960_858,
        "market_cap": 2_028_846_031_822_322,
    }
    last = rows.iloc[-1]
    assert (last["trade_date"], last["close"], last["change_pct"]) == (date(2021, 1, 29), 2976.21, -3.03)
    assert last["market_cap"] == 2_051_302_353_271_175


def test_real_kospi_answer_of_one_week_is_parsed_exactly():
    raw = _sample("MDCSTAT00301_endDd=20210123_indIdx=1_indIdx2=001_strtDd=20210116")
    rows = parse_index_rows(raw, "KOSPI").set_index("trade_date")
    assert rows.index.tolist() == trading_days(date(2021, 1, 18), date(2021, 1, 22))
    friday = rows.loc[date(2021, 1, 22)]
    assert (friday["open"], friday["high"], friday["low"], friday["close"]) == (
        3163.83,
        3185.26,
        3140.60,
        3140.63,
    )
    assert (friday["change_pct"], friday["volume"], friday["trading_value"]) == (
        -0.64,
        1_111_222_984,
        24_305_355_507_985,
    )


def test_real_answer_for_a_holiday_only_range_has_no_rows():
    raw = _sample("MDCSTAT00301_endDd=20210101_indIdx=1_indIdx2=001_strtDd=20210101")
    assert raw.empty


def test_pykrx_reads_the_recorded_answer_through_the_fake(fake_krx: FakeKrx):
    krx = krx_for(fake_krx)
    raw = krx._call("KOSPI index", lambda p: p.index_cls().fetch("001", "1", "20210101", "20210130"))
    assert parse_index_rows(raw, "KOSPI").equals(
        parse_index_rows(_sample("MDCSTAT00301_endDd=20210130_indIdx=1_indIdx2=001_strtDd=20210101"), "KOSPI")
    )


# --- the asset ---------------------------------------------------------------------------------


def test_a_range_run_asks_krx_once_per_index_and_writes_both_indices_of_every_day(
    fake_krx: FakeKrx, warehouse_url: str
):
    warehouse = Warehouse(url=warehouse_url)
    result = _run([market_indices], krx_for(fake_krx), warehouse, *RANGE)
    assert result.success, step_failures(result)
    days = trading_days(*RANGE)
    requests = [(r.bld, r.ind_idx, r.strt_dd, r.end_dd) for r in fake_krx.requests]
    assert requests == [
        (INDEX_OHLCV_BLD, "1", "20261102", "20261127"),
        (INDEX_OHLCV_BLD, "2", "20261102", "20261127"),
    ]
    assert fake_krx.max_concurrent == 1
    rows = warehouse.read(market_indices_table, days)
    assert len(rows) == 2 * len(days)
    assert set(rows["index_name"]) == {"KOSPI", "KOSDAQ"}
    assert (rows["close"] > 0).all() and (rows["low"] <= rows["high"]).all()
    # Index points keep KRX's two decimals.
    assert (rows["close"] * 100).round(6).mod(1).eq(0).all()
    materializations = result.asset_materializations_for_node("market_indices")
    assert sorted(m.partition for m in materializations) == [d.isoformat() for d in days]
    assert materializations[0].metadata["dagster/row_count"].value == 2 * len(days)


def test_the_index_agrees_with_the_quotes_of_its_market(fake_krx: FakeKrx, sqlite_warehouse_url: str):
    warehouse = Warehouse(url=sqlite_warehouse_url)
    previous, day = date(2026, 11, 26), DAY
    result = _run([market_data, market_indices], krx_for(fake_krx), warehouse, previous, day)
    assert result.success, step_failures(result)
    quotes = warehouse.read_market_data([previous, day])
    indices = warehouse.read(market_indices_table, [previous, day]).set_index(["trade_date", "index_name"])
    for name in ("KOSPI", "KOSDAQ"):
        stocks = quotes[quotes["market"] == name]
        caps = stocks.groupby("trade_date")["market_cap"].sum()
        today = indices.loc[(day, name)]
        assert today["market_cap"] == caps[day]
        assert today["volume"] == stocks.loc[stocks["trade_date"] == day, "volume"].sum()
        # The index's change is the market-cap-weighted change of its stocks.
        assert today["change_pct"] == pytest.approx((caps[day] / caps[previous] - 1) * 100, abs=0.006)
        ratio = today["close"] / indices.loc[(previous, name), "close"]
        assert ratio == pytest.approx(caps[day] / caps[previous], abs=1e-5)


def test_rerun_replaces_the_days(fake_krx: FakeKrx, sqlite_warehouse_url: str):
    warehouse = Warehouse(url=sqlite_warehouse_url)
    assert _run([market_indices], krx_for(fake_krx), warehouse, DAY).success
    first = warehouse.read(market_indices_table, [DAY])
    assert _run([market_indices], krx_for(fake_krx), warehouse, DAY).success
    second = warehouse.read(market_indices_table, [DAY])
    assert len(second) == 2 and second.equals(first)


@pytest.mark.parametrize(
    ("fault", "markets", "message"),
    [
        ("logout", None, "KRX answered LOGOUT to the KOSPI index of 2026-11-02..2026-11-27"),
        ("empty_rows", {"KSQ"}, "KRX returned no KOSDAQ index rows for 2026-11-02..2026-11-27"),
        ("all_dash", None, "KRX returned the KOSPI index without values ('-') for 2026-11-02..2026-11-27"),
        ("http_500", {"KSQ"}, "KRX answered HTTP 500 to the KOSDAQ index of 2026-11-02..2026-11-27"),
        ("truncated_json", None, "is not valid JSON"),
    ],
)
def test_bad_answers_fail_the_step_and_write_nothing(
    fake_krx: FakeKrx, warehouse_url: str, fault: str, markets: set[str] | None, message: str
):
    warehouse = Warehouse(url=warehouse_url)
    # Yesterday's good rows must survive a failed re-run.
    assert _run([market_indices], krx_for(fake_krx), warehouse, *RANGE).success
    before = warehouse.read(market_indices_table, trading_days(*RANGE))
    fake_krx.set_fault(fault, markets=markets)
    result = _run([market_indices], krx_for(fake_krx, retry_backoff_seconds=0), warehouse, *RANGE)
    assert not result.success
    assert message in step_failures(result)["market_indices"]
    assert warehouse.read(market_indices_table, trading_days(*RANGE)).equals(before)


def test_a_day_missing_from_the_answer_fails_naming_it(
    fake_krx: FakeKrx, sqlite_warehouse_url: str, monkeypatch
):
    from adelie_fakes.krx import indices as fake_indices

    real = fake_indices.index_answer

    def without_the_26th(*request: str) -> dict:
        body = real(*request)
        body["output"] = [row for row in body["output"] if row["TRD_DD"] != "2026/11/26"]
        return body

    monkeypatch.setattr("adelie_fakes.krx.server.index_answer", without_the_26th)
    warehouse = Warehouse(url=sqlite_warehouse_url)
    result = _run([market_indices], krx_for(fake_krx), warehouse, date(2026, 11, 25), DAY)
    assert not result.success
    assert "has no value for 1 trading day(s) (2026-11-26)" in step_failures(result)["market_indices"]
    assert warehouse.read(market_indices_table, [date(2026, 11, 25), DAY]).empty


# --- the checks' verdicts ----------------------------------------------------------------------


def _rows(**changes: object) -> pd.DataFrame:
    base = {
        "trade_date": DAY,
        "open": 2500.0,
        "high": 2520.0,
        "low": 2490.0,
        "close": 2510.0,
        "change_pct": 0.4,
        "volume": 500_000_000,
        "trading_value": 9_000_000_000_000,
        "market_cap": 2_000_000_000_000_000,
    }
    return pd.DataFrame([{**base, "index_name": "KOSPI", **changes}, {**base, "index_name": "KOSDAQ"}])


def test_verdicts_pass_a_normal_day_and_name_what_is_wrong():
    assert both_indices_verdict(_rows()).passed
    assert index_values_verdict(_rows()).passed
    assert index_move_verdict(_rows()).passed
    missing = both_indices_verdict(_rows().iloc[[1]])
    assert not missing.passed and "KOSPI 0 rows" in missing.description
    assert not both_indices_verdict(pd.DataFrame(columns=_rows().columns)).passed
    zero = index_values_verdict(_rows(close=0.0))
    assert not zero.passed and "KOSPI: a missing or non-positive value" in zero.description
    disordered = index_values_verdict(_rows(high=2500.5))
    assert not disordered.passed and "KOSPI: low 2490.0" in disordered.description
    big = index_move_verdict(_rows(change_pct=-21.0))
    assert not big.passed and "KOSPI -21.00%" in big.description


def test_a_range_run_refuses_an_implausible_day_alone_and_writes_the_others(
    fake_krx: FakeKrx, sqlite_warehouse_url: str, monkeypatch
):
    from adelie_fakes.krx import indices as fake_indices

    real = fake_indices.index_answer

    def kospi_high_below_its_low_on_the_26th(*request: str) -> dict:
        body = real(*request)
        for row in body["output"]:
            if request[0] == "1" and row["TRD_DD"] == "2026/11/26":
                row["HGPRC_IDX"] = "1,000.00"
        return body

    monkeypatch.setattr("adelie_fakes.krx.server.index_answer", kospi_high_below_its_low_on_the_26th)
    warehouse = Warehouse(url=sqlite_warehouse_url)
    instance = DagsterInstance.ephemeral()
    days = trading_days(date(2026, 11, 24), DAY)
    result = materialize(
        [market_indices],
        tags={
            "dagster/asset_partition_range_start": days[0].isoformat(),
            "dagster/asset_partition_range_end": DAY.isoformat(),
        },
        resources={"krx": krx_for(fake_krx), "warehouse": warehouse},
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    text = step_failures(result)["market_indices"]
    refused = "market_indices rows of 2026-11-26 were refused before writing: [index_values_plausible]"
    assert refused in text
    assert "KOSPI: low" in text and "other 3 of 4 day(s) were written" in text
    good = [day for day in days if day != date(2026, 11, 26)]
    rows = warehouse.read(market_indices_table, days)
    assert rows.groupby("trade_date").size().to_dict() == dict.fromkeys(good, 2)
    assert instance.get_materialized_partitions(market_indices.key) == {d.isoformat() for d in good}
