"""Dagster's Postgres storage (dagster-postgres) made cheaper per stored event, rows unchanged.

Costs of dagster-postgres 0.29 that dominated a run's Dagster-only time
(bench/README.md, "Round five"; why each change is safe: docs/dagster-notes.md, "Pooled instance
storage"):
- every storage call outside the webserver opens a new connection (SQLAlchemy's `NullPool`); a
  stored check evaluation makes about three. Here each storage keeps one.
- a planned check evaluation of a range run is serialized once per partition, identically, and each
  copy carries the whole partitions definition (~400 closure exclusions: 38 KB). Here it is
  serialized once.
- stored events ask Postgres's catalog whether the schema has a table or column (a check evaluation
  whether `asset_check_executions` exists, a materialization and a check evaluation which columns
  `asset_keys` has, a run event which columns `runs` has): a reflection query each time. Here a
  table or column found once is not asked for again.
- the planned events a run writes as it is created (8 materializations and 23 checks for the daily
  run) are handed over as one batch (DAGSTER_EVENT_BATCH_SIZE, set in the image) but stored one by
  one, three statements each, every planned check serialized twice. Here one transaction writes the
  same rows.
Named in deploy/dagster.yaml as `storage: custom:` with dagster-postgres' own config.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

import sqlalchemy.pool as db_pool
from dagster import _check as check
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationPlanned
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.event_log.migration import ASSET_KEY_INDEX_COLS
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._serdes import ConfigurableClassData, serialize_value
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.event_log.event_log import CHANNEL_NAME
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config
from sqlalchemy import text
from sqlalchemy.engine import Engine


def keep_one_connection(storage: object, postgres_url: str, token_provider: Any) -> None:
    """Give a dagster-postgres storage an engine that keeps one connection instead of none."""
    unpooled = getattr(storage, "_engine", None)
    if not isinstance(unpooled, Engine):
        raise TypeError(
            f"{type(storage).__name__} has no SQLAlchemy engine in `_engine`: this dagster-postgres is "
            "not the one PooledPostgresStorage was written for (pyproject.toml pins it); use "
            "`storage: postgres:` in dagster.yaml instead"
        )
    # What dagster-postgres' own optimize_for_webserver does for the webserver, plus:
    # max_overflow=-1: a concurrent caller (the daemon's threads) connects as before, never waits;
    # pool_pre_ping: a connection killed by a Postgres restart is replaced before it is used.
    storage._engine = create_pg_engine(  # type: ignore[attr-defined]
        postgres_url,
        token_provider,
        isolation_level="AUTOCOMMIT",
        poolclass=db_pool.QueuePool,
        pool_size=1,
        max_overflow=-1,
        pool_pre_ping=True,
    )
    unpooled.dispose()


_Probe = TypeVar("_Probe", bound=Callable[..., bool])


def remember_yes(probe: _Probe) -> _Probe:
    """A schema probe of dagster-postgres (has this table, this column?) whose "yes" is kept. Dagster's
    schema is only ever added to (`dagster instance migrate`); a "no" is asked again, so that a
    migration is seen without a restart."""

    @functools.wraps(probe)
    def remembered(self: object, *args: str) -> bool:
        found: set[tuple[str, ...]] = self.__dict__.setdefault("_schema_found", set())
        key = (probe.__name__, *args)
        if key not in found and probe(self, *args):
            found.add(key)
        return key in found

    return cast(_Probe, remembered)


class PooledPostgresRunStorage(PostgresRunStorage):
    """PostgresRunStorage asking for the columns and tables it has found only once."""

    has_run_stats_index_cols = remember_yes(PostgresRunStorage.has_run_stats_index_cols)
    has_backfill_id_column = remember_yes(PostgresRunStorage.has_backfill_id_column)
    has_bulk_actions_selector_cols = remember_yes(PostgresRunStorage.has_bulk_actions_selector_cols)
    has_bulk_action_job_name_column = remember_yes(PostgresRunStorage.has_bulk_action_job_name_column)
    has_backfill_tags_table = remember_yes(PostgresRunStorage.has_backfill_tags_table)


_PLANNED_EVENTS = frozenset(
    {DagsterEventType.ASSET_MATERIALIZATION_PLANNED, DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED}
)
# dagster-postgres' NOTIFY after each stored event ("preserved to support version skew"), one per row.
_NOTIFY_EACH = text("SELECT pg_notify(:channel, payload) FROM unnest(CAST(:payloads AS text[])) AS payload")
_MIGRATE_FOR_CHECKS = "Asset checks require a database schema migration. Run `dagster instance migrate`."


class PooledPostgresEventLogStorage(PostgresEventLogStorage):
    """PostgresEventLogStorage serializing a planned check evaluation once, storing a run's planned
    events in one transaction, and asking for the tables and columns it has found only once."""

    has_table = remember_yes(PostgresEventLogStorage.has_table)
    has_asset_key_col = remember_yes(PostgresEventLogStorage.has_asset_key_col)
    # A data migration marked complete stays so (`wipe` keeps the table); stock asks for each
    # stored materialization.
    has_secondary_index = remember_yes(PostgresEventLogStorage.has_secondary_index)

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        # SqlEventLogStorage's rows exactly (tests/reliability/test_dagster_storage_faults.py compares
        # them), with `serialize_value(event)` computed once instead of once per partition key.
        with self.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.insert().values(
                    self._planned_check_rows(event, event_id, serialize_value(event))
                )
            )

    def _planned_check_rows(
        self, event: EventLogEntry, event_id: int | None, serialized: str
    ) -> list[dict[str, Any]]:
        planned = cast(AssetCheckEvaluationPlanned, event.get_dagster_event().event_specific_data)
        subset = planned.partitions_subset
        return [
            dict(
                asset_key=planned.asset_key.to_string(),
                check_name=planned.check_name,
                partition=partition_key,
                run_id=event.run_id,
                execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
                evaluation_event=serialized,
                evaluation_event_timestamp=self._event_insert_timestamp(event),
                evaluation_event_storage_id=event_id,
            )
            for partition_key in (subset.get_partition_keys() if subset else [None])
        ]

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if not events or any(event.dagster_event_type not in _PLANNED_EVENTS for event in events):
            super().store_event_batch(events)
            return
        # The rows and notifications of `store_event` for each event, in one transaction: if it fails,
        # nothing is written and Dagster stores the events one by one (EventMethods.handle_new_event).
        # The schema is asked first: a probe inside the transaction would take a second connection.
        if any(e.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED for e in events):
            check.invariant(self.supports_asset_checks, _MIGRATE_FOR_CHECKS)
        self.has_secondary_index(ASSET_KEY_INDEX_COLS)
        rows = [self._event_to_row(event) for event in events]
        with self.index_transaction() as conn:
            stored = conn.execute(
                SqlEventLogStorageTable.insert()
                .values(rows)
                .returning(SqlEventLogStorageTable.c.run_id, SqlEventLogStorageTable.c.id)
            ).fetchall()
            # In VALUES order, as dagster-postgres' own batch of materializations assumes.
            payloads = [f"{run_id}_{event_id}" for run_id, event_id in stored]
            conn.execute(_NOTIFY_EACH, {"channel": CHANNEL_NAME, "payloads": payloads})
            check_rows, last_planned = [], {}
            for event, (_, event_id), row in zip(events, stored, rows, strict=True):
                if event.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
                    check_rows += self._planned_check_rows(event, event_id, row["event"])
                elif event.get_dagster_event().asset_key:
                    last_planned[event.get_dagster_event().asset_key] = (event, event_id)
            # An asset's row holds what its last planned event set (run id, timestamp): as stock leaves
            # it after overwriting it once per event (a range run plans each of its days).
            for event, event_id in last_planned.values():
                self._store_asset_event_tags(conn, [event], [event_id])
                self._store_asset_event(conn, event, event_id)
            if check_rows:
                conn.execute(AssetCheckExecutionsTable.insert().values(check_rows))


class PooledPostgresStorage(DagsterPostgresStorage):
    """`DagsterPostgresStorage` whose run, event-log and schedule storages each keep one connection."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ) -> None:
        # DagsterPostgresStorage.__init__ with the pooled classes in its attributes: calling it would
        # build the stock run and event-log storages too, only to drop them (~50 ms per process).
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        self._run_storage = PooledPostgresRunStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        self._event_log_storage = PooledPostgresEventLogStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        self._schedule_storage = PostgresScheduleStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        DagsterStorage.__init__(self)
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            keep_one_connection(storage, postgres_url, token_provider)

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
