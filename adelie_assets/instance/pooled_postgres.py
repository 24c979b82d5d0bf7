"""Dagster's Postgres storage (dagster-postgres), keeping one open connection per process.

dagster-postgres opens a new connection for every storage call outside the webserver (SQLAlchemy's
`NullPool`); a run worker storing a check evaluation makes about three, so connecting is ~30 % of
what one stored event costs (bench/README.md, "Round five"). Named in deploy/dagster.yaml as
`storage: custom:`, with dagster-postgres' own config; why it is safe: docs/dagster-notes.md,
"Pooled instance storage".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy.pool as db_pool
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config
from sqlalchemy.engine import Engine


def pooled_engine(postgres_url: str, token_provider: Any) -> Engine:
    return create_pg_engine(
        postgres_url,
        token_provider,
        isolation_level="AUTOCOMMIT",
        poolclass=db_pool.QueuePool,
        pool_size=1,
        # Beyond the one kept, a concurrent caller (the daemon's threads) connects and disconnects as
        # before instead of waiting for the pool.
        max_overflow=-1,
        # A restart of Postgres (or an idle timeout) kills the kept connection; it is tested and
        # replaced on checkout, so no storage call fails on it.
        pool_pre_ping=True,
    )


class PooledPostgresStorage(DagsterPostgresStorage):
    """`DagsterPostgresStorage` whose run, event-log and schedule storages each keep one connection."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            unpooled = getattr(storage, "_engine", None)
            if not isinstance(unpooled, Engine):
                raise TypeError(
                    f"{type(storage).__name__} has no SQLAlchemy engine in `_engine`: this dagster-postgres "
                    "is not the one PooledPostgresStorage was written for (pyproject.toml pins it); use "
                    "`storage: postgres:` in dagster.yaml instead"
                )
            # The same thing dagster-postgres' own optimize_for_webserver does for the webserver.
            storage._engine = pooled_engine(postgres_url, token_provider)  # type: ignore[attr-defined]
            unpooled.dispose()

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledPostgresStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
