"""A theme with its market_analogs rows and index quotes, shaped as the warehouse holds them."""

from __future__ import annotations

from datetime import date

from adelie_assets.defs.cases.themes import Stock, Theme

DAY = date(2026, 11, 27)


def theme() -> Theme:
    stocks = (
        Stock(
            "005930", "삼성전자", "KOSPI", 61_200, 12.34, 1_234_567_890_123, 365_000_000_000_000, 20_000_000
        ),
        Stock("005387", "현대차2우B", "KOSPI", 98_700, 8.5, 12_000_000_000, 9_000_000_000_000, 120_000),
    )
    return Theme(rank=1, key="kospi_gainers", label="Top gainers on KOSPI", stocks=stocks)


def analog_row(subject: str, rank: int, kind: str = "stock") -> dict:
    features = {
        "change_1d_pct": 11.8,
        "change_5d_pct": 15.25,
        "change_20d_pct": 22.4,
        "log_volume_ratio": 1.1314,
        "index_change_pct": 1.42,
    }
    return {
        "trade_date": DAY,
        "subject": subject,
        "analog_rank": rank,
        "analog_id": f"{subject}-{rank}",
        "subject_kind": kind,
        "subject_name": {"005930": "삼성전자", "005387": "현대차2우B"}.get(subject, subject),
        "theme_rank": 1 if kind == "stock" else None,
        "analog_ticker": "000660" if kind == "stock" else subject,
        "analog_name": "SK하이닉스" if kind == "stock" else subject,
        "analog_date": date(2020, 3, 19 + rank),
        "similarity": 87.46 - rank,
        "distance": 0.3,
        "features": {"today": features, "analog": features},
        "after_5_pct": -3.21,
        "after_20_pct": 8.46,
        "after_60_pct": 25.1 + rank,
        "index_after_5_pct": -1.5,
        "index_after_20_pct": 4.2,
        "index_after_60_pct": 12.75,
        "path_analog": [],
        "path_today": [],
    }


def analogs() -> list[dict]:
    return [analog_row(s, r) for s in ("005930", "005387") for r in (1, 2, 3)] + [
        analog_row(i, r, "index") for i in ("KOSPI", "KOSDAQ") for r in (1, 2, 3)
    ]


INDICES = {"KOSPI": {"close": 2612.34, "change_pct": 1.23}, "KOSDAQ": {"close": 845.1, "change_pct": -0.4}}
