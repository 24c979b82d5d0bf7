"""Listing events the fake KRX can serve on top of its synthetic prices, the way KRX shows them.

KRX's daily snapshot (MDCSTAT01501) is unadjusted: after a corporate action the close is in the new
shares, while CMPPREVDD_PRC and FLUC_RT are measured against the base price (기준가) KRX adjusted for
the action (TDD_CLSPRC - CMPPREVDD_PRC is that base). So from its effective day on, a ticker's prices
are divided by the action's share ratio, and each day's base is the synthetic previous close divided
alike: the first day's base is the adjusted previous close, the change stays the market's.

* `ShareChange(ticker, day, ratio)`: new shares per old share from `day` on. A 1:50 split (액면분할) is
  50, a 10:1 reverse split (액면병합, 감자) 1/10, a bonus issue (무상증자) of one new share for two is 3/2.
* `ReusedTicker(ticker, delisted_after, listed_on, name, price_ratio)`: the company is delisted after
  `delisted_after` (absent from the answers until `listed_on`), and another company (`name`, a new
  ISU_CD) is listed on the same code on `listed_on`, at prices x `price_ratio`; its first base is its
  listing price, so its FLUC_RT is against that, not against the old company's last close.
* `ZeroClose(ticker, day)`: the ticker's row of `day` with a close of "0" and every price field "0",
  as KRX lists a ticker that has no price (no trade and no base yet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from adelie_fakes.krx.prices import _fluc_rt, _fmt, _num, _round_tick

_PRICE_FIELDS = ("TDD_CLSPRC", "TDD_OPNPRC", "TDD_HGPRC", "TDD_LWPRC")


@dataclass(frozen=True)
class ShareChange:
    ticker: str
    day: dt.date
    ratio: Fraction  # new shares per old share


@dataclass(frozen=True)
class ReusedTicker:
    ticker: str
    delisted_after: dt.date
    listed_on: dt.date
    name: str
    price_ratio: Fraction


@dataclass(frozen=True)
class ZeroClose:
    ticker: str
    day: dt.date


Event = ShareChange | ReusedTicker | ZeroClose


def _scaled(value: int, ratio: Fraction) -> int:
    """`value` / `ratio` on the KRX tick grid (KRX rounds an adjusted base price to a tick)."""
    return max(1, int(_round_tick(np.array([float(Fraction(value) / ratio)]))[0])) if value else 0


def _rescale(row: dict[str, str], ratio: Fraction) -> None:
    """Prices of the row in shares `ratio` times as many: the close and the base divided alike."""
    if row["TDD_CLSPRC"] in ("-", ""):
        return
    close = _num(row["TDD_CLSPRC"])
    base = close - _num(row["CMPPREVDD_PRC"])
    for field in _PRICE_FIELDS:
        row[field] = _fmt(_scaled(_num(row[field]), ratio))
    new_close, new_base = _num(row["TDD_CLSPRC"]), _scaled(base, ratio)
    change = new_close - new_base
    row["CMPPREVDD_PRC"] = _fmt(change)
    row["FLUC_RT"] = _fluc_rt(change, new_base) if new_base else "0.00"
    if row["FLUC_TP_CD"] in ("1", "2", "3"):  # keep 0 (halted), 4 and 5 (the daily limits)
        row["FLUC_TP_CD"] = "1" if change > 0 else "2" if change < 0 else "3"
    shares = round(_num(row["LIST_SHRS"]) * ratio)
    row["LIST_SHRS"] = _fmt(shares)
    row["MKTCAP"] = _fmt(new_close * shares)
    if row["ACC_TRDVOL"] not in ("0", "-"):
        volume = max(1, round(_num(row["ACC_TRDVOL"]) * ratio))
        high, low = _num(row["TDD_HGPRC"]), _num(row["TDD_LWPRC"])
        row["ACC_TRDVOL"] = _fmt(volume)
        row["ACC_TRDVAL"] = _fmt(volume * (high + low + 2 * new_close) // 4)


def _zero(row: dict[str, str]) -> None:
    for field in (*_PRICE_FIELDS, "CMPPREVDD_PRC", "ACC_TRDVOL", "ACC_TRDVAL", "MKTCAP"):
        row[field] = "0"
    row["FLUC_RT"], row["FLUC_TP_CD"] = "0.00", "0"


def apply_events(rows: list[dict[str, str]], day: dt.date, events: Sequence[Event]) -> list[dict[str, str]]:
    """The rows of `day` as KRX serves them with `events` (in order); rows are copied, not changed."""
    by_ticker: dict[str, list[Event]] = {}
    for event in events:
        by_ticker.setdefault(event.ticker, []).append(event)
    out = []
    for original in rows:
        mine = by_ticker.get(original["ISU_SRT_CD"])
        if not mine:
            out.append(original)
            continue
        row, listed = dict(original), True
        for event in mine:
            if isinstance(event, ShareChange) and day >= event.day:
                _rescale(row, event.ratio)
            elif isinstance(event, ReusedTicker) and day > event.delisted_after:
                if day < event.listed_on:
                    listed = False
                    break
                _rescale(row, 1 / event.price_ratio)
                row["ISU_ABBRV"] = event.name
                row["ISU_CD"] = row["ISU_CD"][:-1] + ("1" if row["ISU_CD"][-1] != "1" else "2")
            elif isinstance(event, ZeroClose) and day == event.day:
                _zero(row)
        if listed:
            out.append(row)
    return out
