"""A few months of consistent synthetic quotes (random-walk prices, indices that follow them), written
straight into the warehouse's market_data and market_indices, for tests of the analog search chain."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from adelie_assets.calendar import trading_days
from adelie_assets.resources.krx import COLUMNS
from adelie_assets.resources.warehouse import Warehouse, market_indices_table

NAMES = [
    "삼성전자",
    "SK하이닉스",
    "현대차",
    "LG화학",
    "NAVER",
    "카카오",
    "셀트리온",
    "기아",
    "POSCO홀딩스",
    "KB금융",
]


def quotes(start: date, end: date, per_market: int = 30, seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(market_data rows, market_indices rows) for every trading day in [start, end]."""
    days = trading_days(start, end)
    rng = np.random.default_rng(seed)
    tickers = [f"{m}{i:05d}" for m in (0, 1) for i in range(per_market)]
    markets = ["KOSPI"] * per_market + ["KOSDAQ"] * per_market
    moves = rng.normal(0, 2.5, (len(days), len(tickers))).clip(-29.9, 29.9).round(2)
    moves[0] = 0.0
    closes = np.round(rng.uniform(5_000, 200_000, len(tickers)) * np.cumprod(1 + moves / 100, axis=0))
    volumes = rng.integers(200_000, 3_000_000, (len(days), len(tickers)))
    shares = rng.integers(10_000_000, 500_000_000, len(tickers))
    rows = []
    for i, day in enumerate(days):
        for j, ticker in enumerate(tickers):
            close = int(closes[i, j])
            rows.append(
                {
                    "trade_date": day,
                    "ticker": ticker,
                    "name": f"{NAMES[j % len(NAMES)]}{j}",
                    "market": markets[j],
                    "open": close,
                    "high": close,
                    "low": close,
                    "close": close,
                    "volume": int(volumes[i, j]),
                    "trading_value": int(volumes[i, j]) * close,
                    "change_pct": float(moves[i, j]),
                    "market_cap": close * int(shares[j]),
                    "halted": False,
                }
            )
    market = pd.DataFrame(rows, columns=COLUMNS)
    index_rows = []
    for k, name in enumerate(("KOSPI", "KOSDAQ")):
        part = slice(k * per_market, (k + 1) * per_market)
        change = moves[:, part].mean(axis=1).round(2)
        level = (2_500.0 if k == 0 else 800.0) * np.cumprod(1 + change / 100)
        for i, day in enumerate(days):
            close = round(float(level[i]), 2)
            index_rows.append(
                {
                    "trade_date": day,
                    "index_name": name,
                    "open": close,
                    "high": close,
                    "low": close,
                    "close": close,
                    "change_pct": float(change[i]),
                    "volume": int(volumes[i, part].sum()),
                    "trading_value": int((volumes[i, part] * closes[i, part]).sum()),
                    "market_cap": int((closes[i, part] * shares[part]).sum()),
                }
            )
    return market, pd.DataFrame(index_rows)


def write_history(warehouse: Warehouse, market: pd.DataFrame, indices: pd.DataFrame) -> list[date]:
    days = sorted(set(market["trade_date"]))
    warehouse.replace_market_data(days, market)
    warehouse.replace_rows(market_indices_table, days, indices)
    return days


def seed_history_before(warehouse: Warehouse, day: date, count: int = 110) -> None:
    """Synthetic market_data, market_indices and analog_features for the `count` trading days before
    `day`, plus `day`'s market_indices: enough history for market_analogs of `day` (whose own
    market_data a test brings, e.g. from the fake KRX)."""
    from adelie_assets.defs.analogs.features import index_blocks, stock_blocks
    from adelie_assets.defs.analogs.storage import block_rows
    from adelie_assets.resources.warehouse import analog_features_table

    calendar = trading_days(date(day.year - 1, 1, 1), day)
    days = calendar[-count - 1 : -1]
    market, indices = quotes(days[0], day)
    market = market[market["trade_date"] < day]
    write_history(warehouse, market, indices[indices["trade_date"] < day])
    warehouse.replace_rows(market_indices_table, [day], indices[indices["trade_date"] == day])
    featured = days[20:]
    rows = block_rows(
        [*stock_blocks(market, indices, days, featured), *index_blocks(indices, days, featured)]
    )
    warehouse.replace_rows(analog_features_table, featured, pd.DataFrame(rows))
    # The previous trading day at the fake KRX's size, as a real history has it: market_data's
    # guard refuses a day whose row count is far from the previous day's.
    from tests.builders import market_frame

    warehouse.replace_market_data([days[-1]], market_frame(days[-1], per_market=1194))


def with_corporate_action(
    market: pd.DataFrame, ticker: str, day: date, before: int, after: int = 1
) -> pd.DataFrame:
    """`market` with a corporate action of `ticker` effective on `day`, as KRX shows it: prices before
    the day x `before`, from the day x `after`, volumes divided alike, change_pct unchanged (KRX's
    FLUC_RT is against the base price, which it adjusts). A 1:50 split is before=50; a 10:1 reverse
    split after=10; a bonus issue of one new share for two is before=3, after=2."""
    market = market.copy()
    rows = market["ticker"] == ticker
    for part, scale in (
        (rows & (market["trade_date"] < day), before),
        (rows & (market["trade_date"] >= day), after),
    ):
        for column in ("open", "high", "low", "close"):
            market.loc[part, column] = market.loc[part, column] * scale
        market.loc[part, "volume"] = (market.loc[part, "volume"] // scale).clip(lower=1)
    return market


def with_reused_ticker(
    market: pd.DataFrame, ticker: str, delisted_after: date, listed_on: date, name: str, scale: float
) -> pd.DataFrame:
    """`market` where `ticker`'s company is delisted after `delisted_after` and the code is given to
    another company (`name`, prices x `scale`) listed on `listed_on` (the next trading day: no gap)."""
    rows = market["ticker"] == ticker
    gone = rows & (market["trade_date"] > delisted_after) & (market["trade_date"] < listed_on)
    market = market[~gone].copy()
    rows = (market["ticker"] == ticker) & (market["trade_date"] >= listed_on)
    market.loc[rows, "name"] = name
    for column in ("open", "high", "low", "close"):
        market.loc[rows, column] = (market.loc[rows, column] * scale).round().astype(int)
    return market
