"""The warehouse rows one day's feed is made of (tables of the contract in notes/contract-12-13.md):
daily_themes, historical_cases, market_analogs, market_data and market_indices of the partition.

Read with plain SQL so that the same code reads SQLite (JSON as text, dates as text) and Postgres.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


class AppFeedError(Exception):
    """The day cannot be published; the message says what is missing or wrong and what to do."""


@dataclass(frozen=True)
class DayInputs:
    day: date
    themes: list[dict[str, Any]]  # daily_themes rows, by theme_rank
    cases: dict[int, dict[str, Any]]  # historical_cases rows by theme_rank
    analogs: dict[str, dict[str, Any]]  # market_analogs rows by analog_id
    market: dict[str, dict[str, Any]]  # market_data rows by ticker (the tickers the feed mentions)
    indices: dict[str, dict[str, Any]]  # market_indices rows by index_name; empty when missing
    missing_indices: str | None = None  # why there is no market summary


_JSON_COLUMNS = {
    "stocks",
    "theme_tickers",
    "related_tickers",
    "outcome",
    "narrative",
    "comparison",
    "glossary",
    "features",
    "path_analog",
    "path_today",
    "regime",
}
_DATE_COLUMNS = {"trade_date", "event_date", "analog_date", "history_start"}
# What the feed reads of each table (notes/contract-12-13.md).
_REQUIRED = {
    "daily_themes": ("theme_rank", "label_ko", "category", "selection_reason", "stocks"),
    "historical_cases": (
        "theme_rank",
        "title",
        "summary",
        "analog_id",
        "event_date",
        "event_year",
        "sync_rate",
        "related_tickers",
        "narrative",
        "comparison",
        "key_insight",
        "glossary",
    ),
    "market_analogs": (
        "analog_id",
        "subject",
        "subject_kind",
        "subject_name",
        "analog_ticker",
        "analog_name",
        "analog_date",
        "features",
        "path_analog",
        "path_today",
        "after_5_pct",
        "after_20_pct",
        "after_60_pct",
        "index_after_5_pct",
        "index_after_20_pct",
        "index_after_60_pct",
    ),
    "market_data": ("ticker", "name", "close", "change_pct", "trading_value"),
    "market_indices": ("index_name", "close", "change_pct"),
}


def _normalized(row: sa.Row) -> dict[str, Any]:
    values = dict(row._mapping)
    for key, value in values.items():
        if key in _JSON_COLUMNS and isinstance(value, str | bytes):
            values[key] = json.loads(value)
        elif key in _DATE_COLUMNS and isinstance(value, str):
            values[key] = date.fromisoformat(value[:10])
    return values


def _rows(conn: Connection, table: str, day: date, order_by: str, **filters: Any) -> list[dict[str, Any]]:
    where = ["trade_date = :day"]
    statement_params: dict[str, Any] = {"day": day}
    expanding = []
    for column, values in filters.items():
        where.append(f"{column} IN :{column}")
        statement_params[column] = list(values)
        expanding.append(sa.bindparam(column, expanding=True))
    statement = sa.text(f"SELECT * FROM {table} WHERE {' AND '.join(where)} ORDER BY {order_by}")
    if expanding:
        statement = statement.bindparams(*expanding)
    try:
        result = conn.execute(statement, statement_params)
    except (sa.exc.ProgrammingError, sa.exc.OperationalError) as exc:
        missing_table = getattr(exc.orig, "pgcode", None) == "42P01" or "no such table" in str(exc)
        if not missing_table:
            raise
        raise AppFeedError(f"The warehouse has no table {table}: materialize {table} first.") from None
    rows = [_normalized(row) for row in result]
    absent = [c for c in _REQUIRED[table] if rows and c not in rows[0]]
    if absent:
        raise AppFeedError(
            f"The warehouse's {table} has no column(s) {', '.join(absent)} (an older layout): "
            f"re-materialize {table} with the current code first."
        )
    return rows


def read_day(conn: Connection, day: date) -> DayInputs:
    """Everything the day's feed needs, or an AppFeedError naming the asset to materialize first."""
    themes = _rows(conn, "daily_themes", day, "theme_rank")
    if not themes:
        raise AppFeedError(f"daily_themes has no rows for {day}: materialize daily_themes for {day} first.")
    cases = {int(r["theme_rank"]): r for r in _rows(conn, "historical_cases", day, "theme_rank")}
    missing = [t["theme_rank"] for t in themes if int(t["theme_rank"]) not in cases]
    if missing:
        raise AppFeedError(
            f"historical_cases of {day} has no case for theme rank(s) {', '.join(map(str, missing))}: "
            f"materialize historical_cases for {day} (after daily_themes) first."
        )
    analog_ids = sorted({str(c["analog_id"]) for c in cases.values()})
    analogs = {str(r["analog_id"]): r for r in _rows(conn, "market_analogs", day, "subject, analog_rank")}
    unknown = [a for a in analog_ids if a not in analogs]
    if unknown:
        raise AppFeedError(
            f"historical_cases of {day} refers to analog(s) {', '.join(unknown)} that market_analogs of "
            f"{day} does not have: re-materialize market_analogs and historical_cases for {day}."
        )
    tickers: set[str] = set()
    for theme in themes:
        tickers.update(str(s["ticker"]) for s in theme["stocks"])
    for case in cases.values():
        tickers.update(str(t) for t in case.get("related_tickers") or [])
    for analog_id in analog_ids:
        tickers.add(str(analogs[analog_id]["subject"]))
    market = {str(r["ticker"]): r for r in _rows(conn, "market_data", day, "ticker", ticker=sorted(tickers))}
    if not market:
        raise AppFeedError(f"market_data has no rows for {day}: materialize market_data for {day} first.")
    # The market summary is one line of the briefing, not what the app's pages are made of: without
    # the indices (market_indices not deployed or not run for the day) the day is still published,
    # with no summary, and the non-blocking check `market_summary_present` says why.
    indices: dict[str, dict[str, Any]] = {}
    missing_indices = f"the warehouse has no table market_indices (materialize market_indices for {day})"
    if sa.inspect(conn).has_table("market_indices"):
        indices = {str(r["index_name"]): r for r in _rows(conn, "market_indices", day, "index_name")}
        absent = [name for name in ("KOSPI", "KOSDAQ") if name not in indices]
        missing_indices = (
            f"market_indices has no {' or '.join(absent)} row for {day} "
            f"(materialize market_indices for {day})"
            if absent
            else None
        )
        if absent:
            indices = {}
    return DayInputs(day, themes, cases, analogs, market, indices, missing_indices)
