"""Dagster's own storage as production configures it (deploy/dagster.yaml: `PooledPostgresStorage`),
for real on the suite's private cluster: a run keeps one connection instead of one per stored
event, and a Postgres restart in the middle of a run loses no event and fails nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    MaterializeResult,
    asset,
    materialize,
)
from dagster._core.events.log import EventLogEntry
from sqlalchemy import event
from sqlalchemy.engine import Engine

from adelie_assets.instance.pooled_postgres import PooledPostgresStorage
from tests.reliability.conftest import REPO, PrivatePostgres

pytestmark = pytest.mark.postgres

LOG_LINES = 40
PLANNED = (DagsterEventType.ASSET_MATERIALIZATION_PLANNED, DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED)
POOLED_STORAGE = "adelie_assets.instance.pooled_postgres.PooledPostgresStorage"


@pytest.fixture
def connections() -> Iterator[list[int]]:
    """The connections every SQLAlchemy engine of this process opens while the test runs."""
    opened = [0]

    def count(*_: object) -> None:
        opened[0] += 1

    event.listen(Engine, "connect", count)
    yield opened
    event.remove(Engine, "connect", count)


def instance_home(tmp_path: Path, storage: dict) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump({"storage": storage, "telemetry": {"enabled": False}}))
    return home


@pytest.fixture
def production_storage(pg: PrivatePostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DAGSTER_HOME holding deploy/dagster.yaml's storage block, its variables set to the cluster."""
    deploy = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    database = pg.create_database("dagster")
    for name, value in {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(pg.port),
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": database,
    }.items():
        monkeypatch.setenv(name, value)
    return instance_home(tmp_path, deploy["storage"])


def ledger(during: Callable[[], None] = lambda: None):  # noqa: ANN201
    """An asset that logs LOG_LINES lines, calling `during` half-way, then materializes."""

    @asset
    def ledger() -> MaterializeResult:
        from dagster import get_dagster_logger

        log = get_dagster_logger()
        for n in range(LOG_LINES // 2):
            log.info(f"line {n}")
        during()
        for n in range(LOG_LINES // 2, LOG_LINES):
            log.info(f"line {n}")
        return MaterializeResult(metadata={"lines": LOG_LINES})

    return ledger


def stored_lines(instance: DagsterInstance, run_id: str) -> list[str]:
    return [r.user_message for r in instance.all_logs(run_id) if r.user_message.startswith("line ")]


def test_production_storage_is_dagster_postgres_keeping_one_connection(
    production_storage: Path, pg: PrivatePostgres, connections: list[int]
) -> None:
    from dagster_postgres.event_log import PostgresEventLogStorage

    DagsterInstance.from_config(str(production_storage)).dispose()  # tables created
    before = connections[0]
    with DagsterInstance.from_config(str(production_storage)) as instance:
        pooled_start = connections[0] - before  # every process pays it: no stock storage built on the side
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        # What a run worker is handed (DefaultRunLauncher passes the instance's ref).
        ref = instance.get_ref().storage_data
        assert f"{ref.module_name}.{ref.class_name}" == POOLED_STORAGE
        materialize([ledger()], instance=instance)  # tables created, first connections made
        before = connections[0]
        result = materialize([ledger()], instance=instance)
        opened = connections[0] - before
        assert result.success
        assert stored_lines(instance, result.run_id) == [f"line {n}" for n in range(LOG_LINES)]
        events = len(instance.all_logs(result.run_id))

    # Stock dagster-postgres connects for every storage call: at least once per stored event.
    stock = instance_home(production_storage.parent / "stock", {"postgres": yaml.safe_load(
        (production_storage / "dagster.yaml").read_text()
    )["storage"]["custom"]["config"]})  # fmt: skip
    before = connections[0]
    with DagsterInstance.from_config(str(stock)) as instance:
        stock_start = connections[0] - before
        materialize([ledger()], instance=instance)
        before = connections[0]
        assert materialize([ledger()], instance=instance).success
        stock_opened = connections[0] - before
    assert stock_opened >= events > LOG_LINES
    assert 0 < pooled_start <= stock_start, (pooled_start, stock_start)
    assert opened <= 5, f"{opened} connections for {events} stored events"


def test_a_postgres_restart_in_the_middle_of_a_run_loses_no_event(
    production_storage: Path, pg: PrivatePostgres, connections: list[int]
) -> None:
    restarts: list[tuple[float, int]] = []

    def restart() -> None:
        before = connections[0]
        seconds = pg.restart()  # every session ends, the ones the storages keep included
        restarts.append((seconds, before))

    with DagsterInstance.from_config(str(production_storage)) as instance:
        materialize([ledger()], instance=instance)
        result = materialize([ledger(restart)], instance=instance, raise_on_error=False)
        assert restarts, "Postgres was not restarted"
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        assert stored_lines(instance, result.run_id) == [f"line {n}" for n in range(LOG_LINES)]
        assert instance.get_run_by_id(result.run_id).is_success  # type: ignore[union-attr]
    # The dead connections were replaced: the storages connected again after the restart.
    assert connections[0] > restarts[0][1]


def test_a_dagster_postgres_without_the_engine_it_was_written_for_is_refused_naming_the_fallback(
    pg: PrivatePostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster_postgres.event_log import PostgresEventLogStorage

    created = PostgresEventLogStorage.__init__

    def renamed_engine(self: PostgresEventLogStorage, *args: object, **kwargs: object) -> None:
        created(self, *args, **kwargs)  # type: ignore[arg-type]
        self.engine = self.__dict__.pop("_engine")  # what a future dagster-postgres might do

    monkeypatch.setattr(PostgresEventLogStorage, "__init__", renamed_engine)
    with pytest.raises(TypeError) as refused:
        PooledPostgresStorage(pg.url(pg.create_database("dagster")))
    assert "PostgresEventLogStorage has no SQLAlchemy engine in `_engine`" in str(refused.value)
    assert "use `storage: postgres:` in dagster.yaml instead" in str(refused.value)


def quotes_and_passing_checks(count: int) -> list:
    """An unpartitioned asset `quotes` and `count` checks of it that pass: check_0, check_1, ..."""
    from dagster import AssetCheckResult, asset_check

    @asset
    def quotes() -> MaterializeResult:
        return MaterializeResult()

    return [
        quotes,
        *(
            asset_check(asset=quotes, name=f"check_{n}")(lambda: AssetCheckResult(passed=True))
            for n in range(count)
        ),
    ]


def range_run_planned_events() -> tuple[list[str], list[str], list[EventLogEntry]]:
    """The check names, days and planned events (materialization and checks, in Dagster's order) of
    a 25-day range run of a partitioned asset with two checks, run on an ephemeral instance."""
    from dagster import AssetCheckSpec, AssetSpec, Definitions, Output, define_asset_job, multi_asset

    from adelie_assets.calendar import trading_day_partitions

    checks = [AssetCheckSpec(name, asset="quotes") for name in ("rows_present", "prices_positive")]

    @multi_asset(specs=[AssetSpec("quotes")], check_specs=checks, partitions_def=trading_day_partitions)
    def quotes(context):  # noqa: ANN001, ANN202
        yield Output(None, output_name="quotes")
        for spec in checks:
            yield Output(None, output_name=spec.get_python_identifier())
            for key in context.partition_keys:
                yield AssetCheckEvaluation(
                    asset_key=spec.asset_key, check_name=spec.name, passed=True, partition=key
                )

    days = trading_day_partitions.get_partition_keys()[-30:-5]
    job = Definitions(assets=[quotes], jobs=[define_asset_job("chunk")]).resolve_job_def("chunk")
    with DagsterInstance.ephemeral() as instance:
        tags = {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
        run_id = job.execute_in_process(instance=instance, tags=tags).run_id
        planned = [
            record.event_log_entry
            for record in instance.get_records_for_run(run_id).records
            if record.event_log_entry.dagster_event_type in PLANNED
        ]
    return [spec.name for spec in checks], days, planned


def stored_rows(pg: PrivatePostgres, database: str) -> dict[str, list[tuple]]:
    """What an event-log storage wrote for planned events: its event rows, check rows, asset rows."""
    return {
        "event_logs": pg.execute(
            "SELECT run_id, event, dagster_event_type, timestamp, step_key, asset_key, partition "
            "FROM event_logs ORDER BY id",
            database,
        ),
        "asset_check_executions": pg.execute(
            "SELECT asset_key, check_name, partition, run_id, execution_status, evaluation_event, "
            "evaluation_event_timestamp, evaluation_event_storage_id FROM asset_check_executions ORDER BY id",
            database,
        ),
        "asset_keys": pg.execute(
            "SELECT asset_key, last_materialization, last_run_id, last_materialization_timestamp "
            "FROM asset_keys ORDER BY asset_key",
            database,
        ),
    }


def test_a_range_runs_planned_check_rows_are_the_ones_stock_dagster_postgres_writes(
    pg: PrivatePostgres,
) -> None:
    """The planned evaluations of a 25-day range run's checks: the same rows, serialized once."""
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
    from dagster_postgres.event_log import PostgresEventLogStorage

    from adelie_assets.instance.pooled_postgres import PooledPostgresEventLogStorage

    checks, days, planned = range_run_planned_events()
    rows = {}
    for storage_class in (PostgresEventLogStorage, PooledPostgresEventLogStorage):
        database = pg.create_database("events")
        storage = storage_class(pg.url(database))
        for entry in planned:
            storage.store_event(entry)
        storage.dispose()
        rows[storage_class] = stored_rows(pg, database)["asset_check_executions"]
    assert rows[PooledPostgresEventLogStorage] == rows[PostgresEventLogStorage]
    assert sorted({(row[1], row[2]) for row in rows[PostgresEventLogStorage]}) == sorted(
        (name, day) for name in checks for day in days
    )
    # The override is on the method the stock dispatcher still calls.
    assert "self._store_asset_check_evaluation_planned(" in inspect.getsource(
        SqlEventLogStorage.store_asset_check_event
    )


def test_a_runs_planned_events_are_stored_in_one_transaction_as_the_rows_stock_writes_one_by_one(
    pg: PrivatePostgres,
) -> None:
    """Dagster hands a run's planned events over as one batch (DAGSTER_EVENT_BATCH_SIZE); stock
    dagster-postgres stores them one by one, the production storage in one transaction: same rows,
    a handful of statements instead of about three per event."""
    from dagster_postgres.event_log import PostgresEventLogStorage

    from adelie_assets.instance.pooled_postgres import PooledPostgresEventLogStorage

    checks, days, planned = range_run_planned_events()
    assert len(planned) == len(days) + len(checks)  # one materialization planned per day
    rows, statements, executed = {}, {}, []
    count = lambda *args: executed.append(args[2])  # noqa: E731
    for storage_class in (PostgresEventLogStorage, PooledPostgresEventLogStorage):
        database = pg.create_database("events")
        storage = storage_class(pg.url(database))
        # The schema probes of a first batch are not counted.
        storage.store_event_batch([next(e for e in planned if e.dagster_event_type == t) for t in PLANNED])
        pg.execute("TRUNCATE event_logs, asset_check_executions, asset_keys", database)
        executed.clear()
        event.listen(Engine, "before_cursor_execute", count)
        try:
            storage.store_event_batch(planned)
        finally:
            event.remove(Engine, "before_cursor_execute", count)
        storage.dispose()
        rows[storage_class], statements[storage_class] = stored_rows(pg, database), len(executed)
    stock, pooled = rows[PostgresEventLogStorage], rows[PooledPostgresEventLogStorage]
    assert pooled["event_logs"] == stock["event_logs"]
    assert [row[2] for row in pooled["event_logs"]] == [entry.dagster_event_type.value for entry in planned]
    # Identical check rows, their storage ids pointing at the planned events (both databases count
    # from the same ids after the first batch).
    assert pooled["asset_check_executions"] == stock["asset_check_executions"]
    assert len(stock["asset_check_executions"]) == len(checks) * len(days)
    assert pooled["asset_keys"] == stock["asset_keys"] and len(stock["asset_keys"]) == 1
    assert statements[PostgresEventLogStorage] >= 3 * len(planned), statements
    assert statements[PooledPostgresEventLogStorage] <= 4, statements


def test_a_planned_batch_that_fails_writes_nothing_and_dagster_stores_each_event_once(
    production_storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch fails on its last statement (the check rows): its events are not left behind for
    Dagster's one-by-one fallback to write a second time."""
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")

    quotes, *checks = quotes_and_passing_checks(3)
    failed: list[str] = []

    def fail_the_batched_check_rows(_conn: object, _cursor: object, statement: str, parameters, *_: object):  # noqa: ANN001, ANN202
        # The batch inserts the rows of all three checks in one statement; the fallback, one each.
        if statement.startswith("INSERT INTO asset_check_executions") and len(parameters) > 8 and not failed:
            failed.append(statement)
            raise RuntimeError("Postgres went away in the middle of the batch")

    with DagsterInstance.from_config(str(production_storage)) as instance:
        event.listen(Engine, "before_cursor_execute", fail_the_batched_check_rows)
        try:
            result = materialize([quotes, *checks], instance=instance)
        finally:
            event.remove(Engine, "before_cursor_execute", fail_the_batched_check_rows)
        assert failed, "the batch did not reach its check rows"
        assert result.success
        records = instance.get_records_for_run(result.run_id).records
        planned = [
            r.event_log_entry.dagster_event_type
            for r in records
            if r.event_log_entry.dagster_event_type in PLANNED
        ]
        assert sorted(planned) == sorted(
            [DagsterEventType.ASSET_MATERIALIZATION_PLANNED]
            + [DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED] * 3
        )
        history = {
            name: instance.event_log_storage.get_asset_check_execution_history(
                AssetCheckKey(AssetKey("quotes"), name), limit=10
            )
            for name in (f"check_{n}" for n in range(3))
        }
        assert {name: [e.status.value for e in runs] for name, runs in history.items()} == {
            f"check_{n}": ["SUCCEEDED"] for n in range(3)
        }


def test_a_run_asks_postgres_catalog_nothing_once_the_schema_was_found_and_a_new_table_is_seen(
    production_storage: Path, pg: PrivatePostgres
) -> None:
    """Stock dagster-postgres asks Postgres's catalog about its schema for every check evaluation,
    materialization and run event it stores (has `asset_check_executions`, which columns have
    `asset_keys` and `runs`); the production storage asks until it has found what it asks for."""
    from adelie_assets.instance.pooled_postgres import PooledPostgresEventLogStorage

    quotes, *checks = quotes_and_passing_checks(10)
    catalog: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "pg_catalog" in statement:
            catalog.append(statement)

    stock = instance_home(production_storage.parent / "stock", {"postgres": yaml.safe_load(
        (production_storage / "dagster.yaml").read_text()
    )["storage"]["custom"]["config"]})  # fmt: skip
    asked = {}
    for name, home in (("pooled", production_storage), ("stock", stock)):
        with DagsterInstance.from_config(str(home)) as instance:
            materialize([quotes, *checks], instance=instance)  # tables created
            event.listen(Engine, "before_cursor_execute", count)
            try:
                result = materialize([quotes, *checks], instance=instance)
            finally:
                event.remove(Engine, "before_cursor_execute", count)
            assert result.success and len(result.get_asset_check_evaluations()) == len(checks)
            asked[name], catalog[:] = len(catalog), []
    assert asked["stock"] >= len(checks) and asked["pooled"] == 0, asked

    # A table that is not there yet is asked for again: a migration is seen without a restart.
    database = pg.create_database("events")
    storage = PooledPostgresEventLogStorage(pg.url(database))
    assert not storage.has_table("added_by_a_migration")
    pg.execute("CREATE TABLE added_by_a_migration (id int)", database)
    assert storage.has_table("added_by_a_migration")
    storage.dispose()
