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
        # The analog's day (2020-03-20..22) is in the post-COVID rally (episodes.toml).
        "regime": {
            "today": {"index": "KOSPI", "from_250d_high_pct": -3.1, "change_1y_pct": 12.4},
            "analog": {"index": "KOSPI", "from_250d_high_pct": -31.52, "change_1y_pct": -28.2},
            "after_60": {
                "analog": {"lowest_pct": -8.5, "lowest_day": 7, "highest_pct": 31.25, "highest_day": 58},
                "index": {"lowest_pct": -4.0, "lowest_day": 12, "highest_pct": 16.1, "highest_day": 55},
            },
            "size_tier": {"today": "mega", "analog": "mega"}
            if kind == "stock"
            else {"today": None, "analog": None},
            "episode": {
                "episode_id": "covid_rally_2020",
                "episode_name_ko": "코로나19 이후 동학개미 상승장",
                "episode_name_en": "Post-COVID retail-driven rally",
                "episode_start": "2020-03-19",
                "episode_end": "2021-07-06",
            },
        },
        "analog_market_cap": 55_130_000_000_000 if kind == "stock" else None,
    }


def analogs() -> list[dict]:
    return [analog_row(s, r) for s in ("005930", "005387") for r in (1, 2, 3)] + [
        analog_row(i, r, "index") for i in ("KOSPI", "KOSDAQ") for r in (1, 2, 3)
    ]


INDICES = {"KOSPI": {"close": 2612.34, "change_pct": 1.23}, "KOSDAQ": {"close": 845.1, "change_pct": -0.4}}


def write_case_upstream(warehouse: object, day: date, market: object, k: int = 3) -> None:
    """daily_themes (today's rules), market_indices and market_analogs rows for `day` of `market`
    (a market_data frame already written), so that historical_cases can run on its own."""
    import pandas as pd

    from adelie_assets.defs.cases.daily_themes import theme_rows
    from adelie_assets.defs.cases.themes import select_themes
    from adelie_assets.resources.warehouse import (
        daily_themes_table,
        market_analogs_table,
        market_indices_table,
    )

    themes = select_themes(market, 5, 3, 5_000_000_000)
    warehouse.replace_rows(daily_themes_table, [day], theme_rows(day, themes))  # type: ignore[attr-defined]
    indices = pd.DataFrame(
        [
            {"trade_date": day, "index_name": name, "open": v["close"], "high": v["close"], "low": v["close"],
             "close": v["close"], "change_pct": v["change_pct"], "volume": 1_000_000,
             "trading_value": 10**13, "market_cap": 10**15}
            for name, v in INDICES.items()
        ]
    )  # fmt: skip
    warehouse.replace_rows(market_indices_table, [day], indices)  # type: ignore[attr-defined]
    rows, seen = [], set()
    for theme_ in themes:
        for stock in theme_.stocks:
            if stock.ticker in seen:
                continue
            seen.add(stock.ticker)
            for rank in range(1, k + 1):
                row = analog_row(stock.ticker, rank)
                rows.append({**row, "trade_date": day, "subject_name": stock.name, "theme_rank": theme_.rank})
    for name in ("KOSPI", "KOSDAQ"):
        rows += [{**analog_row(name, rank, "index"), "trade_date": day} for rank in range(1, k + 1)]
    frame = pd.DataFrame(rows)
    frame["history_start"] = date(2015, 1, 2)
    frame["history_years"] = 10.0
    # replace_partition: replace_rows leaves out the columns with a server default (regime, market cap).
    warehouse.replace_partition(market_analogs_table, [day], frame)  # type: ignore[attr-defined]


def case_day_warehouse(url: str, day: date = DAY) -> object:
    """A warehouse holding `day`'s market_data (tests.builders.market_frame) and everything
    historical_cases reads for it."""
    from adelie_assets.resources.warehouse import Warehouse
    from tests.builders import market_frame

    warehouse = Warehouse(url=url)
    market = market_frame(day)
    warehouse.replace_market_data([day], market)
    write_case_upstream(warehouse, day, market)
    return warehouse
