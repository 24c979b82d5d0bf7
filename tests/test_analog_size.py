"""Size-aware analogs (issue 33, item 3): a stock is compared with stocks of its size tier (by the
day's market-cap rank), so a mega-cap gets mega-cap analogs; measured against the search without
tiers on the same history (docs/analogs.md, "Size")."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from adelie_assets.defs.analogs.features import SIZE_TIER, SIZE_TIERS, index_blocks, size_tiers, stock_blocks
from adelie_assets.defs.analogs.search import History, Searcher
from tests.history import quotes

START, END = date(2026, 1, 2), date(2026, 11, 27)


@pytest.fixture(scope="module")
def histories() -> tuple[History, History, pd.DataFrame]:
    market, indices = quotes(START, END, per_market=150, seed=17)
    calendar = sorted(set(market["trade_date"]))
    stocks = History.build(stock_blocks(market, indices, calendar, calendar), calendar)
    return stocks, History.build(index_blocks(indices, calendar, calendar), calendar), market


def _tiers_of_analogs(
    stocks: History, index: History, subjects: list[str], searched: History | None = None
) -> Counter[str]:
    """The size tiers (in `stocks`) of the subjects' analogs found in `searched` (default: `stocks`)."""
    found = Searcher(searched or stocks, END, "stock", index).find_all(subjects, 3)
    rows = [stocks.row(a.ticker, a.position) for f in found if f for a in f.analogs]
    return Counter(SIZE_TIERS[int(stocks.values[r, SIZE_TIER])] for r in rows)


def test_tiers_are_the_days_market_cap_rank() -> None:
    tiers = size_tiers(pd.Series(np.arange(2_400, 0, -1) * 1e9))  # 2,400 stocks, the first the largest
    assert Counter(SIZE_TIERS[int(t)] for t in tiers) == {
        "mega": 24,
        "large": 216,
        "mid": 720,
        "small": 1_440,
    }
    assert [SIZE_TIERS[int(t)] for t in tiers[[0, 23, 24, 239, 240, 959, 960]]] == [
        "mega", "mega", "large", "large", "mid", "mid", "small"
    ]  # fmt: skip
    assert np.isnan(size_tiers(pd.Series([1e12, None]))[1])


def test_mega_caps_get_mega_cap_analogs_and_small_caps_small_ones(histories) -> None:
    stocks, index, market = histories
    today = market[market["trade_date"] == END].sort_values("market_cap", ascending=False)
    mega, small = list(today["ticker"][:3]), list(today["ticker"][-20:])
    assert _tiers_of_analogs(stocks, index, mega) == {"mega": 9}
    assert set(_tiers_of_analogs(stocks, index, small)) == {"small"}
    # Without tiers (the search before issue 33) the mega-caps' analogs are of any size, mostly small.
    untiered = replace(stocks, values=stocks.values.copy())
    untiered.values[:, SIZE_TIER] = np.nan
    before = _tiers_of_analogs(stocks, index, mega, searched=untiered)
    assert before["mega"] <= 2 and before["small"] + before["mid"] >= 6, before
