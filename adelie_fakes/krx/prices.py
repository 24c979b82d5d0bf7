"""The synthetic price model: closes that follow a mean-reverting walk on the KRX tick grid and calendar."""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time

import holidays
import numpy as np
import numpy.typing as npt

_ANCHOR = dt.date(2021, 1, 4)

_HALTED_FIELDS = {
    "FLUC_TP_CD": "0",
    "CMPPREVDD_PRC": "0",
    "FLUC_RT": "0.00",
    "TDD_OPNPRC": "0",
    "TDD_HGPRC": "0",
    "TDD_LWPRC": "0",
    "ACC_TRDVOL": "0",
    "ACC_TRDVAL": "0",
}

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_SEED = 0x4B5258  # any constant works; changing it changes every synthetic price
_CHECKPOINT_DAYS = 16  # trades memory for the length of the walk from the nearest stored day
_RECENT_DAYS = 64  # states kept besides the checkpoints (~20 KB each)
_REVERSION = 0.02  # pulls each close back towards its 2021-01-04 close, so prices stay plausible for decades
_JUMP_PROBABILITY = 0.003  # a handful of big movers per day across 2,531 tickers
_BACKWARD_MARGIN = 0.03  # walking backwards, rounding of the previous close must not break the daily limit
# Keeps every synthetic volume below 2**31; the huge_volume fault is there to go above it.
_VOLUME_FACTOR_RANGE = (0.05, 8.0)
# KRX tick sizes since 2023-01-25 (KOSPI and KOSDAQ alike). Each bound is a multiple of the next tick size,
# so rounding to a lower band's tick never gives a price that is off the grid of the band above.
_TICK_BOUNDS = np.array([2_000, 5_000, 20_000, 50_000, 200_000, 500_000], dtype=np.float64)
_TICK_SIZES = np.array([1, 5, 10, 50, 100, 500, 1_000], dtype=np.float64)
_EPSILON = 1e-9  # 3000 * 0.7 is 2100.0000000000005 in floating point; must not round up a tick


def _tick(price: FloatArray) -> FloatArray:
    return _TICK_SIZES[np.searchsorted(_TICK_BOUNDS, price, side="right")]


def _round_tick(price: FloatArray) -> FloatArray:
    tick = _tick(price)
    return np.round(price / tick) * tick


def _floor_tick(price: FloatArray) -> FloatArray:
    tick = _tick(price)
    return np.floor(price / tick + _EPSILON) * tick


def _ceil_tick(price: FloatArray) -> FloatArray:
    tick = _tick(price)
    return np.ceil(price / tick - _EPSILON) * tick


_calendar_lock = threading.Lock()


@functools.cache
def _krx_holidays() -> holidays.HolidayBase:
    return holidays.financial_holidays("XKRX")


def is_trading_day(day: dt.date) -> bool:
    """True when KRX trades on ``day``: a weekday not in ``holidays.financial_holidays("XKRX")``."""
    if day.weekday() >= 5:
        return False
    # The holidays object fills in each year on first use; that fill-in is not thread-safe.
    with _calendar_lock:
        return day not in _krx_holidays()


@functools.cache
def _is_trading_ordinal(ordinal: int) -> bool:
    return is_trading_day(dt.date.fromordinal(ordinal))


def _num(text: str) -> int:
    return int(text.replace(",", ""))


def _fmt(value: int) -> str:
    return f"{value:,}"


def _fluc_rt(change: int, previous: int) -> str:
    # KRX rounds half away from zero; integer arithmetic avoids float's half-to-even on binary fractions.
    hundredths = (abs(change) * 20_000 + previous) // (2 * previous)
    sign = "-" if change < 0 else ""
    return f"{sign}{hundredths // 100}.{hundredths % 100:02d}"


def _current_datetime(day: dt.date) -> str:
    return f"{day:%Y.%m.%d} PM 06:00:00"


def _krx_now() -> str:
    return time.strftime("%Y.%m.%d %p %I:%M:%S")


class _SyntheticMarket:
    """The made-up prices of the template tickers on any trading day.

    The state of a day is the array of every template ticker's close at the end of that calendar day.
    The state of 2021-01-04 is the recorded close. A later trading day applies that day's return to the
    state of the day before. An earlier trading day undoes it. Non-trading days carry the state over.
    A day's random draws are seeded by its date alone, so the result does not depend on the order of
    requests.
    """

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows = rows
        n = len(rows)
        markets = np.array([row["MKT_ID"] for row in rows])
        self.close0 = np.array([_num(row["TDD_CLSPRC"]) for row in rows], dtype=np.float64)
        self.halted = np.array([row["ACC_TRDVOL"] == "0" for row in rows])
        self.volume0 = np.array([max(_num(row["ACC_TRDVOL"]), 1) for row in rows], dtype=np.float64)
        self.shares = [_num(row["LIST_SHRS"]) for row in rows]
        self.shares_array = np.array(self.shares, dtype=np.int64)
        self.limit = np.where(markets == "KNX", 0.15, 0.30)
        rng = np.random.default_rng([_SEED, 0])
        self.sigma = rng.uniform(0.008, 0.022, n) * np.where(markets == "STK", 1.0, 1.3)
        self._anchor = _ANCHOR.toordinal()
        self._states: dict[int, FloatArray] = {self._anchor: self.close0}
        self._recent: dict[int, FloatArray] = {}  # the last states asked for, oldest first
        self._lock = threading.Lock()

    def _shock(self, ordinal: int) -> FloatArray:
        n = len(self.rows)
        rng = np.random.default_rng([_SEED, ordinal, 0])
        normal = np.clip(rng.standard_normal(n), -4.0, 4.0)
        jump_here = rng.random(n) < _JUMP_PROBABILITY
        jump = rng.uniform(0.08, 0.32, n) * np.where(rng.random(n) < 0.5, -1.0, 1.0)
        return self.sigma * normal + np.where(jump_here, jump, 0.0)

    def lower_limit(self, previous: FloatArray) -> FloatArray:
        return np.maximum(_ceil_tick(previous * (1.0 - self.limit)), 1.0)

    def upper_limit(self, previous: FloatArray) -> FloatArray:
        return np.maximum(_floor_tick(previous * (1.0 + self.limit)), 1.0)

    def _forward(self, previous: FloatArray, ordinal: int) -> FloatArray:
        ret = self._shock(ordinal) - _REVERSION * np.log(previous / self.close0)
        ret = np.clip(ret, -self.limit, self.limit)
        close = np.clip(
            _round_tick(previous * (1.0 + ret)), self.lower_limit(previous), self.upper_limit(previous)
        )
        return np.where(self.halted, previous, np.maximum(close, 1.0))

    def _backward(self, close: FloatArray, ordinal: int) -> FloatArray:
        ret = self._shock(ordinal) + _REVERSION * np.log(close / self.close0)
        bound = self.limit - _BACKWARD_MARGIN
        ret = np.clip(ret, -bound, bound)
        previous = np.maximum(_round_tick(close / (1.0 + ret)), 1.0)
        return np.where(self.halted, close, previous)

    def _state(self, ordinal: int) -> FloatArray:
        """Closes at the end of calendar day ``ordinal``. Must hold ``self._lock``."""
        if ordinal in self._states:
            return self._states[ordinal]
        if ordinal in self._recent:
            return self._recent[ordinal]
        state = self._step_from_recent(ordinal)
        if state is None:
            state = self._walk(ordinal)
        self._recent[ordinal] = state
        if len(self._recent) > _RECENT_DAYS:
            del self._recent[next(iter(self._recent))]
        return state

    def _step_from_recent(self, ordinal: int) -> FloatArray | None:
        # A backfill asks for consecutive days: one step from yesterday's state, not a walk from a checkpoint.
        if ordinal > self._anchor and ordinal - 1 in self._recent:
            previous = self._recent[ordinal - 1]
            return self._forward(previous, ordinal) if _is_trading_ordinal(ordinal) else previous
        if ordinal < self._anchor and ordinal + 1 in self._recent:
            following = self._recent[ordinal + 1]
            return self._backward(following, ordinal + 1) if _is_trading_ordinal(ordinal + 1) else following
        return None

    def _walk(self, ordinal: int) -> FloatArray:
        anchor, step = self._anchor, _CHECKPOINT_DAYS
        if ordinal > anchor:
            k = (ordinal - anchor) // step
            while anchor + k * step not in self._states:
                k -= 1
            day = anchor + k * step
            state = self._states[day]
            while day < ordinal:
                day += 1
                if _is_trading_ordinal(day):
                    state = self._forward(state, day)
                if (day - anchor) % step == 0:
                    self._states[day] = state
        else:
            k = (anchor - ordinal) // step
            while anchor - k * step not in self._states:
                k -= 1
            day = anchor - k * step
            state = self._states[day]
            while day > ordinal:
                if _is_trading_ordinal(day):
                    state = self._backward(state, day)
                day -= 1
                if (anchor - day) % step == 0:
                    self._states[day] = state
        return state

    def previous_and_close(self, day: dt.date) -> tuple[FloatArray, FloatArray]:
        ordinal = day.toordinal()
        with self._lock:
            if ordinal > self._anchor:
                previous = self._state(ordinal - 1)
                return previous, self._forward(previous, ordinal)
            close = self._state(ordinal)
            return self._backward(close, ordinal), close

    def day_arrays(self, day: dt.date) -> dict[str, IntArray]:
        """Every template ticker's previous close and the day's open/high/low/close/volume/value, as
        served (halted tickers: their price arrays hold the close; volume and value are theirs)."""
        previous, close = self.previous_and_close(day)
        n = len(self.rows)
        rng = np.random.default_rng([_SEED, day.toordinal(), 1])
        gap = rng.standard_normal(n) * 0.4 * self.sigma
        up = np.abs(rng.standard_normal(n)) * 0.6 * self.sigma
        down = np.abs(rng.standard_normal(n)) * 0.6 * self.sigma
        volume_noise = np.exp(rng.standard_normal(n) * 0.5)

        lower, upper = self.lower_limit(previous), self.upper_limit(previous)
        open_ = np.clip(_round_tick(previous * (1.0 + gap)), lower, upper)
        body_high, body_low = np.maximum(open_, close), np.minimum(open_, close)
        high = np.maximum(np.minimum(_ceil_tick(body_high * (1.0 + up)), upper), body_high)
        low = np.minimum(np.maximum(np.maximum(_floor_tick(body_low * (1.0 - down)), lower), 1.0), body_low)
        realised = np.abs(close / previous - 1.0)
        factor = np.clip(volume_noise * (1.0 + 8.0 * realised), *_VOLUME_FACTOR_RANGE)
        volume = np.maximum(np.round(self.volume0 * factor), 1.0).astype(np.int64)
        arrays = {
            "previous": previous.astype(np.int64),
            "close": close.astype(np.int64),
            "open": np.where(self.halted, close, open_).astype(np.int64),
            "high": np.where(self.halted, close, high).astype(np.int64),
            "low": np.where(self.halted, close, low).astype(np.int64),
            "upper": upper.astype(np.int64),
            "lower": lower.astype(np.int64),
            "volume": np.where(self.halted, 0, volume),
        }
        c, h, lo = arrays["close"], arrays["high"], arrays["low"]
        arrays["value"] = arrays["volume"] * (h + lo + 2 * c) // 4
        return arrays

    def trading_rows(self, day: dt.date, indices: list[int]) -> list[dict[str, str]]:
        a = self.day_arrays(day)
        out: list[dict[str, str]] = []
        for i in indices:
            row = dict(self.rows[i])
            if self.halted[i]:
                row.update(_HALTED_FIELDS)
                out.append(row)
                continue
            p, c, o, h, lo, v = (
                int(a[key][i]) for key in ("previous", "close", "open", "high", "low", "volume")
            )
            change = c - p
            if change > 0:
                tp = "4" if c == int(a["upper"][i]) else "1"
            elif change < 0:
                tp = "5" if c == int(a["lower"][i]) else "2"
            else:
                tp = "3"
            row.update(
                TDD_CLSPRC=_fmt(c),
                FLUC_TP_CD=tp,
                CMPPREVDD_PRC=_fmt(change),
                FLUC_RT=_fluc_rt(change, p),
                TDD_OPNPRC=_fmt(o),
                TDD_HGPRC=_fmt(h),
                TDD_LWPRC=_fmt(lo),
                ACC_TRDVOL=_fmt(v),
                ACC_TRDVAL=_fmt(int(a["value"][i])),
                MKTCAP=_fmt(c * self.shares[i]),
            )
            out.append(row)
        return out
