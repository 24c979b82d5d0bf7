"""The warehouse rows the app feed reads, written straight from notes/contract-12-13.md (market_indices,
daily_themes, market_analogs, v2 historical_cases) plus market_data, for tests that do not run the
upstream assets. The tables are the warehouse's own declarations (resources/warehouse_schema.py)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from adelie_assets.resources.krx import COLUMNS
from adelie_assets.resources.warehouse import Warehouse
from adelie_assets.resources.warehouse_schema import (
    create_tables,
    daily_themes_table,
    historical_cases_table,
    market_analogs_table,
    market_indices_table,
)

KOSPI = ["삼성전자", "SK하이닉스", "현대차", "기아", "LG에너지솔루션", "POSCO홀딩스", "셀트리온", "NAVER"]
KOSDAQ = ["에코프로", "에코프로비엠", "알테오젠", "HLB", "리가켐바이오", "삼천당제약", "클래시스", "펄어비스"]
THEMES = [
    ("kospi_gainers", "코스피 급등주", "KOSPI gainers", "급등주", "top_gainer"),
    ("kosdaq_gainers", "코스닥 급등주", "KOSDAQ gainers", "급등주", "top_gainer"),
    ("kospi_losers", "코스피 급락주", "KOSPI losers", "급락주", "top_loser"),
    ("kosdaq_losers", "코스닥 급락주", "KOSDAQ losers", "급락주", "top_loser"),
    ("most_traded", "거래대금 상위", "Most traded", "거래량", "high_volume"),
]
SECTIONS = ["background", "mirroring", "difference", "devils_advocate", "simulation", "result", "action"]
GLOSSARY = [
    {"term": "공매도", "definition": "주식을 빌려 판 뒤 나중에 사서 갚는 거래."},
    {"term": "PER", "definition": "주가를 주당순이익으로 나눈 값."},
]


@dataclass
class UpstreamDay:
    day: date
    market: pd.DataFrame
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def case(self, rank: int) -> dict[str, Any]:
        return next(r for r in self.rows["historical_cases"] if r["theme_rank"] == rank)

    def analog(self, rank: int) -> dict[str, Any]:
        analog_id = self.case(rank)["analog_id"]
        return next(r for r in self.rows["market_analogs"] if r["analog_id"] == analog_id)


def _ticker(market: str, i: int) -> str:
    return f"{1 if market == 'KOSPI' else 2}{i:05d}"


def _path(anchor: date, close: float, low: int, high: int, slope: float) -> list[dict[str, Any]]:
    points = []
    for offset in range(low, high + 1):
        value = round(close * (1 + slope * offset / 100), 2)
        points.append(
            {
                "offset": offset,
                "date": str(anchor + timedelta(days=offset)),
                "close": value,
                "pct": round((value / close - 1) * 100, 4),
            }
        )
    return points


def upstream_day(
    day: date, *, title_suffix: str = "", shared_title: str | None = None, themes_of: date | None = None
) -> UpstreamDay:
    """A day of upstream rows; lead stocks rotate with the day so that two days differ.

    `title_suffix` changes every case title (a re-generated day); `shared_title` gives theme 1 a title
    and year another day can share; `themes_of` gives the day the same stocks in the same themes as
    that day (the same leaders day after day), with the day's own prices."""
    k = day.toordinal()
    r = (themes_of or day).toordinal() % 8
    names = {"KOSPI": KOSPI[r:] + KOSPI[:r], "KOSDAQ": KOSDAQ[r:] + KOSDAQ[:r]}
    market_rows = []
    for market in ("KOSPI", "KOSDAQ"):
        pool = KOSPI if market == "KOSPI" else KOSDAQ
        for i, name in enumerate(pool):
            position = names[market].index(name)
            change = [29.9, 15.2, 9.1, -12.4, -8.8, -6.1, 1.2, 0.4][position]
            close = 10_000 + 1_000 * i + 10 * (k % 50)
            volume = 1_000_000 * (8 - position) + (k % 1000)
            market_rows.append(
                {
                    "trade_date": day,
                    "ticker": _ticker(market, i),
                    "name": name,
                    "market": market,
                    "open": close,
                    "high": close + 100,
                    "low": close - 100,
                    "close": close,
                    "volume": volume,
                    "trading_value": volume * close * (30 if position == 6 else 1),
                    "change_pct": change,
                    "market_cap": close * 100_000_000,
                    "halted": False,
                }
            )
    market = pd.DataFrame(market_rows, columns=COLUMNS)
    by_name = {r["name"]: r for r in market_rows}

    def stock(name: str) -> dict[str, Any]:
        r = by_name[name]
        return {key: r[key] for key in ("ticker", "name", "market", "close", "change_pct", "volume")} | {
            "trading_value": r["trading_value"],
            "market_cap": r["market_cap"],
        }

    picks = [
        [names["KOSPI"][i] for i in (0, 1, 2)],
        [names["KOSDAQ"][i] for i in (0, 1, 2)],
        [names["KOSPI"][i] for i in (3, 4, 5)],
        [names["KOSDAQ"][i] for i in (3, 4, 5)],
        [names["KOSPI"][6], names["KOSDAQ"][6], names["KOSPI"][7]],
    ]
    themes, analogs, cases = [], [], []
    for rank, ((key, label_ko, label_en, category, reason), chosen) in enumerate(
        zip(THEMES, picks, strict=True), start=1
    ):
        stocks = [stock(n) for n in chosen]
        lead = stocks[0]
        themes.append(
            {
                "trade_date": day,
                "theme_rank": rank,
                "theme_key": key,
                "label_ko": label_ko,
                "label_en": label_en,
                "category": category,
                "selection_reason": reason,
                "stocks": stocks,
            }
        )
        analog_date = date(2014 + rank, 3, 2 + rank)
        similarity = 70 + rank * 3.7 + (k % 5)
        slope = 0.8 if lead["change_pct"] > 0 else -0.6
        analog_id = f"{lead['ticker']}-1"
        analogs.append(
            {
                "trade_date": day,
                "subject": lead["ticker"],
                "analog_rank": 1,
                "analog_id": analog_id,
                "subject_kind": "stock",
                "subject_name": lead["name"],
                "theme_rank": rank,
                "analog_ticker": lead["ticker"],
                "analog_name": lead["name"],
                "analog_date": analog_date,
                "similarity": similarity,
                "distance": round(1 - similarity / 100, 4),
                "features": {
                    "today": {
                        "change_1d_pct": lead["change_pct"],
                        "change_20d_pct": 31.5,
                        "log_volume_ratio": 1.2,
                    },
                    "analog": {
                        "change_1d_pct": lead["change_pct"] - 2,
                        "change_20d_pct": 27.0,
                        "log_volume_ratio": 0.9,
                    },
                },
                "after_5_pct": 4.1 * rank,
                "after_20_pct": -3.3 * rank,
                "after_60_pct": 12.0,
                "index_after_5_pct": 0.5,
                "index_after_20_pct": 1.5,
                "index_after_60_pct": 3.0,
                "path_analog": _path(analog_date, 8_000 + rank, -20, 60, slope),
                "path_today": _path(day, float(lead["close"]), -20, 0, slope),
                "history_start": date(2015, 1, 2),
                "history_years": 10.9,
            }
        )
        title = (
            shared_title
            if (shared_title and rank == 1)
            else (f"{analog_date.year}년 {lead['name']} {label_ko} 국면{title_suffix}")
        )
        narrative = {
            name: {
                "bullets": [f"{name} 요점 {i}: 공매도와 PER을 봅니다" for i in range(1, 4)],
                "content": f"{name} 본문: {lead['name']}의 공매도 잔고와 PER 변화.",
            }
            for name in SECTIONS
        }
        cases.append(
            {
                "trade_date": day,
                "theme_rank": rank,
                "theme_key": key,
                "theme_label": label_ko,
                "theme_tickers": [s["ticker"] for s in stocks],
                "title": title,
                "summary": f"{analog_date.year}년 {lead['name']}의 움직임이 오늘과 닮았습니다.",
                "analog_id": analog_id,
                "event_date": analog_date,
                "event_year": analog_date.year,
                "sync_rate": round(similarity),
                "related_tickers": [lead["ticker"]],  # as historical_cases writes it for a stock subject
                "outcome": {"after_5_pct": 4.1 * rank, "after_20_pct": -3.3 * rank, "after_60_pct": 12.0},
                "narrative": narrative,
                "comparison": {
                    "past_label": f"{analog_date.year}년 {lead['name']}",
                    "present_label": f"{day.year}년 {lead['name']}",
                    "past_metric": {
                        "value": 8_000 + rank,
                        "company": lead["name"],
                        "metric_name": "종가",
                        "year": analog_date.year,
                    },
                    "present_metric": {"value": lead["close"], "metric_name": "종가"},
                },
                "key_insight": "거래량이 함께 늘어난 급등은 오래 갔습니다.",
                "glossary": GLOSSARY,
                "language": "ko",
                "model": "fake-model",
                "prompt_version": "historical_case_v2",
                "request_hash": hashlib.sha256(f"{day}{rank}{title}".encode()).hexdigest(),
                "input_tokens": 1000,
                "output_tokens": 500,
            }
        )
    indices = [
        {
            "trade_date": day,
            "index_name": name,
            "open": close,
            "high": close + 10,
            "low": close - 10,
            "close": close,
            "change_pct": change,
            "volume": 1_000_000,
            "trading_value": 10**13,
            "market_cap": 10**15,
        }
        for name, close, change in (("KOSPI", 2501.23 + k % 7, 0.52), ("KOSDAQ", 712.40, -0.31))
    ]
    return UpstreamDay(
        day,
        market,
        {
            "market_indices": indices,
            "daily_themes": themes,
            "market_analogs": analogs,
            "historical_cases": cases,
        },
    )


_TABLES = {
    t.name: t
    for t in (market_indices_table, daily_themes_table, market_analogs_table, historical_cases_table)
}


def write_upstream(warehouse_url: str, upstream: UpstreamDay) -> Warehouse:
    """Write (replace) the day's upstream rows into tables created as the warehouse creates them."""
    engine = sa.create_engine(warehouse_url)
    try:
        create_tables(engine)
        with engine.begin() as conn:
            for name, rows in upstream.rows.items():
                table = _TABLES[name]
                conn.execute(table.delete().where(table.c.trade_date == upstream.day))
                if rows:
                    conn.execute(table.insert(), rows)
    finally:
        engine.dispose()
    warehouse = Warehouse(url=warehouse_url)
    warehouse.replace_market_data([upstream.day], upstream.market)
    return warehouse
