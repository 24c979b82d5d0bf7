"""Big market_data frames, built fast (vectorized), for faults that must land inside a long write.

Kept apart from the test modules so that a writer subprocess imports only this and the warehouse.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from adelie_assets.resources.krx import COLUMNS

DAY = date(2026, 11, 27)


def big_frame(rows: int, name: str = "Big", day: date = DAY) -> pd.DataFrame:
    """`rows` distinct tickers of `day`, every name starting with `name`, every 50th ticker halted."""
    i = np.arange(rows)
    close = 1_000 + (i * 37) % 200_000
    halted = i % 50 == 0
    frame = pd.DataFrame(
        {
            "trade_date": day,
            "ticker": [f"{x:06d}" for x in i],
            "name": [f"{name} {x}" for x in i],
            "market": np.where(i % 2 == 0, "KOSPI", "KOSDAQ"),
            "open": pd.array(close, dtype="Int64"),
            "high": pd.array(close + 10, dtype="Int64"),
            "low": pd.array(close - 10, dtype="Int64"),
            "close": close,
            "volume": np.where(halted, 0, (i % 1_000 + 1) * 100),
            "trading_value": np.where(halted, 0, (i % 1_000 + 1) * 100 * close),
            "change_pct": ((i % 599) - 299) / 10.0,
            "market_cap": close * 10_000_000,
            "halted": halted,
        },
        columns=COLUMNS,
    )
    frame.loc[halted, ["open", "high", "low"]] = pd.NA
    return frame
