"""One iteration of Dagster's scheduler daemon, at a frozen time, on the production `dagster.yaml`.

`iterate()` is what `dagster-daemon run` does once a minute for the schedule (dagster 1.13's
`dagster._scheduler.scheduler.launch_scheduled_runs`, with the instance's own max_catchup_runs and
max_tick_retries), with no in-memory scheduler state (`iteration_times={}`), i.e. as a daemon that
has just been (re)started: all it knows is what the instance stored (schedule state, ticks, runs).

`crash_at` is one of Dagster's own debug crash points (TICK_CREATED, RUN_CREATED, RUN_LAUNCHED,
RUN_ADDED, TICK_SUCCESS): the process SIGKILLs itself there, as an OOM kill or a container restart
would. Run as a script for that:

    python -c "from tests.reliability.scheduler import main; main()" DAGSTER_HOME 2026-11-30T08:01 RUN_CREATED
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from dagster import DagsterInstance
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import IWorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._scheduler.scheduler import launch_scheduled_runs

from adelie_assets.calendar import KST
from adelie_assets.defs.pipeline.schedules import SCHEDULE_NAME

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def daemon_workspace(instance: DagsterInstance) -> Iterator[IWorkspaceProcessContext]:
    """The daemon's view of the code location (adelie_assets.definitions, loaded in this process)."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name="adelie_assets.definitions",
            working_directory=str(REPO),
        ),
        location_name="adelie_assets",
    )
    with create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as context:
        yield context


def iterate(context: IWorkspaceProcessContext, when: datetime, crash_at: str | None = None) -> list[object]:
    """One scheduler iteration at `when` (KST if naive) by a daemon that has just started: it has no
    in-memory iteration state, only what the instance stored. Returns the errors it reported."""
    when = when if when.tzinfo else when.replace(tzinfo=KST)
    instance = context.instance
    scheduler = instance.scheduler
    flags = {SCHEDULE_NAME: {crash_at: signal.SIGKILL}} if crash_at else None
    with freeze_time(when):
        return [
            error
            for error in launch_scheduled_runs(
                context,
                logging.getLogger("adelie.reliability.scheduler"),
                end_datetime_utc=when.astimezone(UTC),
                iteration_times={},  # a restarted daemon remembers nothing
                max_catchup_runs=scheduler.max_catchup_runs,  # type: ignore[union-attr]
                max_tick_retries=scheduler.max_tick_retries,  # type: ignore[union-attr]
                debug_crash_flags=flags,  # type: ignore[arg-type]
            )
            if error
        ]


def main() -> None:
    home, when, crash_at = sys.argv[1], sys.argv[2], sys.argv[3]
    with DagsterInstance.from_config(home) as instance, daemon_workspace(instance) as context:
        errors = iterate(context, datetime.fromisoformat(when), None if crash_at == "-" else crash_at)
    print(f"survived errors={len(errors)}", flush=True)
