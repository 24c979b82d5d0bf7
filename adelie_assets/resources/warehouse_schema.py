"""The warehouse's tables, as the investing app reads them, and their creation."""

import time
import zlib

import sqlalchemy as sa
from sqlalchemy.engine import Engine

metadata = sa.MetaData()

market_data_table = sa.Table(
    "market_data",
    metadata,
    sa.Column("trade_date", sa.Date, primary_key=True),
    sa.Column("ticker", sa.String(12), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("market", sa.String(8), nullable=False),
    sa.Column("open", sa.BigInteger),
    sa.Column("high", sa.BigInteger),
    sa.Column("low", sa.BigInteger),
    sa.Column("close", sa.BigInteger),
    sa.Column("volume", sa.BigInteger),
    sa.Column("trading_value", sa.BigInteger),
    sa.Column("change_pct", sa.Float),
    sa.Column("market_cap", sa.BigInteger),
    sa.Column("halted", sa.Boolean, nullable=False),
)

historical_cases_table = sa.Table(
    "historical_cases",
    metadata,
    sa.Column("trade_date", sa.Date, primary_key=True),
    sa.Column("theme_rank", sa.Integer, primary_key=True),
    sa.Column("theme", sa.Text, nullable=False),
    sa.Column("theme_tickers", sa.JSON, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("event_year", sa.Integer, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("narrative", sa.JSON, nullable=False),
    sa.Column("related_tickers", sa.JSON, nullable=False),
    sa.Column("sync_rate", sa.Integer, nullable=False),
    sa.Column("key_insight", sa.Text, nullable=False),
    sa.Column("glossary", sa.JSON, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("prompt_version", sa.Text, nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("input_tokens", sa.Integer, nullable=False),
    sa.Column("output_tokens", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# Contract tables of issue 12/13 (notes: contract-12-13). market_indices is shared with the
# indices helper's `market_indices` asset.
market_indices_table = sa.Table(
    "market_indices",
    metadata,
    sa.Column("trade_date", sa.Date, primary_key=True),
    sa.Column("index_name", sa.String(8), primary_key=True),  # 'KOSPI' | 'KOSDAQ'
    sa.Column("open", sa.Float),
    sa.Column("high", sa.Float),
    sa.Column("low", sa.Float),
    sa.Column("close", sa.Float),
    sa.Column("change_pct", sa.Float),
    sa.Column("volume", sa.BigInteger),
    sa.Column("trading_value", sa.BigInteger),
    sa.Column("market_cap", sa.BigInteger),
)

# LLM answers by request hash: re-materializing a day whose inputs, prompt and model did not
# change costs no tokens.
llm_cache_table = sa.Table(
    "llm_cache",
    metadata,
    sa.Column("request_hash", sa.String(64), primary_key=True),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("prompt_version", sa.Text, nullable=False),
    sa.Column("response", sa.JSON, nullable=False),
    sa.Column("input_tokens", sa.Integer, nullable=False),
    sa.Column("output_tokens", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)


_SCHEMA_LOCK = zlib.crc32(b"adelie_assets.schema")


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def create_tables(engine: Engine) -> None:
    """Create missing tables; safe when several processes first meet an empty warehouse at once."""
    if is_postgres(engine):
        with engine.begin() as conn:  # DDL is transactional in Postgres: serialize it on a lock
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            metadata.create_all(conn)
        return
    for attempt in range(3):
        try:
            metadata.create_all(engine)
            return
        except sa.exc.OperationalError as exc:
            # Another process created a table between our check and our CREATE: look again.
            if "already exists" not in str(exc) or attempt == 2:
                raise
            time.sleep(0.2)


def lock_key(table: sa.Table) -> int:
    return zlib.crc32(f"adelie_assets.{table.name}".encode())
