"""The warehouse: the SQL database the investing app reads (SQLite by default, Postgres by URL).

Every write replaces whole partitions (trading days) in one transaction: delete that day's rows,
bulk-load the new ones, commit. A re-run never duplicates and a failed write leaves the previous
rows. On Postgres the load uses COPY, and writers of a table queue on an advisory lock so that two
runs of the same day wait for each other instead of colliding.
"""

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa
from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy.engine import Engine

from adelie_assets.resources.warehouse_engine import (
    WarehouseDataError,
    WarehouseError,
    default_url,
    dispose_engines,
    engine_for,
    safe_url,
    translated,
)
from adelie_assets.resources.warehouse_load import copy_into, records
from adelie_assets.resources.warehouse_schema import (
    analog_features_table,
    daily_themes_table,
    historical_cases_table,
    is_postgres,
    llm_cache_table,
    lock_key,
    market_analogs_table,
    market_data_table,
    market_indices_table,
)

__all__ = [
    "Warehouse",
    "WarehouseDataError",
    "WarehouseError",
    "analog_features_table",
    "daily_themes_table",
    "dispose_engines",
    "historical_cases_table",
    "is_postgres",
    "llm_cache_table",
    "market_analogs_table",
    "market_data_table",
    "market_indices_table",
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
        return engine_for(self.resolved_url)

    def describe(self) -> str:
        return safe_url(self.resolved_url)

    # --- writes --------------------------------------------------------------------------------

    def _replace(self, table: sa.Table, days: Sequence[date], frame: pd.DataFrame) -> int:
        engine = self.engine()
        with (
            translated(f"Writing {table.name} for {_span(days)}", self.resolved_url),
            engine.begin() as conn,
        ):
            if is_postgres(engine):
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(table)})
            conn.execute(table.delete().where(table.c.trade_date.in_(list(days))))
            if not frame.empty:
                # COPY's CSV has no JSON or bytea form: those tables take a multi-row INSERT.
                if is_postgres(engine) and not any(
                    isinstance(c.type, sa.JSON | sa.LargeBinary) for c in table.columns
                ):
                    copy_into(conn, table, frame)
                else:
                    conn.execute(table.insert(), records(frame))
        return len(frame)

    def replace_partition(self, table: sa.Table, days: Sequence[date], frame: pd.DataFrame) -> int:
        """Replace the rows of `days` with `frame`, atomically (validated first: lib/validate.py).

        Columns the table fills itself (a server default, e.g. created_at) may be left out of `frame`.
        """
        columns = [c.name for c in table.columns if c.server_default is None or c.name in frame.columns]
        # A day may have no rows (e.g. no analog found): it is still replaced, by nothing. The frame
        # is only narrowed when it has other columns: ten years of market_data are ~600 MiB a copy.
        if not frame.empty and list(frame.columns) != columns:
            frame = frame[columns]
        return self._replace(table, days, frame)

    def replace_market_data(self, days: Sequence[date], frame: pd.DataFrame) -> int:
        """Replace the rows of `days` with `frame` (columns of the market_data table), atomically."""
        return self.replace_partition(market_data_table, days, frame)

    def replace_rows(self, table: sa.Table, days: Sequence[date], frame: pd.DataFrame) -> int:
        """Replace the rows of `days` in `table` with `frame` (its columns), atomically."""
        columns = [c.name for c in table.columns if c.server_default is None]
        return self._replace(table, days, frame[columns] if not frame.empty else frame)

    def replace_historical_cases(self, days: Sequence[date], frame: pd.DataFrame) -> int:
        return self.replace_partition(historical_cases_table, days, frame)

    # --- reads ---------------------------------------------------------------------------------

    def read(self, table: sa.Table, days: Iterable[date]) -> pd.DataFrame:
        query = table.select().where(table.c.trade_date.in_(list(days))).order_by(*table.primary_key.columns)
        with translated(f"Reading {table.name}", self.resolved_url), self.engine().connect() as conn:
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
        with translated(f"Counting {table.name}", self.resolved_url), self.engine().connect() as conn:
            return int(conn.execute(query).scalar_one())

    # --- LLM cache -----------------------------------------------------------------------------

    def cached_llm_responses(self, hashes: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(hashes)
        if not wanted:
            return {}
        query = llm_cache_table.select().where(llm_cache_table.c.request_hash.in_(wanted))
        with translated("Reading the LLM cache", self.resolved_url), self.engine().connect() as conn:
            return {row.request_hash: dict(row._mapping) for row in conn.execute(query)}

    def store_llm_responses(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        table = llm_cache_table
        with translated("Writing the LLM cache", self.resolved_url), self.engine().begin() as conn:
            conn.execute(table.delete().where(table.c.request_hash.in_([r["request_hash"] for r in rows])))
            conn.execute(table.insert(), list(rows))


def _span(days: Sequence[date]) -> str:
    ordered = sorted(days)
    if not ordered:
        return "no days"
    return str(ordered[0]) if len(ordered) == 1 else f"{ordered[0]}..{ordered[-1]} ({len(ordered)} days)"
