"""The app's tables as its own migrations create them (PostgreSQL), for tests of publishing into an
existing app database: the initial migration, the later ones, and extras an app team might add."""

from __future__ import annotations

import psycopg2

INITIAL_MIGRATION = [
    """CREATE TABLE daily_briefings (
        id SERIAL PRIMARY KEY,
        briefing_date DATE NOT NULL UNIQUE,
        market_summary TEXT,
        top_keywords JSONB,
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE briefing_stocks (
        id SERIAL PRIMARY KEY,
        briefing_id INTEGER NOT NULL REFERENCES daily_briefings (id),
        stock_code VARCHAR(10) NOT NULL,
        stock_name VARCHAR(100) NOT NULL,
        change_rate NUMERIC(10, 2),
        volume BIGINT,
        selection_reason VARCHAR(50),
        keywords JSONB,
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE historical_cases (
        id SERIAL PRIMARY KEY,
        title VARCHAR(200) NOT NULL,
        event_date DATE,
        event_year INTEGER,
        summary TEXT NOT NULL,
        full_content TEXT,
        keywords JSONB,
        source_urls JSONB,
        difficulty VARCHAR(20) NOT NULL,
        view_count INTEGER NOT NULL,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE case_matches (
        id SERIAL PRIMARY KEY,
        current_keyword VARCHAR(100) NOT NULL,
        current_stock_code VARCHAR(10),
        matched_case_id INTEGER NOT NULL REFERENCES historical_cases (id),
        similarity_score NUMERIC(5, 4),
        match_reason TEXT,
        matched_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE case_stock_relations (
        id SERIAL PRIMARY KEY,
        case_id INTEGER NOT NULL REFERENCES historical_cases (id),
        stock_code VARCHAR(10) NOT NULL,
        stock_name VARCHAR(100) NOT NULL,
        relation_type VARCHAR(50),
        impact_description TEXT
    )""",
]
TREND_MIGRATION = [
    """ALTER TABLE briefing_stocks
        ADD COLUMN trend_days INTEGER,
        ADD COLUMN trend_type VARCHAR(20),
        ADD COLUMN catalyst TEXT,
        ADD COLUMN catalyst_url TEXT,
        ADD COLUMN catalyst_published_at TIMESTAMP,
        ADD COLUMN catalyst_source VARCHAR(100)""",
]
UNIQUE_MIGRATION = [
    "ALTER TABLE historical_cases ADD CONSTRAINT uq_historical_cases_title_year UNIQUE (title, event_year)",
]
# What an app team may add on its own: columns it fills, indexes, a table referencing cases.
APP_EXTRAS = [
    "ALTER TABLE historical_cases ADD COLUMN is_featured BOOLEAN NOT NULL DEFAULT false",
    "ALTER TABLE daily_briefings ADD COLUMN push_sent_at TIMESTAMP",
    "CREATE INDEX ix_case_matches_keyword ON case_matches (current_keyword, matched_at)",
    "CREATE INDEX ix_briefing_stocks_reason ON briefing_stocks (briefing_id, selection_reason)",
    """CREATE TABLE user_bookmarks (
        id SERIAL PRIMARY KEY,
        user_id INTEGER NOT NULL,
        case_id INTEGER NOT NULL REFERENCES historical_cases (id)
    )""",
]


def apply(dsn: str, statements: list[str]) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def app_migrations(unique: bool) -> list[str]:
    return [*INITIAL_MIGRATION, *TREND_MIGRATION, *(UNIQUE_MIGRATION if unique else []), *APP_EXTRAS]
