"""Analog search on a synthetic history whose answer is known: planted past setups are found, in
order, with the similarity the documented formula gives; nothing from the last 60 trading days."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from adelie_assets.calendar import trading_days
from adelie_assets.defs.analogs.features import (
    CLOSE,
    FEATURES,
    MARKETS,
    index_blocks,
    stock_blocks,
    ticker_of,
)
from adelie_assets.defs.analogs.search import (
    EPISODE_GAP_DAYS,
    MIN_GAP_DAYS,
    Candidates,
    History,
    NotEnoughHistory,
    Searcher,
    require_history,
)
from tests.history import quotes as history_quotes

CALENDAR = trading_days(date(2026, 1, 2), date(2026, 11, 27))
TODAY = CALENDAR[-1]
N = len(CALENDAR) - 1  # today's position
TICKERS = [f"{i:06d}" for i in range(1, 41)]
SUBJECT, PLANTED, NEAR_MISS, TOO_RECENT = "000001", "000002", "000003", "000004"
PLANTED_AT, NEAR_MISS_AT, TOO_RECENT_AT = N - 100, N - 75, N - 30
DELTA = 1.5  # the near miss's index change differs from today's by this many percentage points


def _history() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    moves = rng.normal(0, 2.0, (len(CALENDAR), len(TICKERS))).clip(-29, 29).round(2)
    volumes = rng.integers(100_000, 300_000, (len(CALENDAR), len(TICKERS))).astype(float)
    # Today's setup of SUBJECT: a 20-day climb ending in a +12% day on 6x volume.
    moves[N - 19 : N, 0] = 1.0
    moves[N, 0] = 12.0
    volumes[N, 0] = 6 * volumes[N - 20 : N, 0].mean()
    # The same 21 days replayed earlier by other tickers: identical moves, prices and volumes.
    planted = {1: PLANTED_AT, 2: NEAR_MISS_AT, 3: TOO_RECENT_AT}
    for column, at in planted.items():
        moves[at - 20 : at + 1, column] = moves[N - 20 :, 0]
        volumes[at - 20 : at + 1, column] = volumes[N - 20 :, 0]
    closes = np.empty_like(moves)
    closes[0] = rng.uniform(5_000, 100_000, len(TICKERS)).round()
    for i in range(1, len(CALENDAR)):
        closes[i] = np.round(closes[i - 1] * (1 + moves[i] / 100))
    for column, at in planted.items():
        closes[at - 20 : at + 1, column] = closes[N - 20 :, 0]
        for i in range(at + 1, len(CALENDAR)):
            closes[i, column] = np.round(closes[i - 1, column] * (1 + moves[i, column] / 100))
    change = moves.copy()
    quotes = pd.DataFrame(
        [
            {
                "trade_date": day,
                "ticker": ticker,
                "market": "KOSPI" if j < 20 else "KOSDAQ",
                "close": closes[i, j],
                "volume": volumes[i, j],
                "change_pct": round(float(change[i, j]), 2),
                "halted": False,
            }
            for i, day in enumerate(CALENDAR)
            for j, ticker in enumerate(TICKERS)
        ]
    )
    index_moves = rng.normal(0, 1.0, (len(CALENDAR), 2))
    index_moves[[N, PLANTED_AT, NEAR_MISS_AT, TOO_RECENT_AT]] = 1.5
    # The near miss's market (KOSPI) moved DELTA more: only its index_change_pct differs. (Its own
    # change_pct cannot differ alone: with the same closes, that is a corporate action's adjustment.)
    index_moves[NEAR_MISS_AT, 0] += DELTA
    index_close = 1000 * np.cumprod(1 + index_moves / 100, axis=0)
    indices = pd.DataFrame(
        [
            {
                "trade_date": day,
                "index_name": name,
                "close": round(float(index_close[i, k]), 2),
                "volume": float(rng.integers(1e8, 2e8)),
                "change_pct": round(float(index_moves[i, k]), 2),
            }
            for i, day in enumerate(CALENDAR)
            for k, name in enumerate(("KOSPI", "KOSDAQ"))
        ]
    )
    return quotes, indices


@pytest.fixture(scope="module")
def histories() -> tuple[History, History, pd.DataFrame]:
    quotes, indices = _history()
    stocks = History.build(stock_blocks(quotes, indices, CALENDAR, CALENDAR[20:]), CALENDAR)
    index = History.build(index_blocks(indices, CALENDAR, CALENDAR[20:]), CALENDAR)
    return stocks, index, quotes


def test_the_planted_setups_come_first_with_the_expected_similarity(histories) -> None:
    stocks, index, quotes = histories
    found = Searcher(stocks, TODAY, "stock", index).find(SUBJECT)
    assert found is not None
    first, second = found.analogs[0], found.analogs[1]
    assert (first.ticker, first.day) == (PLANTED, CALENDAR[PLANTED_AT])
    assert first.distance == pytest.approx(0, abs=1e-5) and first.similarity == 100.0
    assert first.features == found.features
    assert (second.ticker, second.day) == (NEAR_MISS, CALENDAR[NEAR_MISS_AT])
    # Standardised over every candidate (complete vectors at least 60 trading days back):
    candidates = stocks.values[: stocks.starts[N - MIN_GAP_DAYS + 1], : len(FEATURES)]
    candidates = candidates[~np.isnan(candidates).any(axis=1)]
    sigma = float(np.std(candidates[:, FEATURES.index("index_change_pct")].astype(np.float64)))
    expected = 100 * math.exp(-(DELTA / sigma) / math.sqrt(len(FEATURES)))
    assert second.similarity == pytest.approx(expected, abs=0.05)
    assert 0 < second.similarity < 100


def test_nothing_from_the_last_60_trading_days_is_offered(histories) -> None:
    stocks, index, _ = histories
    for subject in TICKERS[:10]:
        found = Searcher(stocks, TODAY, "stock", index).find(subject)
        assert found is not None
        assert found.analogs, subject
        for analog in found.analogs:
            assert analog.day <= CALENDAR[N - MIN_GAP_DAYS]
        days = sorted(CALENDAR.index(a.day) for a in found.analogs)
        assert all(b - a >= EPISODE_GAP_DAYS for a, b in zip(days, days[1:], strict=False))
    planted_days = {a.day for a in Searcher(stocks, TODAY, "stock", index).find(SUBJECT).analogs}
    assert CALENDAR[TOO_RECENT_AT] not in planted_days  # identical, but its +60 is not known yet


def test_outcomes_and_paths_are_the_quotes_that_followed(histories) -> None:
    stocks, index, quotes = histories
    analog = Searcher(stocks, TODAY, "stock", index).find(SUBJECT).analogs[0]
    close = quotes[quotes["ticker"] == PLANTED].set_index("trade_date")["close"]
    base = close[CALENDAR[PLANTED_AT]]
    for span in (5, 20, 60):
        assert analog.after_pct[span] == round((close[CALENDAR[PLANTED_AT + span]] / base - 1) * 100, 2)
    assert [p["offset"] for p in analog.path] == list(range(-20, 61))
    assert analog.path[20] == {
        "offset": 0,
        "date": CALENDAR[PLANTED_AT].isoformat(),
        "close": base,
        "pct": 0.0,
    }
    assert analog.path[-1]["date"] == CALENDAR[PLANTED_AT + 60].isoformat()
    assert analog.index_after_pct[5] is not None  # the KOSDAQ ticker's index over the same span
    today = Searcher(stocks, TODAY, "stock", index).find(SUBJECT).path_today
    assert [p["offset"] for p in today] == list(range(-20, 1)) and today[-1]["date"] == TODAY.isoformat()


def test_an_index_is_matched_with_its_own_past_only(histories) -> None:
    _, index, _ = histories
    found = Searcher(index, TODAY, "index").find("KOSPI")
    assert found is not None and len(found.analogs) == 3
    assert {a.ticker for a in found.analogs} == {"KOSPI"}
    assert set(found.features) == set(FEATURES[:4])
    assert all(a.day <= CALENDAR[N - MIN_GAP_DAYS] for a in found.analogs)


def test_too_little_history_says_how_much_is_missing(histories) -> None:
    stocks, _, _ = histories
    assert require_history(stocks, TODAY, "stock") > 100
    early = CALENDAR[95]  # 95 days in: features from day 20, searchable up to day 35
    with pytest.raises(
        NotEnoughHistory, match=r"16 searchable trading day\(s\) of stock history before 2026-05"
    ):
        require_history(stocks, early, "stock")


class _PerDaySearcher(Searcher):
    """The search as it was before a chunk's days shared one preparation: each day copies and
    standardises its own candidates and ranks them by float32 distances over them (kept verbatim)."""

    def __init__(self, history: History, day: date, kind: str, index_history: History | None = None) -> None:
        super().__init__(history, day, kind, index_history)
        width = len(self.names)
        last = self.position - MIN_GAP_DAYS
        upto = int(history.starts[last + 1]) if last >= 0 else 0
        matrix = np.empty((width + 1, upto), dtype=np.float32)
        matrix[:width] = history.values[:upto, :width].T
        complete = ~np.isnan(np.ones(width, dtype=np.float32) @ matrix[:width])
        complete &= ~np.isnan(history.values[:upto, CLOSE])
        count = int(complete.sum())
        matrix[:width, ~complete] = 0.0
        if count:
            self.mean = matrix[:width].sum(axis=1, dtype=np.float64) / count
            squares = np.einsum("ij,ij->i", matrix[:width], matrix[:width], dtype=np.float64)
            variance = squares / count - self.mean**2
            self.std = np.sqrt(np.where(variance > 1e-12, variance, 1.0))
        else:
            self.mean, self.std = np.zeros(width), np.ones(width)
        matrix[:width] -= self.mean.astype(np.float32)[:, None]
        matrix[:width] /= self.std.astype(np.float32)[:, None]
        matrix[width] = np.einsum("ij,ij->j", matrix[:width], matrix[:width])
        matrix[width, ~complete] = np.inf
        self.matrix, self.count = matrix, count

    def _squared(self, raws: list[np.ndarray]) -> np.ndarray:
        return np.array(
            [np.append(-2.0 * self._standardise(r), 1.0).astype(np.float32) @ self.matrix for r in raws]
        )


@pytest.fixture(scope="module")
def ragged() -> tuple[History, History]:
    """Ten months of quotes with incomplete vectors: the first 20 days (no look-back), tickers listed
    late, halted days."""
    market, indices = history_quotes(date(2026, 1, 2), TODAY, per_market=30, seed=5)
    calendar = sorted(set(market["trade_date"]))
    late = market["ticker"].isin(["000003", "100004"]) & (market["trade_date"] < calendar[90])
    market = market[~late].copy()
    rng = np.random.default_rng(8)
    market.loc[rng.random(len(market)) < 0.02, "halted"] = True
    stocks = History.build(stock_blocks(market, indices, calendar, calendar), calendar)
    index = History.build(index_blocks(indices, calendar, calendar), calendar)
    return stocks, index


def test_a_chunk_shares_its_preparation_and_finds_what_each_day_alone_found(ragged) -> None:
    stocks, index = ragged
    days = [
        stocks.calendar[p] for p in (100, 101, 140, 200, len(stocks.calendar) - 2, len(stocks.calendar) - 1)
    ]
    assert np.isnan(stocks.values[: stocks.starts[100 - MIN_GAP_DAYS + 1], : len(FEATURES)]).any()
    shared = Candidates(stocks, "stock", days), Candidates(index, "index", days)
    tickers = [ticker_of(c) for c in np.unique(stocks.codes)]
    counts = []
    for day in days:
        for k in (3, 10):  # ten months hold fewer than 10 distinct episodes
            chunk = Searcher(stocks, day, "stock", index, shared[0]).find_all(tickers, k)
            assert chunk == [_PerDaySearcher(stocks, day, "stock", index).find(t, k) for t in tickers]
            indices = Searcher(index, day, "index", candidates=shared[1]).find_all(MARKETS, k)
            assert indices == [_PerDaySearcher(index, day, "index").find(m, k) for m in MARKETS]
            counts += [len(f.analogs) if f else None for f in [*chunk, *indices]]
            assert Searcher(stocks, day, "stock", index).find_all(tickers[:3], k) == chunk[:3]
    # None: halted or listed late; fewer than k: the shortlist grew to every candidate (early days).
    assert {None, 1, 3} <= set(counts) and 10 not in counts
