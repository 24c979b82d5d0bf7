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
# Stored next to the features: the close, the market (which index) and the day's adjustment factor
# (KRX's base price / the previous close: 1 but on a corporate action, NaN where the series breaks),
# so that outcomes and paths are measured on adjusted closes (docs/analogs.md, "Adjusted prices").
# And the size tier of the day (SIZE_TIERS), by which a stock is compared with stocks of its size.
COLUMNS: tuple[str, ...] = (*FEATURES, "close", "market_code", "adjustment", "size_tier")
CLOSE = COLUMNS.index("close")
MARKET_CODE = COLUMNS.index("market_code")
ADJUSTMENT = COLUMNS.index("adjustment")
SIZE_TIER = COLUMNS.index("size_tier")
# Tiers by the day's market-cap rank among every stock of the day (so that they mean the same in 2005
# and in 2025): the top 1 % (at least one stock) mega, the top 10 % large, the top 40 % mid, the rest
# small. ~2,400 KRX stocks: 24 mega-caps, 240 large, 960 mid (docs/analogs.md, "Size").
SIZE_TIERS: tuple[str, ...] = ("mega", "large", "mid", "small")
SIZE_TIER_SHARES: tuple[float, ...] = (0.01, 0.10, 0.40)
MARKETS: tuple[str, ...] = ("KOSPI", "KOSDAQ")
INDEX_NAMES: tuple[str, ...] = MARKETS  # an index subject's "ticker" is its name

LOOKBACK_DAYS = 20  # trading days of history a feature vector needs
MIN_VOLUME_DAYS = 10  # of those 20, days with a quote needed for a volume average
TICKER_BYTES = 8  # tickers stored as 8-byte ASCII: one uint64 each, cheap to compare and sort
# FLUC_RT is KRX's change against the base price, rounded to 2 decimals: the previous close is the
# base when it explains FLUC_RT within that rounding (plus half a won of the close's, for prices that
# are not KRX's own).
FLUC_RT_HALF_UNIT = 0.005


class FeatureDataError(ValueError):
    """market_data (or a stored block) holds what no feature can be computed from; names ticker and day."""


class StaleFeatureBlock(FeatureDataError):
    """A block stored before adjusted prices: its features and closes are unadjusted."""


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
    flat = np.frombuffer(values, dtype="<f4")
    if len(code_array) and flat.size != len(COLUMNS) * len(code_array):
        raise StaleFeatureBlock(
            f"the {kind} features of {day} were stored by an earlier version ({flat.size // len(code_array)} "
            f"columns, not {len(COLUMNS)}): before prices were adjusted for corporate actions (splits, bonus "
            "issues) or before size tiers"
        )
    value_array = flat.reshape(len(COLUMNS), len(code_array)).T
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


def adjustment_factors(close: pd.DataFrame, change: pd.DataFrame, name: pd.DataFrame | None) -> pd.DataFrame:
    """Each (day, ticker)'s adjustment factor: KRX's base price of the day over the previous trading
    day's close. The base is implied by the close and FLUC_RT (close / (1 + FLUC_RT/100)); when the
    previous close explains FLUC_RT within its rounding, the factor is exactly 1. NaN where the series
    breaks: no quote the previous trading day (a listing, a gap), or a new name with a price break (a
    ticker code reused by another company)."""
    previous = close.shift(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = close / (1 + change / 100) / previous
        moved = 100 * (close - previous) / previous
        tolerance = FLUC_RT_HALF_UNIT + 50 / previous + 1e-9
    unchanged = (moved - change).abs() <= tolerance
    unchanged |= change.isna() & close.eq(previous)
    factor = factor.mask(unchanged, 1.0)
    if name is not None:
        before = name.shift(1)
        renamed = name.notna() & before.notna() & name.ne(before)
        factor = factor.mask(renamed & factor.ne(1.0))
    return factor


def _rolling(
    close: pd.DataFrame,
    volume: pd.DataFrame,
    change: pd.DataFrame,
    factor: pd.DataFrame | None,
    position: int,
) -> tuple[np.ndarray, ...]:
    """Features 1-4 at calendar `position`, for every column of the pivots (NaN where unknown), on
    closes and volumes adjusted to the shares of that day (`factor`: None for an index)."""
    c1 = change.iloc[position].to_numpy()
    start = max(0, position - LOOKBACK_DAYS)
    closes = close.iloc[start : position + 1].to_numpy()
    # multipliers[s]: the product of the factors after day s up to the day (a NaN breaks the series).
    multipliers = np.ones_like(closes)
    if factor is not None and position > start:
        later = factor.iloc[start + 1 : position + 1].to_numpy()
        multipliers[:-1] = np.cumprod(later[::-1], axis=0)[::-1]
    adjusted = closes * multipliers
    today = adjusted[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        c5 = (today / adjusted[-6] - 1) * 100 if position >= 5 else np.full_like(today, np.nan)
        c20 = (today / adjusted[0] - 1) * 100 if position >= LOOKBACK_DAYS else np.full_like(today, np.nan)
        window = pd.DataFrame(volume.iloc[start:position].to_numpy() / multipliers[:-1])
    enough = window.notna().sum().to_numpy() >= MIN_VOLUME_DAYS
    average = window.mean().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(volume.iloc[position].to_numpy() / average)
    ratio[~enough | ~np.isfinite(ratio)] = np.nan
    return c1, c5, c20, ratio


def size_tiers(market_cap: pd.Series) -> np.ndarray:
    """Each stock's SIZE_TIERS index by its market-cap rank among `market_cap` (one day's stocks);
    NaN where the market cap is unknown."""
    caps = pd.to_numeric(market_cap, errors="coerce").astype(float)
    known = int(caps.notna().sum())
    rank = caps.rank(ascending=False, method="first").to_numpy()  # 1 = the largest
    bounds = [max(1, round(share * known)) for share in SIZE_TIER_SHARES]
    tiers = np.searchsorted(np.array(bounds, dtype=float), rank, side="left").astype(float)
    tiers[np.isnan(rank)] = np.nan
    return tiers


def _require_prices(quotes: pd.DataFrame) -> None:
    """A close that is not a positive price would make features infinite or -100 %: refused, named."""
    close = pd.to_numeric(quotes["close"], errors="coerce")
    bad = quotes[(close <= 0) | ~np.isfinite(close.fillna(1.0))]
    if not bad.empty:
        row = bad.sort_values(["trade_date", "ticker"]).iloc[0]
        raise FeatureDataError(
            f"market_data holds a close of {row['close']} for {row['ticker']} on {row['trade_date']} "
            f"({len(bad)} such row(s) in the days read): a close must be a positive price. Re-materialize "
            f"market_data for {row['trade_date']} (its guard refuses such an answer), then analog_features."
        )


def require_finite(day: date, kind: str, tickers: Sequence[str], values: np.ndarray, remedy: str) -> None:
    """Refuses a day's vectors holding an infinite value, naming the ticker, the day and `remedy`."""
    infinite = np.isinf(values)
    if infinite.any():
        row, column = (int(i[0]) for i in np.nonzero(infinite))
        raise FeatureDataError(
            f"the {kind} features of {day} are not finite: {COLUMNS[column]} of {tickers[row]} is "
            f"{values[row, column]} ({int(infinite.sum())} value(s)); {remedy}"
        )


def _require_finite(day: date, kind: str, tickers: Sequence[str], values: np.ndarray) -> None:
    require_finite(
        day,
        kind,
        tickers,
        values,
        f"check that ticker's market_data rows of {day} and the {LOOKBACK_DAYS} trading days before, "
        "re-materialize them, then analog_features.",
    )


def stock_blocks(
    quotes: pd.DataFrame, indices: pd.DataFrame, calendar: Sequence[date], days: Sequence[date]
) -> list[FeatureBlock]:
    """Feature blocks of `days` from market_data rows of `calendar` (the days plus >= 20 trading days
    before them) and market_indices rows of `days`. A halted day's features are NaN (not a setup)."""
    calendar = sorted(calendar)
    _require_prices(quotes)
    close = _pivot(quotes, "ticker", "close", calendar)
    volume = _pivot(quotes, "ticker", "volume", calendar)
    change = _pivot(quotes, "ticker", "change_pct", calendar)
    names = (
        quotes.pivot(index="trade_date", columns="ticker", values="name").reindex(list(calendar))
        if "name" in quotes.columns
        else None
    )
    factor = adjustment_factors(close, change, names)
    index_change = _pivot(indices, "index_name", "change_pct", calendar) if not indices.empty else None
    blocks = []
    for day in days:
        rows = quotes[quotes["trade_date"] == day].set_index("ticker")
        if rows.empty:
            raise ValueError(f"no market_data rows for {day}")
        position = calendar.index(day)
        c1, c5, c20, ratio, adjustment = (
            pd.Series(a, index=close.columns).reindex(rows.index).to_numpy()
            for a in (*_rolling(close, volume, change, factor, position), factor.iloc[position].to_numpy())
        )
        markets = rows["market"].map({m: i for i, m in enumerate(MARKETS)}).to_numpy(dtype=float)
        tiers = size_tiers(rows["market_cap"]) if "market_cap" in rows.columns else np.full(len(rows), np.nan)
        market_moves = (
            np.array([index_change.at[day, m] if m in index_change.columns else np.nan for m in MARKETS])
            if index_change is not None
            else np.full(len(MARKETS), np.nan)
        )
        if np.isnan(market_moves).any():
            raise ValueError(f"market_indices has no KOSPI and KOSDAQ change for {day}")
        idx = market_moves[np.nan_to_num(markets, nan=0).astype(int)]
        values = np.column_stack(
            [c1, c5, c20, ratio, idx, rows["close"].to_numpy(float), markets, adjustment, tiers]
        )
        halted = rows["halted"].to_numpy(bool)
        values[halted, : len(FEATURES)] = np.nan
        _require_finite(day, "stock", list(rows.index), values)
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
        c1, c5, c20, ratio = _rolling(close, volume, change, None, position)
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
                np.ones(len(names)),  # an index has no corporate actions
                np.full(len(names), np.nan),  # nor a size tier
            ]
        )[present]
        _require_finite(day, "index", [n for n, p in zip(names, present, strict=True) if p], values)
        blocks.append(_block(day, "index", [n for n, p in zip(names, present, strict=True) if p], values))
    return blocks
