"""Daemon stopped, restarted or killed around the 08:00 tick: a tick never runs twice.

The scheduler is Dagster's own (tests/reliability/scheduler.py runs one iteration of
`launch_scheduled_runs` at a frozen time, from a fresh workspace: a restarted daemon) on the
repository's dagster.yaml (production settings: QueuedRunCoordinator; no storage block, so SQLite
under a temp DAGSTER_HOME). A SIGKILL at one of Dagster's
own crash points stands in for an OOM kill or a container restart of `dagster-daemon`.

The schedule's own dedupe (a SkipReason when a run of the partition from the schedule exists) is
tested at the function level in
tests/test_pipeline.py::test_chuseok_ticks_request_the_day_before_once_then_nothing.
"""

from __future__ import annotations

import shutil
import signal
from datetime import datetime
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.scheduler.instigation import TickStatus

from adelie_assets.calendar import KST
from tests.reliability.conftest import REPO, python_subprocess
from tests.reliability.scheduler import daemon_workspace, iterate

MONDAY = datetime(2026, 11, 30, tzinfo=KST)  # the 08:00 tick targets Friday 2026-11-27


def at(day: datetime, hour: int, minute: int) -> datetime:
    return day.replace(hour=hour, minute=minute)


@pytest.fixture(scope="module")
def template_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DAGSTER_HOME whose daemon ran at 07:59 on Monday: the schedule is RUNNING, nothing is due."""
    home = tmp_path_factory.mktemp("template") / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as mp:
        for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_DB", "DAGSTER_PG_PASSWORD"):
            mp.delenv(name, raising=False)
        mp.setenv("DAGSTER_HOME", str(home))
        with DagsterInstance.from_config(str(home)) as instance, daemon_workspace(instance) as daemon:
            assert iterate(daemon, at(MONDAY, 7, 59)) == []
            assert instance.get_runs() == []
    return home


@pytest.fixture
def home(template_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    shutil.copytree(template_home, home)  # ~0.1 s instead of ~2 s for a new SQLite instance
    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_DB", "DAGSTER_PG_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def runs_by_partition(instance: DagsterInstance) -> dict[str, list[DagsterRunStatus]]:
    found: dict[str, list[DagsterRunStatus]] = {}
    for run in instance.get_runs():
        found.setdefault(run.tags["dagster/partition"], []).append(run.status)
    return found


def schedule_ticks(instance: DagsterInstance) -> list[object]:
    state = next(s for s in instance.all_instigator_state() if s.instigator_name == "daily_pipeline_schedule")
    return list(instance.get_ticks(state.instigator_origin_id, state.selector_id))


def test_daemon_down_over_the_tick_then_restarted_twice_launches_one_run(home: Path):
    with DagsterInstance.from_config(str(home)) as instance, daemon_workspace(instance) as daemon:
        # Down from 07:59 to 08:07: the restarted daemon catches the missed 08:00 tick up, once.
        assert iterate(daemon, at(MONDAY, 8, 7)) == []
        assert runs_by_partition(instance) == {"2026-11-27": [DagsterRunStatus.QUEUED]}
        # Restarted again at once, and later: the same tick is never evaluated again.
        assert iterate(daemon, at(MONDAY, 8, 7)) == []
        assert iterate(daemon, at(MONDAY, 8, 30)) == []
        assert runs_by_partition(instance) == {"2026-11-27": [DagsterRunStatus.QUEUED]}
        ticks = schedule_ticks(instance)
        assert [(t.status, t.run_keys) for t in ticks] == [(TickStatus.SUCCESS, ["2026-11-27"])]


CRASH_POINTS = ("TICK_CREATED", "RUN_CREATED", "RUN_LAUNCHED")


@pytest.fixture(scope="module")
def killed_daemons(template_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One DAGSTER_HOME per crash point, each with a daemon SIGKILLed there during the 08:00 tick.
    The three daemons run at once (each is a fresh interpreter; in a row they would take 3x as long)."""
    homes, procs = {}, {}
    for crash_at in CRASH_POINTS:
        home = tmp_path_factory.mktemp(f"killed_{crash_at.lower()}") / "dagster_home"
        shutil.copytree(template_home, home)
        homes[crash_at] = home
        procs[crash_at] = python_subprocess(
            "from tests.reliability.scheduler import main; main()",
            {"DAGSTER_HOME": str(home)},
            args=[str(home), at(MONDAY, 8, 1).replace(tzinfo=None).isoformat(), crash_at],
        )
    for crash_at, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=180)
        assert proc.returncode == -signal.SIGKILL, (crash_at, stdout, stderr[-2000:])
    return homes


@pytest.mark.parametrize(
    "crash_at",
    [
        "TICK_CREATED",  # the tick is stored as STARTED, nothing else
        "RUN_CREATED",  # created, not submitted: the resumed tick submits that same run
        "RUN_LAUNCHED",  # submitted (QUEUED), killed before the tick records it
    ],
)
def test_daemon_killed_mid_tick_then_restarted_launches_exactly_one_run(
    killed_daemons: dict[str, Path], crash_at: str, monkeypatch: pytest.MonkeyPatch
):
    home = killed_daemons[crash_at]
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.from_config(str(home)) as instance, daemon_workspace(instance) as daemon:
        assert iterate(daemon, at(MONDAY, 8, 3)) == []  # the restarted daemon
        assert iterate(daemon, at(MONDAY, 8, 4)) == []  # and once more
        runs = runs_by_partition(instance)
        assert list(runs) == ["2026-11-27"] and len(runs["2026-11-27"]) == 1, runs
        assert runs["2026-11-27"] == [DagsterRunStatus.QUEUED], "the one run was never submitted"
