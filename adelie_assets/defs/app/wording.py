"""Numbers and names as the app's Korean readers expect them: `1.2조원`, `+0.52%`, a stock's name."""

from __future__ import annotations

from adelie_assets.defs.app.inputs import DayInputs
from adelie_assets.defs.app.markup import plain_text


def krw(value: float | int | None) -> str:
    if value is None:
        return "-"
    amount = float(value)
    if abs(amount) >= 1e12:
        return f"{amount / 1e12:,.1f}조원"
    if abs(amount) >= 1e8:
        return f"{amount / 1e8:,.0f}억원"
    return f"{amount:,.0f}원"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{float(value):+.2f}%"


def stock_name(inputs: DayInputs, ticker: str, fallback: str | None = None) -> str:
    row = inputs.market.get(ticker)
    return plain_text((row or {}).get("name") or fallback or ticker, 100) or ticker
