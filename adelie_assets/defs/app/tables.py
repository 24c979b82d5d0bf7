"""The app's five tables, as its initial migration creates them (PostgreSQL; SQLite for the demo), and
the `market_daily_history` its narrative route reads, as its model declares it.

Only the columns listed here are ever written: the app's own migrations may add columns, indexes and a
`UNIQUE (title, event_year)` on `historical_cases`; they are left alone. Tables are created only where
missing, exactly as the initial migration would, so that the app's later migrations still apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

# jsonb in the app's database; JSON stored as text on SQLite.
JSON = sa.JSON().with_variant(JSONB(), "postgresql")

TABLE_NAMES = (
    "daily_briefings",
    "briefing_stocks",
    "historical_cases",
    "case_matches",
    "case_stock_relations",
    "market_daily_history",
)

# KRX's index codes, as the app's market_daily_history files them.
INDEX_CODES = {"KOSPI": "1001", "KOSDAQ": "2001"}
# The app's allowed values (its API filters movers by these).
SELECTION_REASONS = ("top_gainer", "top_loser", "high_volume")
RELATION_TYPES = ("main_subject", "related")
# case_matches.current_keyword: a keyword's title, as Home shows it and finds its case by.
KEYWORD_CHARS = 100
# The app's difficulty levels are its own; every generated case is written for beginners.
DIFFICULTY = "beginner"


@dataclass(frozen=True)
class AppTables:
    metadata: sa.MetaData
    daily_briefings: sa.Table
    briefing_stocks: sa.Table
    historical_cases: sa.Table
    case_matches: sa.Table
    case_stock_relations: sa.Table
    market_daily_history: sa.Table

    @property
    def all(self) -> tuple[sa.Table, ...]:
        return (
            self.daily_briefings,
            self.briefing_stocks,
            self.historical_cases,
            self.case_matches,
            self.case_stock_relations,
            self.market_daily_history,
        )


def app_tables(prefix: str = "") -> AppTables:
    """The five tables; `prefix` ('app_') when they share the warehouse, whose own `historical_cases`
    would otherwise collide with the app's."""
    metadata = sa.MetaData()
    briefings = sa.Table(
        f"{prefix}daily_briefings",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("briefing_date", sa.Date, nullable=False, unique=True),
        sa.Column("market_summary", sa.Text),
        sa.Column("top_keywords", JSON),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    stocks = sa.Table(
        f"{prefix}briefing_stocks",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("briefing_id", sa.Integer, sa.ForeignKey(briefings.c.id), nullable=False),
        sa.Column("stock_code", sa.String(10), nullable=False),
        sa.Column("stock_name", sa.String(100), nullable=False),
        sa.Column("change_rate", sa.Numeric(10, 2)),
        sa.Column("volume", sa.BigInteger),
        sa.Column("selection_reason", sa.String(50)),
        sa.Column("keywords", JSON),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    cases = sa.Table(
        f"{prefix}historical_cases",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("event_date", sa.Date),
        sa.Column("event_year", sa.Integer),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("full_content", sa.Text),
        sa.Column("keywords", JSON),
        sa.Column("source_urls", JSON),
        sa.Column("difficulty", sa.String(20), nullable=False),
        sa.Column("view_count", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    matches = sa.Table(
        f"{prefix}case_matches",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("current_keyword", sa.String(KEYWORD_CHARS), nullable=False),
        sa.Column("current_stock_code", sa.String(10)),
        sa.Column("matched_case_id", sa.Integer, sa.ForeignKey(cases.c.id), nullable=False),
        sa.Column("similarity_score", sa.Numeric(5, 4)),
        sa.Column("match_reason", sa.Text),
        sa.Column("matched_at", sa.DateTime, nullable=False),
    )
    relations = sa.Table(
        f"{prefix}case_stock_relations",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey(cases.c.id), nullable=False),
        sa.Column("stock_code", sa.String(10), nullable=False),
        sa.Column("stock_name", sa.String(100), nullable=False),
        sa.Column("relation_type", sa.String(50)),
        sa.Column("impact_description", sa.Text),
    )
    # The narrative route's market chart reads it (the latest five dates, index_code 1001 as KOSPI, any
    # other as KOSDAQ); the app declares it in its models (market_history.py) but no migration creates
    # it, so it is created here as that model declares it.
    market_history = sa.Table(
        f"{prefix}market_daily_history",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("index_code", sa.String(10), nullable=False),
        sa.Column("open", sa.Numeric(12, 2)),
        sa.Column("high", sa.Numeric(12, 2)),
        sa.Column("low", sa.Numeric(12, 2)),
        sa.Column("close", sa.Numeric(12, 2)),
        sa.Column("volume", sa.BigInteger),
    )
    return AppTables(metadata, briefings, stocks, cases, matches, relations, market_history)
