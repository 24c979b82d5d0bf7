"""Dagster's own storage, chosen by the environment: Postgres in production, SQLite otherwise.

`dagster.yaml` at the repository root is the production instance, but Dagster's CLI also reads a
`dagster.yaml` from the current directory whenever DAGSTER_HOME is unset, so `dagster dev` or
`dagster definitions validate` run at the root would need Postgres settings. These three classes,
named as the run, event-log and schedule storage in `dagster.yaml`, keep one file for both:

- DAGSTER_PG_HOST set: dagster-postgres storages, connected from DAGSTER_PG_HOST, DAGSTER_PG_PORT,
  DAGSTER_PG_USER, DAGSTER_PG_PASSWORD and DAGSTER_PG_DB (a partial setting is an error, never a
  silent fallback);
- DAGSTER_PG_HOST unset: Dagster's embedded SQLite storages under $DAGSTER_HOME, or under
  `$ADELIE_STATE_DIR/dagster_home` when DAGSTER_HOME is unset too.

Each process (webserver, daemon, code server, run worker) rehydrates these classes from the
instance reference and chooses again from its own environment, which is the same deployment-wide.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.storage.event_log.base import EventLogStorage
from dagster._core.storage.runs.base import RunStorage
from dagster._core.storage.schedules.base import ScheduleStorage
from dagster._serdes import ConfigurableClass, ConfigurableClassData

from adelie_assets.settings import state_dir

REQUIRED_PG_VARS = ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_DB")


def postgres_url_from_env() -> str | None:
    """The Postgres URL for Dagster's storage, or None when DAGSTER_PG_HOST is not set."""
    if not os.environ.get("DAGSTER_PG_HOST"):
        return None
    missing = [name for name in REQUIRED_PG_VARS if not os.environ.get(name)]
    if missing:
        raise DagsterInvariantViolationError(
            f"DAGSTER_PG_HOST is set but {', '.join(missing)} not: set DAGSTER_PG_HOST, DAGSTER_PG_PORT, "
            "DAGSTER_PG_USER, DAGSTER_PG_PASSWORD and DAGSTER_PG_DB for Postgres, or none for SQLite."
        )
    port = os.environ.get("DAGSTER_PG_PORT") or "5432"
    if not port.isdigit():
        raise DagsterInvariantViolationError(f"DAGSTER_PG_PORT must be a port number, not {port!r}.")
    url = sa.URL.create(
        "postgresql+psycopg2",  # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, not shipped here
        username=os.environ["DAGSTER_PG_USER"],
        password=os.environ.get("DAGSTER_PG_PASSWORD") or None,
        host=os.environ["DAGSTER_PG_HOST"],
        port=int(port),
        database=os.environ["DAGSTER_PG_DB"],
    )
    return url.render_as_string(hide_password=False)


def sqlite_root() -> Path:
    root = (
        Path(os.environ["DAGSTER_HOME"]) if os.environ.get("DAGSTER_HOME") else state_dir() / "dagster_home"
    )
    root.mkdir(parents=True, exist_ok=True)
    return root


class _Selected(ConfigurableClass):
    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {}

    @property
    def inst_data(self) -> ConfigurableClassData | None:  # pragma: no cover - never instantiated
        return None


class EnvRunStorage(_Selected, RunStorage):
    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> RunStorage:
        url = postgres_url_from_env()
        if url:
            from dagster_postgres import PostgresRunStorage

            return PostgresRunStorage(url, inst_data=inst_data)
        from dagster._core.storage.runs import SqliteRunStorage

        return SqliteRunStorage.from_local(str(sqlite_root() / "history"), inst_data=inst_data)


class EnvEventLogStorage(_Selected, EventLogStorage):
    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> EventLogStorage:
        url = postgres_url_from_env()
        if url:
            from dagster_postgres import PostgresEventLogStorage

            return PostgresEventLogStorage(url, inst_data=inst_data)
        from dagster._core.storage.event_log import SqliteEventLogStorage

        return SqliteEventLogStorage(str(sqlite_root() / "history" / "runs"), inst_data=inst_data)


class EnvScheduleStorage(_Selected, ScheduleStorage):
    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> ScheduleStorage:
        url = postgres_url_from_env()
        if url:
            from dagster_postgres import PostgresScheduleStorage

            return PostgresScheduleStorage(url, inst_data=inst_data)
        from dagster._core.storage.schedules import SqliteScheduleStorage

        return SqliteScheduleStorage.from_local(str(sqlite_root() / "schedules"), inst_data=inst_data)
