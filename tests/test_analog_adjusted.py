"""Prices adjusted for corporate actions, reused ticker codes and impossible values (issue 32, items 1,
3 and 4): a split, a reverse split or a bonus issue inside a window is invisible to the features, the
outcomes and the paths; a code reused by another company is two series; a zero close or a non-finite
feature is refused naming the ticker and the day."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from adelie_assets.defs.analogs.features import (
    ADJUSTMENT,
    FEATURES,
    FeatureBlock,
    FeatureDataError,
    StaleFeatureBlock,
    index_blocks,
    pack,
    stock_blocks,
    unpack,
)
from adelie_assets.defs.analogs.search import History, Searcher
from tests.history import quotes, with_corporate_action, with_reused_ticker

START, END = date(2026, 1, 2), date(2026, 11, 27)
TICKER = "000003"


@pytest.fixture(scope="module")
def original() -> tuple[pd.DataFrame, pd.DataFrame, list[date]]:
    market, indices = quotes(START, END, per_market=20, seed=21)
    return market, indices, sorted(set(market["trade_date"]))


def _histories(market: pd.DataFrame, indices: pd.DataFrame, calendar: list[date]) -> tuple[History, History]:
    stocks = History.build(stock_blocks(market, indices, calendar, calendar), calendar)
    return stocks, History.build(index_blocks(indices, calendar, calendar), calendar)


def _features(history: History, ticker: str) -> np.ndarray:
    rows = [history.row(ticker, p) for p in range(len(history.calendar))]
    return np.array([history.values[r, : len(FEATURES)] if r is not None else [np.nan] * 5 for r in rows])


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [("1:50 split", 50, 1), ("10:1 reverse split", 1, 10), ("bonus issue, 1 new share for 2", 3, 2)],
)
def test_a_corporate_action_inside_a_window_is_invisible(
    original, action: str, before: int, after: int
) -> None:
    market, indices, calendar = original
    effective = calendar[150]
    plain, _ = _histories(market, indices, calendar)
    acted, index = _histories(
        with_corporate_action(market, TICKER, effective, before, after), indices, calendar
    )
    # The factor is the ratio of the shares: the base price KRX adjusted over the previous close.
    factor = acted.values[acted.row(TICKER, 150), ADJUSTMENT]
    assert factor == pytest.approx(after / before, rel=2e-4), action
    assert acted.values[acted.row(TICKER, 149), ADJUSTMENT] == 1.0
    # Every feature of every day, the 20 days after the action included, as without it.
    np.testing.assert_allclose(_features(acted, TICKER), _features(plain, TICKER), atol=0.02, equal_nan=True)
    # What followed a day before the action, and its chart path, as without it: no -98 %.
    for position in (100, 130, 149):
        for span in (5, 20, 60):
            assert acted.change_after(TICKER, position, span) == pytest.approx(
                plain.change_after(TICKER, position, span), abs=0.02
            )
        pcts = [p["pct"] for p in acted.path(TICKER, position, 20, 60)]
        assert pcts == pytest.approx([p["pct"] for p in plain.path(TICKER, position, 20, 60)], abs=0.02)
    # A path is in the shares of its own day: the close at offset 0 is that day's close as traded.
    after_day = acted.path(TICKER, 160, 20, 0)
    assert after_day[-1]["close"] == acted.close(TICKER, 160)
    # The search sees the acted ticker as it sees the plain one.
    day = calendar[-1]
    for subject in ("000001", TICKER):
        got = Searcher(acted, day, "stock", index).find(subject)
        want = Searcher(plain, day, "stock", index).find(subject)
        assert [(a.ticker, a.day) for a in got.analogs] == [(a.ticker, a.day) for a in want.analogs]
        for a, b in zip(got.analogs, want.analogs, strict=True):
            assert a.after_pct == pytest.approx(b.after_pct, abs=0.02)
            assert all(abs(v) < 90 for v in a.after_pct.values())


@pytest.mark.parametrize("gap_days", [0, 30])
def test_a_reused_ticker_is_two_series(original, gap_days: int) -> None:
    market, indices, calendar = original
    delisted, listed = calendar[120], calendar[121 + gap_days]
    reused = with_reused_ticker(market, TICKER, delisted, listed, "새회사", scale=0.02)
    stocks, index = _histories(reused, indices, calendar)
    at = calendar.index(listed)
    assert np.isnan(stocks.values[stocks.row(TICKER, at), ADJUSTMENT])  # the series breaks there
    features = _features(stocks, TICKER)
    # No feature of the new company reaches back into the old one's prices.
    assert np.isnan(features[at : at + 5, 1]).all() and np.isnan(features[at : at + 20, 2]).all()
    assert not np.isnan(features[at + 20, :]).any()
    # No outcome or path of the old company reaches into the new one's prices.
    for position in range(121 - 60, 121):
        assert stocks.change_after(TICKER, position, 60) is None
        dates = [p["date"] for p in stocks.path(TICKER, position, 20, 60)]
        assert max(dates) <= delisted.isoformat()
    assert min(p["date"] for p in stocks.path(TICKER, at + 5, 20, 0)) == listed.isoformat()
    # Every analog of every subject carries a move the ticker really made: none near -98 %.
    day = calendar[-1]
    searcher = Searcher(stocks, day, "stock", index)
    for subject in sorted({t for t in reused["ticker"]})[:10]:
        for analog in searcher.find(subject, 10).analogs:
            if analog.ticker == TICKER:
                assert analog.day > listed or analog.day <= calendar[121 - 61]


def test_a_renamed_company_without_a_price_break_stays_one_series(original) -> None:
    market, indices, calendar = original
    renamed = market.copy()
    renamed.loc[(renamed["ticker"] == TICKER) & (renamed["trade_date"] >= calendar[150]), "name"] = "새이름"
    stocks, _ = _histories(renamed, indices, calendar)
    plain, _ = _histories(market, indices, calendar)
    assert stocks.values[stocks.row(TICKER, 150), ADJUSTMENT] == 1.0
    assert stocks.change_after(TICKER, 130, 60) == plain.change_after(TICKER, 130, 60)


def test_a_zero_close_is_refused_naming_the_ticker_and_the_day(original) -> None:
    market, indices, calendar = original
    broken = market.copy()
    broken.loc[(broken["ticker"] == TICKER) & (broken["trade_date"] == calendar[100]), "close"] = 0
    with pytest.raises(FeatureDataError, match=f"a close of 0 for {TICKER} on {calendar[100]}"):
        stock_blocks(broken, indices, calendar[90:111], calendar[110:111])


def test_a_non_finite_feature_is_refused_naming_the_ticker_and_the_day(original) -> None:
    market, indices, calendar = original
    broken = market.copy()
    broken.loc[(broken["ticker"] == TICKER) & (broken["trade_date"] == calendar[110]), "change_pct"] = np.inf
    with pytest.raises(FeatureDataError, match=f"change_1d_pct of {TICKER} is inf"):
        stock_blocks(broken, indices, calendar[90:111], calendar[110:111])


def test_a_stored_block_with_an_infinite_value_is_named_before_any_search(original) -> None:
    market, indices, calendar = original
    blocks = stock_blocks(market, indices, calendar[:41], calendar[20:41])
    poisoned = blocks[5].values.copy()
    poisoned[3, 1] = np.inf
    blocks[5] = FeatureBlock(blocks[5].day, "stock", blocks[5].codes, poisoned)
    with pytest.raises(FeatureDataError, match=f"stock features of {calendar[25]} are not finite"):
        History.build(blocks, calendar[:41])


def test_a_block_stored_before_adjusted_prices_is_refused(original) -> None:
    market, indices, calendar = original
    block = stock_blocks(market, indices, calendar[:21], calendar[20:21])[0]
    codes, _ = pack(block)
    legacy = np.ascontiguousarray(block.values[:, :7].T, dtype="<f4").tobytes()
    with pytest.raises(StaleFeatureBlock, match=f"features of {calendar[20]} were stored by an earlier"):
        unpack(calendar[20], "stock", codes, legacy)
