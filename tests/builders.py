"""Builders of realistic rows and of resources pointed at the fake servers."""

from __future__ import annotations

import random
from datetime import date

import pandas as pd

from adelie_assets.resources.krx import COLUMNS


def market_frame(day: date, per_market: int = 40, seed: int = 7) -> pd.DataFrame:
    """A day of market_data rows with a spread of moves and liquidity (some halted, some illiquid)."""
    rng = random.Random(f"{day}-{seed}")
    rows = []
    for m, market in enumerate(("KOSPI", "KOSDAQ")):
        for i in range(per_market):
            close = rng.randint(1_000, 200_000)
            volume = rng.choice([0, rng.randint(1_000, 5_000_000)])
            halted = volume == 0
            rows.append(
                {
                    "trade_date": day,
                    "ticker": f"{m}{i:05d}",
                    "name": f"{market} Co {i}",
                    "market": market,
                    "open": None if halted else close,
                    "high": None if halted else close + 10,
                    "low": None if halted else close - 10,
                    "close": close,
                    "volume": volume,
                    "trading_value": volume * close,
                    "change_pct": round(rng.uniform(-29.9, 29.9), 2),
                    "market_cap": close * 10_000_000,
                    "halted": halted,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def step_failures(result: object) -> dict[str, str]:
    """step key -> everything the UI shows a user about that step's failure (message and causes)."""
    failures: dict[str, str] = {}
    for event in result.all_events:  # type: ignore[attr-defined]
        if not event.is_step_failure:
            continue
        data = event.step_failure_data
        parts = []
        if data.user_failure_data and data.user_failure_data.description:
            parts.append(data.user_failure_data.description)
        error = data.error
        while error is not None:
            parts.append(error.message)
            error = error.cause
        failures[event.step_key] = "\n".join(parts)
    return failures


def executed_steps(result: object) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}  # type: ignore[attr-defined]


def krx_for(fake: object, **overrides: object) -> object:
    """A KRX resource pointed at a running FakeKrx, with test-sized timeouts and no polite delay."""
    from adelie_assets.resources.krx import KRX

    settings: dict[str, object] = {
        "krx_id": "demo-user",
        "krx_pw": "demo-pass",
        "base_url": fake.url,  # type: ignore[attr-defined]
        "delay_seconds": 0.0,
        "timeout_seconds": 2.0,
        "retry_backoff_seconds": 0.05,
    }
    settings.update(overrides)
    return KRX(**settings)
