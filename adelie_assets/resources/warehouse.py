"""The warehouse: the SQL database the investing app reads (SQLite by default, Postgres by URL).

Every write replaces whole partitions (trading days) in one transaction: delete that day's rows,
bulk-load the new ones, commit. A re-run never duplicates and a failed write leaves the previous
rows. On Postgres the load uses COPY, and writers of a table queue on an advisory lock so that two
runs of the same day wait for each other instead of colliding.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg2
import sqlalchemy as sa
from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError

from adelie_assets.settings import state_dir

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


class WarehouseError(Exception):
    """The warehouse cannot be reached or used. The message names what to fix."""


def default_url() -> str:
    return f"sqlite:///{state_dir() / 'warehouse.sqlite'}"


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages and metadata."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        return "<unparseable URL>"


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _normalize(url: str) -> sa.URL:
    try:
        parsed = sa.make_url(url.strip())
        parsed.port  # noqa: B018 - parsing is lazy for the port; force it here
    except (ArgumentError, ValueError):
        raise WarehouseError(
            "ADELIE_WAREHOUSE_URL is not a valid SQLAlchemy URL. Use e.g. "
            "postgresql+psycopg2://user:password@host:5432/dbname or sqlite:////absolute/path.sqlite."
        ) from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if parsed.drivername not in ("postgresql+psycopg2", "sqlite", "sqlite+pysqlite"):
        raise WarehouseError(
            f"ADELIE_WAREHOUSE_URL uses the unsupported driver {parsed.drivername!r}: "
            "use postgresql+psycopg2://... or sqlite:///...."
        )
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return parsed


def _create_engine(parsed: sa.URL) -> Engine:
    if parsed.drivername.startswith("sqlite"):
        # Writers wait for each other instead of failing at once with "database is locked".
        engine = sa.create_engine(parsed, connect_args={"timeout": 60})
    else:
        engine = sa.create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10, "application_name": "adelie_assets"},
        )
    return engine


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


COPY_SLICE_ROWS = 50_000


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _copy_into(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    integers = [c.name for c in table.columns if isinstance(c.type, sa.Integer) and c.name in frame.columns]
    # Nullable integers come in as floats ("101.0"), which COPY rejects for BIGINT.
    frame = frame.astype({name: "Int64" for name in integers})
    # In CSV, an unquoted empty field is NULL; FORCE_NOT_NULL keeps an empty text ('') as text.
    texts = [
        c.name for c in table.columns if isinstance(c.type, sa.String | sa.Text) and c.name in frame.columns
    ]
    force = f", FORCE_NOT_NULL ({_quoted(texts)})" if texts else ""
    statement = f'COPY "{table.name}" ({_quoted(frame.columns)}) FROM STDIN WITH (FORMAT csv{force})'
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        # Slices keep memory bounded by a slice, not the range (10 years as one CSV string is GBs);
        # they all belong to the caller's transaction.
        for start in range(0, len(frame), COPY_SLICE_ROWS):
            buffer = io.StringIO()
            frame.iloc[start : start + COPY_SLICE_ROWS].to_csv(buffer, index=False, header=False)
            buffer.seek(0)
            cursor.copy_expert(statement, buffer)
    finally:
        cursor.close()


def _root_cause(exc: BaseException) -> BaseException:
    """The first database error of a chain: a failed COPY is followed by a failed rollback on the same
    dead connection, and the rollback's "connection already closed" would hide what happened."""
    causes = [exc]
    while causes[-1].__context__ is not None and len(causes) < 10:
        causes.append(causes[-1].__context__)
    database_errors = [c for c in causes if isinstance(c, sa.exc.DBAPIError | psycopg2.Error)]
    return database_errors[-1] if database_errors else exc


def _reason(exc: BaseException) -> str:
    root = _root_cause(exc)
    original = getattr(root, "orig", None) or root
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else 'no detail'}"


@contextlib.contextmanager
def _translated(action: str, url: str) -> Iterator[None]:
    """Database failures as WarehouseErrors that say what failed, where, and what to check."""
    try:
        yield
    except (sa.exc.DBAPIError, psycopg2.Error) as exc:
        raise WarehouseError(
            f"{action} on the warehouse at {safe_url(url)} failed ({_reason(exc)}). Nothing was changed; "
            "check ADELIE_WAREHOUSE_URL and that the database server is up, then re-run the partition."
        ) from None


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # None, not NaN/NA, so that the database stores NULL.
    return [
        {
            key: (None if value is pd.NA or (isinstance(value, float) and value != value) else value)
            for key, value in row.items()
        }
        for row in frame.astype(object).to_dict("records")
    ]


class Warehouse(ConfigurableResource):
    """The app's SQL warehouse. Configure with ADELIE_WAREHOUSE_URL; default a SQLite file."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL (env ADELIE_WAREHOUSE_URL); default sqlite under ADELIE_STATE_DIR.",
    )

    @property
    def resolved_url(self) -> str:
        return self.url or default_url()

    def engine(self) -> Engine:
        url = self.resolved_url
        with _engines_lock:
            if url not in _engines:
                engine = _create_engine(_normalize(url))
                try:
                    _create_tables(engine)
                except (sa.exc.DBAPIError, psycopg2.Error) as exc:
                    engine.dispose()
                    raise WarehouseError(
                        f"Cannot reach the warehouse at {safe_url(url)}: {_reason(exc)}. "
                        "Check ADELIE_WAREHOUSE_URL and that the database server is up."
                    ) from None
                _engines[url] = engine
            return _engines[url]

    def describe(self) -> str:
        return safe_url(self.resolved_url)

    # --- writes --------------------------------------------------------------------------------

    def _replace(self, table: sa.Table, days: Sequence[date], frame: pd.DataFrame) -> int:
        engine = self.engine()
        with (
            _translated(f"Writing {table.name} for {_span(days)}", self.resolved_url),
            engine.begin() as conn,
        ):
            if is_postgres(engine):
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(table)})
            conn.execute(table.delete().where(table.c.trade_date.in_(list(days))))
            if not frame.empty:
                if is_postgres(engine) and not any(
                    isinstance(c.type, sa.JSON | sa.LargeBinary) for c in table.columns
                ):
                    _copy_into(conn, table, frame)
                else:
                    conn.execute(table.insert(), _records(frame))
        return len(frame)

    def replace_market_data(self, days: Sequence[date], frame: pd.DataFrame) -> int:
        """Replace the rows of `days` with `frame` (columns of the market_data table), atomically."""
        columns = [c.name for c in market_data_table.columns]
        return self._replace(market_data_table, days, frame[columns])

    def replace_rows(self, table: sa.Table, days: Sequence[date], frame: pd.DataFrame) -> int:
        """Replace the rows of `days` in `table` with `frame` (its columns), atomically."""
        columns = [c.name for c in table.columns if c.server_default is None]
        return self._replace(table, days, frame[columns] if not frame.empty else frame)

    def replace_historical_cases(self, days: Sequence[date], frame: pd.DataFrame) -> int:
        columns = [c.name for c in historical_cases_table.columns if c.name != "created_at"]
        return self._replace(historical_cases_table, days, frame[columns])

    # --- reads ---------------------------------------------------------------------------------

    def read(self, table: sa.Table, days: Iterable[date]) -> pd.DataFrame:
        query = table.select().where(table.c.trade_date.in_(list(days))).order_by(*table.primary_key.columns)
        with _translated(f"Reading {table.name}", self.resolved_url), self.engine().connect() as conn:
            result = conn.execute(query)
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        if not frame.empty:
            frame["trade_date"] = pd.to_datetime(frame["trade_date"]).dt.date
        return frame

    def read_market_data(self, days: Iterable[date]) -> pd.DataFrame:
        return self.read(market_data_table, days)

    def read_historical_cases(self, days: Iterable[date]) -> pd.DataFrame:
        return self.read(historical_cases_table, days)

    def count_rows(self, table: sa.Table, day: date) -> int:
        query = sa.select(sa.func.count()).select_from(table).where(table.c.trade_date == day)
        with _translated(f"Counting {table.name}", self.resolved_url), self.engine().connect() as conn:
            return int(conn.execute(query).scalar_one())

    # --- LLM cache -----------------------------------------------------------------------------

    def cached_llm_responses(self, hashes: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(hashes)
        if not wanted:
            return {}
        query = llm_cache_table.select().where(llm_cache_table.c.request_hash.in_(wanted))
        with _translated("Reading the LLM cache", self.resolved_url), self.engine().connect() as conn:
            return {row.request_hash: dict(row._mapping) for row in conn.execute(query)}

    def store_llm_responses(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        table = llm_cache_table
        with _translated("Writing the LLM cache", self.resolved_url), self.engine().begin() as conn:
            conn.execute(table.delete().where(table.c.request_hash.in_([r["request_hash"] for r in rows])))
            conn.execute(table.insert(), list(rows))


def _create_tables(engine: Engine) -> None:
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


def _lock_key(table: sa.Table) -> int:
    return zlib.crc32(f"adelie_assets.{table.name}".encode())


def _span(days: Sequence[date]) -> str:
    ordered = sorted(days)
    if not ordered:
        return "no days"
    return str(ordered[0]) if len(ordered) == 1 else f"{ordered[0]}..{ordered[-1]} ({len(ordered)} days)"


def dispose_engines() -> None:
    """Close every pooled connection (tests drop their scratch databases afterwards)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
