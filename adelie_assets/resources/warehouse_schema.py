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
    sa.Column("theme_key", sa.Text, nullable=False),
    sa.Column("theme_label", sa.Text, nullable=False),
    sa.Column("theme_tickers", sa.JSON, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("analog_id", sa.Text, nullable=False),
    sa.Column("event_date", sa.Date, nullable=False),
    sa.Column("event_year", sa.Integer, nullable=False),
    sa.Column("sync_rate", sa.Integer, nullable=False),
    sa.Column("related_tickers", sa.JSON, nullable=False),
    sa.Column("outcome", sa.JSON, nullable=False),
    sa.Column("narrative", sa.JSON, nullable=False),
    sa.Column("comparison", sa.JSON, nullable=False),
    sa.Column("key_insight", sa.Text, nullable=False),
    sa.Column("glossary", sa.JSON, nullable=False),
    sa.Column("language", sa.String(2), nullable=False),
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

daily_themes_table = sa.Table(
    "daily_themes",
    metadata,
    sa.Column("trade_date", sa.Date, primary_key=True),
    sa.Column("theme_rank", sa.Integer, primary_key=True),
    sa.Column("theme_key", sa.Text, nullable=False),
    sa.Column("label_ko", sa.Text, nullable=False),
    sa.Column("label_en", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("selection_reason", sa.Text, nullable=False),
    sa.Column("stocks", sa.JSON, nullable=False),
)

# One row per (day, kind): the day's feature vectors as binary blocks (docs/analogs.md, "Storage").
analog_features_table = sa.Table(
    "analog_features",
    metadata,
    sa.Column("trade_date", sa.Date, primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),  # 'stock' | 'index'
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("codes", sa.LargeBinary, nullable=False),
    sa.Column("vectors", sa.LargeBinary, nullable=False),
)

market_analogs_table = sa.Table(
    "market_analogs",
    metadata,
    sa.Column("trade_date", sa.Date, primary_key=True),
    sa.Column("subject", sa.String(12), primary_key=True),
    sa.Column("analog_rank", sa.Integer, primary_key=True),
    sa.Column("analog_id", sa.Text, nullable=False),
    sa.Column("subject_kind", sa.String(8), nullable=False),
    sa.Column("subject_name", sa.Text, nullable=False),
    sa.Column("theme_rank", sa.Integer),
    sa.Column("analog_ticker", sa.String(12), nullable=False),
    sa.Column("analog_name", sa.Text, nullable=False),
    sa.Column("analog_date", sa.Date, nullable=False),
    sa.Column("similarity", sa.Float, nullable=False),
    sa.Column("distance", sa.Float, nullable=False),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("after_5_pct", sa.Float),
    sa.Column("after_20_pct", sa.Float),
    sa.Column("after_60_pct", sa.Float),
    sa.Column("index_after_5_pct", sa.Float),
    sa.Column("index_after_20_pct", sa.Float),
    sa.Column("index_after_60_pct", sa.Float),
    sa.Column("path_analog", sa.JSON, nullable=False),
    sa.Column("path_today", sa.JSON, nullable=False),
    sa.Column("history_start", sa.Date, nullable=False),
    sa.Column("history_years", sa.Float, nullable=False),
    # Added by issue 33 (NULL in rows written before, and where a writer leaves them out): where in
    # market history the analog and today sat, and the analog's market cap (docs/analogs.md).
    sa.Column("regime", sa.JSON, server_default=sa.text("NULL")),
    sa.Column("analog_market_cap", sa.BigInteger, server_default=sa.text("NULL")),
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


def _keep_v1_cases(conn: sa.Connection) -> None:
    """A warehouse from before issue 12 has a historical_cases table of the v1 shape (no analog_id):
    keep it, renamed historical_cases_v1, so that the v2 table can be created."""
    inspector = sa.inspect(conn)
    if not inspector.has_table("historical_cases") or inspector.has_table("historical_cases_v1"):
        return
    if "analog_id" not in {c["name"] for c in inspector.get_columns("historical_cases")}:
        conn.execute(sa.text("ALTER TABLE historical_cases RENAME TO historical_cases_v1"))


# Columns added after their table was first created: a warehouse created before gets them (NULL in its
# existing rows) when the platform first connects to it.
_ADDED_COLUMNS: tuple[tuple[sa.Table, str], ...] = (
    (market_analogs_table, "regime"),
    (market_analogs_table, "analog_market_cap"),
)


def _add_new_columns(conn: sa.Connection) -> None:
    inspector = sa.inspect(conn)
    for table, name in _ADDED_COLUMNS:
        if not inspector.has_table(table.name):
            continue
        if name in {c["name"] for c in inspector.get_columns(table.name)}:
            continue
        kind = table.c[name].type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f'ALTER TABLE "{table.name}" ADD COLUMN "{name}" {kind}'))


def create_tables(engine: Engine) -> None:
    """Create missing tables; safe when several processes first meet an empty warehouse at once."""
    if is_postgres(engine):
        with engine.begin() as conn:  # DDL is transactional in Postgres: serialize it on a lock
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            _keep_v1_cases(conn)
            _add_new_columns(conn)
            metadata.create_all(conn)
        return
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                _keep_v1_cases(conn)
                _add_new_columns(conn)
                metadata.create_all(conn)
            return
        except sa.exc.OperationalError as exc:
            # Another process created a table between our check and our CREATE: look again.
            if not any(m in str(exc) for m in ("already exists", "duplicate column")) or attempt == 2:
                raise
            time.sleep(0.2)


def lock_key(table: sa.Table) -> int:
    return zlib.crc32(f"adelie_assets.{table.name}".encode())
