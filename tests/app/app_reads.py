"""The reads the investing app makes, as SQL on its PostgreSQL database (what its pages need)."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from adelie_assets.defs.app.narrative import SECTIONS

APP_TABLES = (
    "daily_briefings",
    "briefing_stocks",
    "historical_cases",
    "case_matches",
    "case_stock_relations",
    "market_daily_history",  # created by the feed: no migration of the app creates it
)


def home(conn: Connection, day: date) -> dict[str, Any]:
    """GET /keywords/today: the day's briefing (else the latest with keywords), each keyword with the
    latest match on or after the briefing date and its case's title, year and comparison."""
    briefing = conn.execute(
        sa.text(
            "SELECT id, briefing_date, market_summary, top_keywords FROM daily_briefings "
            "WHERE briefing_date = :d"
        ),
        {"d": day},
    ).one_or_none()
    if briefing is None:
        briefing = conn.execute(
            sa.text(
                "SELECT id, briefing_date, market_summary, top_keywords FROM daily_briefings "
                "WHERE top_keywords IS NOT NULL ORDER BY briefing_date DESC LIMIT 1"
            )
        ).one()
    keywords = []
    for keyword in briefing.top_keywords["keywords"]:
        match = conn.execute(
            sa.text(
                """SELECT cm.similarity_score, cm.matched_at, hc.id AS case_id, hc.title, hc.event_year,
                          (hc.keywords -> 'comparison' ->> 'sync_rate')::int AS sync_rate,
                          hc.keywords -> 'comparison' ->> 'past_label' AS past_label,
                          hc.keywords -> 'comparison' ->> 'present_label' AS present_label
                   FROM case_matches cm JOIN historical_cases hc ON hc.id = cm.matched_case_id
                   WHERE cm.current_keyword = :title AND cm.matched_at >= :d
                   ORDER BY cm.matched_at DESC, cm.id DESC LIMIT 1"""
            ),
            {"title": keyword["title"], "d": briefing.briefing_date},
        ).one_or_none()
        keywords.append({**keyword, "case": None if match is None else dict(match._mapping)})
    return {
        "briefing_id": briefing.id,
        "briefing_date": briefing.briefing_date,
        "market_summary": briefing.market_summary,
        "keywords": keywords,
    }


def case_page(conn: Connection, case_id: int) -> dict[str, Any]:
    row = conn.execute(
        sa.text(
            "SELECT id, title, event_date, event_year, summary, full_content, keywords, view_count "
            "FROM historical_cases WHERE id = :id"
        ),
        {"id": case_id},
    ).one()
    relations = conn.execute(
        sa.text(
            "SELECT stock_code, stock_name, relation_type, impact_description FROM case_stock_relations "
            "WHERE case_id = :id ORDER BY id"
        ),
        {"id": case_id},
    ).all()
    return {**dict(row._mapping), "relations": [dict(r._mapping) for r in relations]}


def movers(conn: Connection, briefing_id: int, selection_reason: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.text(
            "SELECT stock_code, stock_name, change_rate, volume, selection_reason FROM briefing_stocks "
            "WHERE briefing_id = :id AND selection_reason = :reason ORDER BY change_rate DESC"
        ),
        {"id": briefing_id, "reason": selection_reason},
    ).all()
    return [dict(r._mapping) for r in rows]


def state(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of the app's tables the feed writes (all columns, the app's extras included), for
    before/after checks."""
    return {
        table: [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id"))]
        for table in APP_TABLES
        if sa.inspect(conn).has_table(table)
    }


def briefing_page(conn: Connection, day: date) -> dict[str, Any] | None:
    """GET /briefing/today?date=: the day's briefing with its movers grouped by selection_reason.

    The route takes each stock's keywords as the list under the object key "keywords" of
    `briefing_stocks.keywords` (a JSON array there has no such key: the route fails, the page gets a
    500), and `top_keywords` as the list under `daily_briefings.top_keywords` "keywords"."""
    briefing = conn.execute(
        sa.text("SELECT id, market_summary, top_keywords FROM daily_briefings WHERE briefing_date = :d"),
        {"d": day},
    ).one_or_none()
    if briefing is None:
        return None
    groups: dict[str, list[dict[str, Any]]] = {"top_gainer": [], "top_loser": [], "high_volume": []}
    for stock in conn.execute(
        sa.text(
            "SELECT stock_code, stock_name, change_rate, volume, selection_reason, keywords "
            "FROM briefing_stocks WHERE briefing_id = :id"
        ),
        {"id": briefing.id},
    ):
        if stock.keywords and not isinstance(stock.keywords, dict):
            raise TypeError(
                f"briefing_stocks.keywords is a {type(stock.keywords).__name__}, read as an object"
            )
        shown = {
            "stock_code": stock.stock_code,
            "stock_name": stock.stock_name,
            "change_rate": float(stock.change_rate or 0),
            "volume": stock.volume or 0,
            "selection_reason": stock.selection_reason,
            "keywords": (stock.keywords or {}).get("keywords", []),
        }
        if stock.selection_reason in groups:
            groups[stock.selection_reason].append(shown)
    return {
        "date": day.strftime("%Y%m%d"),
        "market_summary": briefing.market_summary or "",
        "top_keywords": (briefing.top_keywords or {}).get("keywords", []),
        "gainers": groups["top_gainer"],
        "losers": groups["top_loser"],
        "high_volume": groups["high_volume"],
    }


# The narrative route's market chart: the latest rows of this table, two per trading day.
MARKET_HISTORY_TABLE = "market_daily_history"
KOSPI_INDEX_CODE = "1001"  # the route files every other index_code under "kosdaq"


def narrative_page(conn: Connection, case_id: int, days: int = 5) -> dict[str, Any]:
    """GET /narrative/{case_id}: the seven steps as stored in `historical_cases.keywords` "narrative",
    and `market_history`: the latest `days` dates of `market_daily_history` (index_code 1001 as
    "kospi", any other as "kosdaq"), None when the table is missing or empty."""
    keywords = conn.execute(
        sa.text("SELECT keywords FROM historical_cases WHERE id = :id"), {"id": case_id}
    ).scalar_one()
    narrative = keywords.get("narrative") or {}
    steps = {
        key: {name: (narrative.get(key) or {}).get(name, default) for name, default in STEP_FIELDS}
        for key in NARRATIVE_STEPS
    }
    history: dict[str, dict[str, Any]] = {}
    if sa.inspect(conn).has_table(MARKET_HISTORY_TABLE):
        rows = conn.execute(
            sa.text(
                f"SELECT date, index_code, open, high, low, close, volume FROM {MARKET_HISTORY_TABLE} "
                "ORDER BY date DESC LIMIT :n"
            ),
            {"n": days * 2},
        )
        for row in rows:
            index = "kospi" if str(row.index_code) == KOSPI_INDEX_CODE else "kosdaq"
            history.setdefault(str(row.date), {})[index] = {
                name: (None if not row._mapping[name] else float(row._mapping[name]))
                for name in ("open", "high", "low", "close")
            } | {"volume": int(row.volume) if row.volume else None}
    market_history = [{"date": d, **history[d]} for d in sorted(history, reverse=True)[:days]]
    return {"case_id": case_id, "steps": steps, "market_history": market_history or None}


# The seven steps of the narrative page: the names of the contract, in the order the page shows them.
NARRATIVE_STEPS = tuple(SECTIONS)
STEP_FIELDS = (("bullets", []), ("content", ""), ("chart", None))


class _Shown(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.marks: list[str] = []
        self._in_mark = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "mark":
            self._in_mark += 1
            self.marks.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark" and self._in_mark:
            self._in_mark -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_mark:
            self.marks[-1] += data


def shown_on_narrative_page(step: str, text: str) -> tuple[str, list[str]]:
    """What a reader sees of a step's content or bullet on the narrative page (Narrative.jsx), and the
    words shown as glossary terms: the first six steps render their text as HTML (a `<mark>` is a
    term the reader can tap), the action step prints it as React text, literally."""
    if step == "action":
        return text, []
    parser = _Shown()
    parser.feed(text)
    parser.close()
    return "".join(parser.text), parser.marks
