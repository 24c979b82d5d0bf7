"""End to end: the fake KRX serves a 1:50 split, a 10:1 reverse split, a bonus issue and a reused
ticker code as real KRX does (unadjusted closes, FLUC_RT against the adjusted base price); the real
pykrx fetches them, market_data stores them, analog_features computes on them, and the stored history
sees no corporate action and two companies on the reused code (issue 32, items 1 and 3)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from adelie_assets.calendar import trading_days
from adelie_assets.defs.analogs.assets import analog_features
from adelie_assets.defs.analogs.features import ADJUSTMENT, FEATURES, stock_blocks
from adelie_assets.defs.analogs.search import History
from adelie_assets.defs.analogs.storage import load_histories
from adelie_assets.defs.market.assets import market_data
from adelie_assets.defs.market.indices import market_indices
from adelie_assets.resources.krx_quotes import parse_quotes
from adelie_assets.resources.warehouse import Warehouse, market_indices_table
from adelie_fakes.krx import FakeKrx, quotes_answer
from adelie_fakes.krx.events import ReusedTicker, ShareChange
from tests.builders import krx_for, step_failures

DAYS = trading_days(date(2026, 8, 1), date(2026, 11, 27))[-70:]
SPLIT, REVERSE, BONUS, REUSED = "035720", "000660", "247540", "091990"
EFFECTIVE = 40  # position in DAYS of the corporate actions
DELISTED, LISTED = 30, 34  # the reused code: its first company's last day, the second's first
EVENTS = [
    ShareChange(SPLIT, DAYS[EFFECTIVE], Fraction(50)),
    ShareChange(REVERSE, DAYS[EFFECTIVE], Fraction(1, 10)),
    ShareChange(BONUS, DAYS[EFFECTIVE], Fraction(3, 2)),
    ReusedTicker(REUSED, DAYS[DELISTED], DAYS[LISTED], "새로운바이오", Fraction(1, 40)),
]


def _run(assets: list, resources: dict):
    return materialize(
        assets,
        tags={
            "dagster/asset_partition_range_start": DAYS[0].isoformat(),
            "dagster/asset_partition_range_end": DAYS[-1].isoformat(),
        },
        resources=resources,
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def stored(_krx_server: FakeKrx, tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, History]:
    _krx_server.reset()
    _krx_server.set_events(EVENTS)
    try:
        url = f"sqlite:///{tmp_path_factory.mktemp('actions') / 'warehouse.db'}"
        warehouse = Warehouse(url=url)
        resources = {"krx": krx_for(_krx_server), "warehouse": warehouse}
        result = _run([market_data, market_indices], resources)
        assert result.success, step_failures(result)
    finally:
        _krx_server.reset()
    result = _run([analog_features], {"warehouse": warehouse})
    assert result.success, step_failures(result)
    stocks, _ = load_histories(warehouse.engine(), DAYS[-1], DAYS[0])
    return warehouse, stocks


@pytest.fixture(scope="module")
def plain(stored: tuple[Warehouse, History]) -> History:
    """The same days as the fake serves them without the events, through the same parser and features."""
    warehouse, _ = stored
    frames = [
        parse_quotes(pd.DataFrame(quotes_answer(code, day.strftime("%Y%m%d"))["OutBlock_1"]), code, day)
        for day in DAYS
        for code in ("STK", "KSQ")
    ]
    indices = warehouse.read(market_indices_table, DAYS)
    return History.build(stock_blocks(pd.concat(frames), indices, DAYS, DAYS), DAYS)


def _features(history: History, ticker: str, positions: range) -> np.ndarray:
    return np.array([history.values[history.row(ticker, p), : len(FEATURES)] for p in positions])


def test_krx_serves_the_actions_unadjusted_and_the_warehouse_keeps_them(stored) -> None:
    warehouse, _ = stored
    rows = warehouse.read_market_data([DAYS[EFFECTIVE - 1], DAYS[EFFECTIVE]]).set_index(
        ["ticker", "trade_date"]
    )
    before, on = DAYS[EFFECTIVE - 1], DAYS[EFFECTIVE]
    ratio = rows.at[(SPLIT, on), "close"] / rows.at[(SPLIT, before), "close"]
    assert 1 / 50 * 0.7 < ratio < 1 / 50 * 1.3  # the close fell about 50x ...
    assert abs(rows.at[(SPLIT, on), "change_pct"]) < 30  # ... and KRX's change stays a day's move
    assert 10 * 0.7 < rows.at[(REVERSE, on), "close"] / rows.at[(REVERSE, before), "close"] < 10 * 1.3
    names = warehouse.read_market_data([DAYS[DELISTED], DAYS[LISTED]]).set_index(["ticker", "trade_date"])
    assert (
        names.at[(REUSED, DAYS[DELISTED]), "name"]
        != names.at[(REUSED, DAYS[LISTED]), "name"]
        == "새로운바이오"
    )
    between = warehouse.read_market_data(DAYS[DELISTED + 1 : LISTED])
    assert REUSED not in set(between["ticker"])


@pytest.mark.parametrize("ticker", [SPLIT, REVERSE, BONUS])
def test_a_corporate_action_is_invisible_in_the_stored_features_outcomes_and_paths(
    stored, plain, ticker
) -> None:
    _, stocks = stored
    factor = stocks.values[stocks.row(ticker, EFFECTIVE), ADJUSTMENT]
    assert factor == pytest.approx(
        float(1 / {SPLIT: 50, REVERSE: Fraction(1, 10), BONUS: Fraction(3, 2)}[ticker]), rel=0.01
    )
    # Every feature of the 20 days whose window holds the action, as if there were none.
    span = range(EFFECTIVE, EFFECTIVE + 20)
    np.testing.assert_allclose(_features(stocks, ticker, span), _features(plain, ticker, span), atol=0.1)
    # What followed the days before it, and their paths, as if there were none.
    for position in range(EFFECTIVE - 20, EFFECTIVE):
        for days in (5, 20):
            assert stocks.change_after(ticker, position, days) == pytest.approx(
                plain.change_after(ticker, position, days), abs=0.1
            )
        path = [p["pct"] for p in stocks.path(ticker, position, 20, 29)]
        assert path == pytest.approx([p["pct"] for p in plain.path(ticker, position, 20, 29)], abs=0.1)


def test_a_reused_code_is_two_companies_in_the_stored_history(stored) -> None:
    _, stocks = stored
    # The second company's features never reach back into the first one's prices ...
    assert np.isnan(_features(stocks, REUSED, range(LISTED, LISTED + 20))[:, 2]).all()
    assert not np.isnan(_features(stocks, REUSED, range(LISTED + 20, LISTED + 21))).any()
    # ... and no outcome or path of the first company reaches into the second one's.
    for position in range(20, DELISTED + 1):
        assert stocks.change_after(REUSED, position, 20) is None or position + 20 <= DELISTED
        assert max(p["offset"] for p in stocks.path(REUSED, position, 0, 39)) <= DELISTED - position
