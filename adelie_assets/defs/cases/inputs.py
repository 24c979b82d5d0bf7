"""What one day's cases are made of, read from the warehouse: the day's themes (daily_themes), the
analogs (market_analogs) and the index quotes (market_indices), as one CaseRequest per theme."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd
from dagster import Failure

from adelie_assets.defs.cases.prompt import CaseRequest, build_request
from adelie_assets.defs.cases.themes import Stock, Theme
from adelie_assets.resources.warehouse import (
    Warehouse,
    daily_themes_table,
    market_analogs_table,
    market_indices_table,
)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def theme_of(row: Any) -> Theme:
    stocks = tuple(
        Stock(
            ticker=s["ticker"],
            name=s["name"],
            market=s["market"],
            close=int(s["close"]),
            change_pct=float(s["change_pct"]),
            trading_value=int(s["trading_value"]),
            market_cap=int(s["market_cap"]),
            volume=int(s.get("volume") or 0),
        )
        for s in _json(row.stocks)
    )
    return Theme(rank=int(row.theme_rank), key=row.theme_key, label=row.label_en, stocks=stocks)


def _day_rows(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    return frame[frame["trade_date"] == day] if not frame.empty else frame


def case_requests(
    warehouse: Warehouse, days: list[date], language: str, per_subject: int
) -> dict[date, list[CaseRequest]]:
    themes = warehouse.read(daily_themes_table, days)
    analogs = warehouse.read(market_analogs_table, days)
    indices = warehouse.read(market_indices_table, days)
    requests: dict[date, list[CaseRequest]] = {}
    for day in days:
        missing = [
            name
            for name, frame in (
                ("daily_themes", themes),
                ("market_analogs", analogs),
                ("market_indices", indices),
            )
            if _day_rows(frame, day).empty
        ]
        if missing:
            raise Failure(
                f"{', '.join(missing)} has no rows for {day} in {warehouse.describe()}: materialize "
                f"{', '.join(missing)} for {day} first (the schedule and backfills do this in order).",
                allow_retries=False,
            )
        day_analogs = [
            {**row, "features": _json(row["features"])} for row in _day_rows(analogs, day).to_dict("records")
        ]
        day_indices = {r["index_name"]: r for r in _day_rows(indices, day).to_dict("records")}
        requests[day] = []
        for row in _day_rows(themes, day).sort_values("theme_rank").itertuples():
            theme = theme_of(row)
            request = build_request(day, theme, day_analogs, day_indices, language, per_subject)
            if not request.offered:
                raise Failure(
                    f"market_analogs of {day} offers no analog for theme {theme.rank} ({theme.label}): "
                    "re-materialize market_analogs for the day.",
                    allow_retries=False,
                )
            requests[day].append(request)
    return requests
