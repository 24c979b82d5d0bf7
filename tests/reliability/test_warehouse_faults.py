"""Warehouse faults for real: Postgres unreachable, restarted mid-run and mid-COPY (the suite's
private cluster), the writing process SIGKILLed mid-write, and two writers of one day at once.

What must hold every time: no wrong or partial rows (a day is the previous rows or the new rows,
never a mix, never duplicated), and a re-run completes. Where the failure message is not yet what it
should be, a separate strict xfail test says so (see docs/reliability.md, "Bugs found").
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, materialize, serialize_value
from sqlalchemy import event
from sqlalchemy.engine import Engine

from adelie_assets.defs.cases.daily_themes import daily_themes
from adelie_assets.defs.market.assets import market_data
from adelie_assets.resources import warehouse_engine as warehouse_module
from adelie_assets.resources.llm import LLM
from adelie_assets.resources.warehouse import (
    Warehouse,
    WarehouseError,
    daily_themes_table,
    market_data_table,
)
from adelie_assets.resources.warehouse_schema import lock_key as _lock_key
from adelie_fakes.krx import FakeKrx
from adelie_fakes.openai import FakeOpenAI
from tests.builders import krx_for, market_frame, step_failures
from tests.reliability.conftest import PrivatePostgres, free_port, python_subprocess, wait_until
from tests.reliability.frames import DAY, big_frame

KEY = DAY.isoformat()
PREVIOUS_ROWS = 80  # market_frame(DAY): the rows a failed write must leave in place
RERUN_ROWS = 100  # market_frame(DAY, 50, seed=1): what a re-run writes afterwards
# Big enough that the write lasts long enough for a fault to land inside it: a COPY of 120,000
# rows streams for ~0.3 s; an executemany of 60,000 rows into SQLite takes ~0.4 s.
BIG_ROWS_PG = 120_000
BIG_ROWS_SQLITE = 60_000


def rerun_frame() -> pd.DataFrame:
    return market_frame(DAY, per_market=50, seed=1)


@pytest.fixture(scope="module")
def fake_krx():
    with FakeKrx() as fake:
        yield fake


@pytest.fixture(scope="module")
def fake_llm():
    with FakeOpenAI() as fake:
        yield fake


def pipeline(fake_krx: FakeKrx, fake_llm: FakeOpenAI, warehouse: Warehouse):
    return materialize(
        # The second step, daily_themes, starts by reading market_data (so does analog_features).
        [market_data, daily_themes],
        partition_key=KEY,
        resources={
            "krx": krx_for(fake_krx),
            "llm": LLM(api_key=fake_llm.api_key, base_url=fake_llm.base_url, max_retries=0),
            "warehouse": warehouse,
        },
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def step_outcomes(result: object) -> dict[str, str]:
    return {
        e.step_key: e.event_type_value
        for e in result.all_events  # type: ignore[attr-defined]
        if e.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE")
    }


# --- unreachable at the start of a step -----------------------------------------------------------


def test_unreachable_postgres_fails_the_step_naming_the_variable_without_the_password(fake_krx: FakeKrx):
    fake_krx.reset()
    url = f"postgresql+psycopg2://adelie:hunter2-secret@127.0.0.1:{free_port()}/warehouse"
    result = materialize(
        [market_data],
        partition_key=KEY,
        resources={"krx": krx_for(fake_krx), "warehouse": Warehouse(url=url)},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    text = step_failures(result)["market_data"]
    assert "Cannot reach the warehouse at postgresql+psycopg2://adelie:***@127.0.0.1:" in text
    assert "Check ADELIE_WAREHOUSE_URL and that the database server is up" in text
    assert "hunter2" not in text and "hunter2" not in serialize_value(result.all_events)
    # The warehouse is checked first: no KRX request is spent on a day that cannot be stored.
    assert fake_krx.data_request_count == 0


# --- restarted / down between market_data and the step after it (daily_themes) -------------------


@pytest.mark.postgres
def test_restart_between_the_two_steps_is_absorbed_by_pool_pre_ping(
    pg: PrivatePostgres, fake_krx: FakeKrx, fake_llm: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
):
    warehouse = Warehouse(url=pg.url(pg.create_database()))
    restarts: list[float] = []
    original = Warehouse.read_market_data

    def restart_first(self: Warehouse, days: list[date]) -> pd.DataFrame:
        if not restarts:  # daily_themes' first query: the pooled connection is now dead
            restarts.append(pg.restart())
        return original(self, days)

    monkeypatch.setattr(Warehouse, "read_market_data", restart_first)
    result = pipeline(fake_krx, fake_llm, warehouse)
    assert restarts, "the restart did not happen between the steps"
    assert step_outcomes(result) == {"market_data": "STEP_SUCCESS", "daily_themes": "STEP_SUCCESS"}
    assert warehouse.count_rows(market_data_table, DAY) == 2388
    assert warehouse.count_rows(daily_themes_table, DAY) == 5


@dataclass
class DownBetweenSteps:
    outcomes: dict[str, str]
    failure: str
    market_rows_after: int
    cases_after: int
    rerun_outcomes: dict[str, str] = field(default_factory=dict)
    cases_after_rerun: int = 0


@pytest.fixture(scope="module")
def down_between_steps(private_pg: PrivatePostgres, fake_krx: FakeKrx, fake_llm: FakeOpenAI):
    private_pg.ensure_running()
    warehouse = Warehouse(url=private_pg.url(private_pg.create_database()))
    original = Warehouse.read_market_data

    def stop_first(self: Warehouse, days: list[date]) -> pd.DataFrame:
        private_pg.stop()
        return original(self, days)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Warehouse, "read_market_data", stop_first)
        result = pipeline(fake_krx, fake_llm, warehouse)
    private_pg.start()
    seen = DownBetweenSteps(
        outcomes=step_outcomes(result),
        failure=step_failures(result).get("daily_themes", ""),
        market_rows_after=warehouse.count_rows(market_data_table, DAY),
        cases_after=warehouse.count_rows(daily_themes_table, DAY),
    )
    rerun = pipeline(fake_krx, fake_llm, warehouse)
    seen.rerun_outcomes = step_outcomes(rerun)
    seen.cases_after_rerun = warehouse.count_rows(daily_themes_table, DAY)
    warehouse_module.dispose_engines()
    return seen


@pytest.mark.postgres
def test_postgres_down_between_the_steps_fails_the_second_step_and_a_rerun_completes(
    down_between_steps: DownBetweenSteps,
):
    seen = down_between_steps
    assert seen.outcomes == {"market_data": "STEP_SUCCESS", "daily_themes": "STEP_FAILURE"}
    assert "Connection refused" in seen.failure
    assert (seen.market_rows_after, seen.cases_after) == (2388, 0)
    assert seen.rerun_outcomes == {"market_data": "STEP_SUCCESS", "daily_themes": "STEP_SUCCESS"}
    assert seen.cases_after_rerun == 5


@pytest.mark.postgres
def test_postgres_down_between_the_steps_says_what_to_check(down_between_steps: DownBetweenSteps):
    assert "WarehouseError" in down_between_steps.failure
    assert "ADELIE_WAREHOUSE_URL" in down_between_steps.failure


# --- restarted in the middle of a COPY ---------------------------------------------------------------


@dataclass
class MidCopyRestart:
    error: BaseException | None
    write_seconds: float
    rows_after: int
    names_after: set[str]
    rerun_seconds: float
    rows_after_rerun: int


def _copy_running(pg: PrivatePostgres, dbname: str) -> bool:
    rows = pg.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND state = 'active' AND query LIKE 'COPY %'",
        dbname,
    )
    return rows[0][0] > 0


@pytest.fixture(scope="module")
def mid_copy_restart(private_pg: PrivatePostgres):
    private_pg.ensure_running()
    dbname = private_pg.create_database()
    warehouse = Warehouse(url=private_pg.url(dbname))
    warehouse.replace_market_data([DAY], market_frame(DAY))
    frame = big_frame(BIG_ROWS_PG)

    def restart_during_copy() -> None:
        wait_until(lambda: _copy_running(private_pg, dbname), timeout=60, interval=0.005, what="COPY")
        private_pg.restart()

    restarter = threading.Thread(target=restart_during_copy)
    restarter.start()
    error: BaseException | None = None
    started = time.monotonic()
    try:
        warehouse.replace_market_data([DAY], frame)
    except Exception as exc:  # noqa: BLE001 - recorded and asserted on below
        error = exc
    write_seconds = time.monotonic() - started
    restarter.join()
    rows = warehouse.read_market_data([DAY])
    started = time.monotonic()
    warehouse.replace_market_data([DAY], rerun_frame())
    rerun_seconds = time.monotonic() - started
    seen = MidCopyRestart(
        error=error,
        write_seconds=write_seconds,
        rows_after=len(rows),
        names_after=set(rows["name"].str.split().str[0]),
        rerun_seconds=rerun_seconds,
        rows_after_rerun=warehouse.count_rows(market_data_table, DAY),
    )
    warehouse_module.dispose_engines()
    return seen


@pytest.mark.postgres
def test_restart_mid_copy_keeps_the_previous_rows_and_a_rerun_completes(mid_copy_restart: MidCopyRestart):
    seen = mid_copy_restart
    assert seen.error is not None, "the write succeeded: the restart missed the COPY"
    assert seen.rows_after == PREVIOUS_ROWS and seen.names_after == {"KOSPI", "KOSDAQ"}
    assert seen.rows_after_rerun == RERUN_ROWS


@pytest.mark.postgres
def test_restart_mid_copy_says_what_happened(mid_copy_restart: MidCopyRestart):
    assert isinstance(mid_copy_restart.error, WarehouseError)
    message = str(mid_copy_restart.error)
    assert "Nothing was changed" in message and "re-run the partition" in message
    assert "connection already closed" not in message  # the rollback's error must not hide the COPY's


# --- the writing process SIGKILLed mid-write ------------------------------------------------------------

WRITER = r"""
import sys
from datetime import date
from sqlalchemy import event
from sqlalchemy.engine import Engine
from adelie_assets.resources.warehouse import Warehouse
from tests.reliability.frames import big_frame

@event.listens_for(Engine, "before_cursor_execute")
def _mark(conn, cursor, statement, parameters, context, executemany):
    if statement.startswith("INSERT INTO market_data"):
        print("inserting", flush=True)

frame = big_frame(int(sys.argv[2]))
print("writing", flush=True)
Warehouse(url=sys.argv[1]).replace_market_data([date(2026, 11, 27)], frame)
print("done", flush=True)
"""


def _read_marker(proc, marker: str) -> None:
    line = proc.stdout.readline().strip()
    while line and line != marker:
        line = proc.stdout.readline().strip()
    if line != marker:
        proc.kill()
        pytest.fail(f"writer ended before {marker!r}: {proc.stderr.read()[-2000:]}")


def _kill_and_check(proc) -> None:
    assert proc.poll() is None, "the writer finished before it was killed: make the frame bigger"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL


@pytest.mark.postgres
def test_sigkill_mid_copy_on_postgres_leaves_previous_rows_and_a_rerun_completes(pg: PrivatePostgres):
    dbname = pg.create_database()
    url = pg.url(dbname)
    warehouse = Warehouse(url=url)
    warehouse.replace_market_data([DAY], market_frame(DAY))
    warehouse_module.dispose_engines()  # only the writer's backend carries application_name now
    proc = python_subprocess(WRITER, args=[url, str(BIG_ROWS_PG)])
    _read_marker(proc, "writing")
    wait_until(lambda: _copy_running(pg, dbname), timeout=60, interval=0.005, what="the writer's COPY")
    _kill_and_check(proc)
    # The server notices the dead client, aborts its transaction and frees the advisory lock.
    freed = wait_until(
        lambda: (
            pg.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'adelie_assets'",
                dbname,
            )[0][0]
            == 0
        ),
        timeout=10,
        what="the killed writer's backend to go away",
    )
    assert freed < 5
    assert warehouse.count_rows(market_data_table, DAY) == PREVIOUS_ROWS
    warehouse.replace_market_data([DAY], rerun_frame())
    assert warehouse.count_rows(market_data_table, DAY) == RERUN_ROWS


def test_sigkill_mid_insert_on_sqlite_leaves_previous_rows_and_a_rerun_completes(tmp_path: Path):
    path = tmp_path / "warehouse.sqlite"
    url = f"sqlite:///{path}"
    warehouse = Warehouse(url=url)
    warehouse.replace_market_data([DAY], market_frame(DAY))
    warehouse_module.dispose_engines()
    proc = python_subprocess(WRITER, args=[url, str(BIG_ROWS_SQLITE)])
    _read_marker(proc, "inserting")  # printed just before the executemany: DELETE is done, not committed
    journal = Path(f"{path}-journal")
    _kill_and_check(proc)
    assert journal.exists()  # the killed transaction's rollback journal: it never committed
    assert Warehouse(url=url).count_rows(market_data_table, DAY) == PREVIOUS_ROWS
    warehouse.replace_market_data([DAY], rerun_frame())
    assert warehouse.count_rows(market_data_table, DAY) == RERUN_ROWS


# --- two runs of the same partition at once ------------------------------------------------------------


@contextlib.contextmanager
def _statements_seen(prefixes: tuple[str, ...]) -> Iterator[list[str]]:
    """Every SQL statement of this process that starts with one of `prefixes`, as it is sent."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.startswith(prefixes):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def own_engine_url(url: str, index: int) -> str:
    """The same database under a URL of its own, so that a thread gets an engine of its own: pysqlite
    connections must stay in the thread that made them."""
    if not url.startswith("sqlite"):
        return url
    path = Path(sa.make_url(url).database or "")
    return f"sqlite:///{path.parent}/{'./' * (index + 1)}{path.name}"


def dispose_own_engine(url: str) -> None:
    engine = warehouse_module._engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def _two_runs_at_once(fake_krx: FakeKrx, url: str, hold_gate, both_waiting, release_gate) -> list[object]:
    """Two market_data runs of the same day (two threads, each its own Dagster run and connection),
    started while `hold_gate` keeps the warehouse's write lock, so that both are inside their write at
    once; `both_waiting()` says when they are; then the lock is released and both results returned."""
    Warehouse(url=url).engine()  # tables exist: this is about the write, not the first use
    results: list[object] = [None, None]

    def run(index: int) -> None:
        own_url = own_engine_url(url, index)
        # Disposed in this thread: the ephemeral instance's event log is an in-memory SQLite too.
        with DagsterInstance.ephemeral() as instance:
            results[index] = materialize(
                [market_data],
                partition_key=KEY,
                resources={"krx": krx_for(fake_krx), "warehouse": Warehouse(url=own_url)},
                instance=instance,
                raise_on_error=False,
            )
        dispose_own_engine(own_url)

    hold_gate()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        wait_until(both_waiting, timeout=30, interval=0.02, what="both runs to wait for the write lock")
        time.sleep(0.2)
        assert all(thread.is_alive() for thread in threads), "a run finished while the lock was held"
    finally:
        release_gate()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _assert_one_clean_day(url: str) -> None:
    rows = Warehouse(url=url).read_market_data([DAY])
    assert len(rows) == 2388
    assert not rows.duplicated(["trade_date", "ticker"]).any()


@pytest.mark.postgres
def test_two_runs_of_one_day_at_once_on_postgres_wait_on_the_advisory_lock(
    pg: PrivatePostgres, fake_krx: FakeKrx
):
    dbname = pg.create_database()
    url = pg.url(dbname)
    gate = pg.admin(dbname)
    gate.autocommit = False

    def hold() -> None:
        with gate.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(market_data_table),))

    def both_waiting() -> bool:
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        return pg.execute(query, dbname)[0][0] == 2

    def release() -> None:
        gate.commit()
        gate.close()

    results = _two_runs_at_once(fake_krx, url, hold, both_waiting, release)
    assert [r.success for r in results] == [True, True], [step_failures(r) for r in results]
    _assert_one_clean_day(url)


def test_two_runs_of_one_day_at_once_on_sqlite_wait_on_the_busy_timeout(tmp_path: Path, fake_krx: FakeKrx):
    path = tmp_path / "warehouse.sqlite"
    url = f"sqlite:///{path}"
    gate = sqlite3.connect(path, isolation_level=None)
    with _statements_seen(("DELETE FROM market_data",)) as deletes:
        results = _two_runs_at_once(
            fake_krx,
            url,
            lambda: gate.execute("BEGIN IMMEDIATE"),
            lambda: len(deletes) == 2,  # both sent their DELETE and wait for the lock
            lambda: gate.execute("ROLLBACK"),
        )
    gate.close()
    assert [r.success for r in results] == [True, True], [step_failures(r) for r in results]
    _assert_one_clean_day(url)


def test_two_writers_of_one_day_leave_exactly_one_of_their_versions(warehouse_url: str):
    warehouse = Warehouse(url=warehouse_url)
    warehouse.replace_market_data([DAY], market_frame(DAY))
    frames = {"A": big_frame(5_000, "A"), "B": big_frame(7_000, "B")}
    errors: list[BaseException] = []

    def write(index: int, frame: pd.DataFrame) -> None:
        own_url = own_engine_url(warehouse_url, index)
        try:
            Warehouse(url=own_url).replace_market_data([DAY], frame)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            if own_url != warehouse_url:
                dispose_own_engine(own_url)

    threads = [threading.Thread(target=write, args=item) for item in enumerate(frames.values())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = warehouse.read_market_data([DAY])
    versions = set(rows["name"].str.split().str[0])
    assert len(versions) == 1 and len(rows) == len(frames[versions.pop()])


# --- the very first use of an empty warehouse by two processes at once -----------------------------------

FIRST_USE = r"""
import sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
from adelie_assets.resources.warehouse import Warehouse

@event.listens_for(Engine, "before_cursor_execute")
def _mark(conn, cursor, statement, parameters, context, executemany):
    if statement.lstrip().startswith("CREATE TABLE"):
        print("creating", flush=True)

try:
    Warehouse(url=sys.argv[1]).engine()
    print("RESULT ok", flush=True)
except Exception as exc:
    print("RESULT", type(exc).__name__, str(exc).replace("\n", " ")[:300], flush=True)
"""


def _postgres_first_use_gate(pg: PrivatePostgres) -> tuple[str, object, object]:
    dbname = pg.create_database()
    gate = pg.admin(dbname)
    gate.autocommit = False

    def hold() -> None:
        with gate.cursor() as cur:
            cur.execute("CREATE TABLE market_data (x int)")  # uncommitted: invisible to the others

    def release() -> None:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        wait_until(lambda: pg.execute(query, dbname)[0][0] == 2, timeout=30, what="both CREATE TABLE to wait")
        gate.rollback()
        gate.close()

    return pg.url(dbname), hold, release


def _sqlite_first_use_gate(path: Path) -> tuple[str, object, object]:
    gate = sqlite3.connect(path, isolation_level=None)

    def hold() -> None:
        gate.execute("BEGIN IMMEDIATE")
        gate.execute("CREATE TABLE market_data (x int)")  # holds the write lock; readers see no table

    def release() -> None:
        gate.execute("ROLLBACK")
        gate.close()

    return f"sqlite:///{path}", hold, release


@pytest.mark.postgres
def test_first_use_of_an_empty_warehouse_by_two_processes_at_once(pg: PrivatePostgres, tmp_path: Path):
    """Both backends at once (four processes). The gate holds the lock that CREATE TABLE needs while
    the processes of a backend check that no table exists: the interleaving that, left to chance,
    failed 3 of 6 tries on an idle machine before the fix. On Postgres the second process now waits
    on the schema advisory lock instead of reaching CREATE TABLE (the gate's release waits for both to
    wait on a lock); on SQLite both reach CREATE TABLE and the loser looks again."""
    gates = {
        "postgres": _postgres_first_use_gate(pg),
        "sqlite": _sqlite_first_use_gate(tmp_path / "warehouse.sqlite"),
    }
    procs: dict[str, list] = {}
    for backend, (url, hold, _) in gates.items():
        hold()
        procs[backend] = [python_subprocess(FIRST_USE, args=[url]) for _ in range(2)]
    for backend, (_, _, release) in gates.items():
        try:
            if backend == "sqlite":
                for proc in procs[backend]:
                    _read_marker(proc, "creating")  # it found no table and is about to create one
            # Postgres: release() itself waits until both processes wait on a lock.
            time.sleep(0.2)
        finally:
            release()
    results = {
        backend: [
            next(line for line in proc.communicate(timeout=60)[0].splitlines() if line.startswith("RESULT"))
            for proc in pair
        ]
        for backend, pair in procs.items()
    }
    assert results == {"postgres": ["RESULT ok"] * 2, "sqlite": ["RESULT ok"] * 2}
