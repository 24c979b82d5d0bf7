"""The per-(ticker, day) setup that analogs are matched on, and its compact storage (docs/analogs.md).

Pure numpy/pandas: computed once per partition from that day's and the 20 previous trading days'
quotes, then stored as one binary block per day and kind, so that a search over ten years reads
about 2,450 blocks instead of 5.9 M rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

# Matched features, in storage order. Indices use the first four (their own change is the fifth).
FEATURES: tuple[str, ...] = (
    "change_1d_pct",  # the day's change vs. the previous close (KRX's own FLUC_RT)
    "change_5d_pct",  # close vs. the close 5 trading days earlier
    "change_20d_pct",  # close vs. the close 20 trading days earlier
    "log_volume_ratio",  # ln(volume / mean volume of the 20 previous trading days)
    "index_change_pct",  # the day's change of the stock's market index (KOSPI or KOSDAQ)
)
INDEX_FEATURES: tuple[str, ...] = FEATURES[:4]
# Stored next to the features: the close (paths and outcomes) and the market (which index).
COLUMNS: tuple[str, ...] = (*FEATURES, "close", "market_code")
CLOSE = COLUMNS.index("close")
MARKET_CODE = COLUMNS.index("market_code")
MARKETS: tuple[str, ...] = ("KOSPI", "KOSDAQ")
INDEX_NAMES: tuple[str, ...] = MARKETS  # an index subject's "ticker" is its name

LOOKBACK_DAYS = 20  # trading days of history a feature vector needs
MIN_VOLUME_DAYS = 10  # of those 20, days with a quote needed for a volume average
TICKER_BYTES = 8  # tickers stored as 8-byte ASCII: one uint64 each, cheap to compare and sort


@dataclass(frozen=True)
class FeatureBlock:
    """One day's rows of one kind ('stock' or 'index'), sorted by ticker code."""

    day: date
    kind: str
    codes: np.ndarray  # uint64, ascending (ticker_code)
    values: np.ndarray  # float32, shape (n, len(COLUMNS)); NaN where a feature is unknown

    @property
    def tickers(self) -> list[str]:
        return [ticker_of(code) for code in self.codes]


def ticker_code(ticker: str) -> int:
    raw = ticker.encode("ascii")
    if not raw or len(raw) > TICKER_BYTES:
        raise ValueError(f"ticker {ticker!r} does not fit {TICKER_BYTES} ASCII bytes")
    return int(np.frombuffer(raw.ljust(TICKER_BYTES, b"\0"), dtype="<u8")[0])


def ticker_of(code: int | np.integer) -> str:
    return np.array([code], dtype="<u8").tobytes().rstrip(b"\0").decode("ascii")


def pack(block: FeatureBlock) -> tuple[bytes, bytes]:
    """(codes, values) as little-endian bytes for the warehouse's two binary columns; values are
    stored column after column (feature-major), the layout the search computes on."""
    return block.codes.astype("<u8").tobytes(), np.ascontiguousarray(block.values.T, dtype="<f4").tobytes()


def unpack(day: date, kind: str, codes: bytes | memoryview, values: bytes | memoryview) -> FeatureBlock:
    code_array = np.frombuffer(codes, dtype="<u8")
    value_array = np.frombuffer(values, dtype="<f4").reshape(len(COLUMNS), len(code_array)).T
    return FeatureBlock(day=day, kind=kind, codes=code_array, values=value_array)


def _block(day: date, kind: str, tickers: Sequence[str], values: np.ndarray) -> FeatureBlock:
    codes = np.array([ticker_code(t) for t in tickers], dtype="<u8")
    order = np.argsort(codes, kind="stable")
    if len(codes) > 1 and np.any(np.diff(codes[order]) == 0):
        raise ValueError(f"{kind} features of {day}: a ticker is listed twice")
    return FeatureBlock(day=day, kind=kind, codes=codes[order], values=values[order].astype("<f4"))


def _pivot(frame: pd.DataFrame, key: str, column: str, calendar: Sequence[date]) -> pd.DataFrame:
    table = frame.pivot(index="trade_date", columns=key, values=column)
    return table.reindex(list(calendar)).astype(float)


def _rolling(
    close: pd.DataFrame, volume: pd.DataFrame, change: pd.DataFrame, position: int
) -> tuple[np.ndarray, ...]:
    """Features 1-4 at calendar `position`, for every column of the pivots (NaN where unknown)."""
    c1 = change.iloc[position].to_numpy()
    today = close.iloc[position].to_numpy()
    c5 = (
        (today / close.iloc[position - 5].to_numpy() - 1) * 100
        if position >= 5
        else np.full_like(today, np.nan)
    )
    c20 = (
        (today / close.iloc[position - LOOKBACK_DAYS].to_numpy() - 1) * 100
        if position >= LOOKBACK_DAYS
        else np.full_like(today, np.nan)
    )
    window = volume.iloc[max(0, position - LOOKBACK_DAYS) : position]
    enough = window.notna().sum().to_numpy() >= MIN_VOLUME_DAYS
    average = window.mean().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(volume.iloc[position].to_numpy() / average)
    ratio[~enough | ~np.isfinite(ratio)] = np.nan
    return c1, c5, c20, ratio


def stock_blocks(
    quotes: pd.DataFrame, indices: pd.DataFrame, calendar: Sequence[date], days: Sequence[date]
) -> list[FeatureBlock]:
    """Feature blocks of `days` from market_data rows of `calendar` (the days plus >= 20 trading days
    before them) and market_indices rows of `days`. A halted day's features are NaN (not a setup)."""
    calendar = sorted(calendar)
    close = _pivot(quotes, "ticker", "close", calendar)
    volume = _pivot(quotes, "ticker", "volume", calendar)
    change = _pivot(quotes, "ticker", "change_pct", calendar)
    index_change = _pivot(indices, "index_name", "change_pct", calendar) if not indices.empty else None
    blocks = []
    for day in days:
        rows = quotes[quotes["trade_date"] == day].set_index("ticker")
        if rows.empty:
            raise ValueError(f"no market_data rows for {day}")
        position = calendar.index(day)
        c1, c5, c20, ratio = (
            pd.Series(a, index=close.columns).reindex(rows.index).to_numpy()
            for a in _rolling(close, volume, change, position)
        )
        markets = rows["market"].map({m: i for i, m in enumerate(MARKETS)}).to_numpy(dtype=float)
        market_moves = (
            np.array([index_change.at[day, m] if m in index_change.columns else np.nan for m in MARKETS])
            if index_change is not None
            else np.full(len(MARKETS), np.nan)
        )
        if np.isnan(market_moves).any():
            raise ValueError(f"market_indices has no KOSPI and KOSDAQ change for {day}")
        idx = market_moves[np.nan_to_num(markets, nan=0).astype(int)]
        values = np.column_stack([c1, c5, c20, ratio, idx, rows["close"].to_numpy(float), markets])
        halted = rows["halted"].to_numpy(bool)
        values[halted, : len(FEATURES)] = np.nan
        blocks.append(_block(day, "stock", list(rows.index), values))
    return blocks


def index_blocks(indices: pd.DataFrame, calendar: Sequence[date], days: Sequence[date]) -> list[FeatureBlock]:
    """Feature blocks of the two indices for `days`, from market_indices rows of `calendar`."""
    calendar = sorted(calendar)
    close = _pivot(indices, "index_name", "close", calendar)
    volume = _pivot(indices, "index_name", "volume", calendar)
    change = _pivot(indices, "index_name", "change_pct", calendar)
    blocks = []
    for day in days:
        position = calendar.index(day)
        c1, c5, c20, ratio = _rolling(close, volume, change, position)
        names = list(close.columns)
        present = ~np.isnan(close.iloc[position].to_numpy())
        values = np.column_stack(
            [
                c1,
                c5,
                c20,
                ratio,
                np.full(len(names), np.nan),
                close.iloc[position].to_numpy(),
                np.array([MARKETS.index(n) for n in names], dtype=float),
            ]
        )[present]
        blocks.append(_block(day, "index", [n for n, p in zip(names, present, strict=True) if p], values))
    return blocks
