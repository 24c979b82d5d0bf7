"""The reads the investing app makes, as SQL on its PostgreSQL database (what its pages need)."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

APP_TABLES = (
    "daily_briefings",
    "briefing_stocks",
    "historical_cases",
    "case_matches",
    "case_stock_relations",
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
    """Every row of the five tables (all columns, the app's extras included), for before/after checks."""
    return {
        table: [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id"))]
        for table in APP_TABLES
    }
