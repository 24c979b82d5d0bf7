"""Dagster's own storage as production configures it (deploy/dagster.yaml: stock dagster-postgres),
for real on the suite's private cluster: a Postgres restart in the middle of a run loses no event
and fails nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, MaterializeResult, asset, materialize

from tests.reliability.conftest import REPO, PrivatePostgres

pytestmark = pytest.mark.postgres

LOG_LINES = 40


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
    home = tmp_path / "dagster_home"
    home.mkdir(parents=True)
    instance = {"storage": deploy["storage"], "telemetry": {"enabled": False}}
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    return home


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


def test_production_storage_is_stock_dagster_postgres(production_storage: Path) -> None:
    from dagster_postgres import DagsterPostgresStorage
    from dagster_postgres.event_log import PostgresEventLogStorage

    with DagsterInstance.from_config(str(production_storage)) as instance:
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        # What a run worker is handed (DefaultRunLauncher passes the instance's ref).
        ref = instance.get_ref().storage_data
        assert (ref.module_name, ref.class_name) == (
            DagsterPostgresStorage.__module__.rsplit(".", 1)[0],
            DagsterPostgresStorage.__name__,
        )
        result = materialize([ledger()], instance=instance)
        assert result.success
        assert stored_lines(instance, result.run_id) == [f"line {n}" for n in range(LOG_LINES)]


def test_a_postgres_restart_in_the_middle_of_a_run_loses_no_event(
    production_storage: Path, pg: PrivatePostgres
) -> None:
    restarts: list[float] = []

    def restart() -> None:
        restarts.append(pg.restart())  # every session ends

    with DagsterInstance.from_config(str(production_storage)) as instance:
        materialize([ledger()], instance=instance)
        result = materialize([ledger(restart)], instance=instance, raise_on_error=False)
        assert restarts, "Postgres was not restarted"
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        assert stored_lines(instance, result.run_id) == [f"line {n}" for n in range(LOG_LINES)]
        assert instance.get_run_by_id(result.run_id).is_success  # type: ignore[union-attr]
