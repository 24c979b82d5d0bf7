"""The playground as a newcomer meets it (issue 16): its first minute, a backfill launched by clicking,
and Ctrl-C / SIGTERM leaving nothing behind, also with a run in flight."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from tests.e2e.harness import REPO_ROOT, TERMINAL_BACKFILL_STATUSES, processes_with_env, wait_until
from tests.playground.conftest import RunningPlayground, copy_state

pytestmark = [pytest.mark.slow]

FIRST_MINUTE = 60.0
STOP_BUDGET_SECONDS = 10.0
SCREENSHOT = REPO_ROOT / "artifacts" / "playground-backfill.png"
SENSOR_TICKS = """query Ticks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    ... on Sensor { sensorState { ticks(limit: 10) { status skipReason error { message } } } }
  }
}"""
PARTITION_STATUS = """query Status($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) { ... on AssetNode { assetPartitionStatuses {
    ... on TimePartitionStatuses { ranges { status startKey endKey } } } } }
}"""
BACKFILLS = """{ partitionBackfillsOrError(limit: 5) { ... on PartitionBackfills { results {
  id status numPartitions assetSelection { path } runs { runId status tags { key value } } } } } }"""
LAUNCH_RUN = """mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) { __typename ... on LaunchRunSuccess { run { runId } } } }"""


def warehouse(state: Path) -> sqlite3.Connection:
    return sqlite3.connect(state / "warehouse.sqlite")


def days_with_quotes_but_no_cases(state: Path) -> list[str]:
    with warehouse(state) as db:
        quoted = {row[0] for row in db.execute("select distinct trade_date from market_data")}
        cased = {row[0] for row in db.execute("select distinct trade_date from historical_cases")}
    return sorted(str(day)[:10] for day in quoted - cased)


def is_materialized(playground: RunningPlayground, asset: str, key: str) -> bool:
    ranges = playground.graphql(PARTITION_STATUS, {"key": {"path": [asset]}})["assetNodeOrError"][
        "assetPartitionStatuses"
    ]["ranges"]
    return any(r["status"] == "MATERIALIZED" and r["startKey"] <= key <= r["endKey"] for r in ranges)


def listening(port: int) -> bool:
    """Whether anything still listens on 127.0.0.1:`port`. SO_REUSEADDR: a closed server's
    connections in TIME_WAIT are no listener (and would make a plain bind fail for a minute)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_first_minute_launches_no_run_that_fails(playground: RunningPlayground) -> None:
    assert playground.ready_at is not None
    seen: dict[str, dict] = {}
    while time.monotonic() < playground.ready_at + FIRST_MINUTE:
        for run in playground.runs():
            seen[run["runId"]] = run
        time.sleep(5)

    # A run launched in that minute is waited for, however long it takes to finish.
    def settled() -> bool:
        runs = {r["runId"]: r for r in playground.runs()}
        return all(runs[i]["status"] in {"SUCCESS", "FAILURE", "CANCELED"} for i in seen)

    wait_until(settled, 300, "the first minute's runs to finish", 2)
    runs = playground.runs()
    assert [r for r in runs if r["status"] != "SUCCESS"] == [], "a run of the playground did not succeed"
    # The demo's own runs are all there is, each labelled as demo.
    assert runs and all({"key": "adelie/demo", "value": "true"} in r["tags"] for r in runs)
    # The daemon was up and its catch-up sensor found nothing the demo had left to do.
    selector = {
        "repositoryLocationName": "adelie_assets",
        "repositoryName": "__repository__",
        "sensorName": "catch_up_missed_days",
    }
    ticks = playground.graphql(SENSOR_TICKS, {"selector": selector})["sensorOrError"]["sensorState"]["ticks"]
    assert ticks, "the catch-up sensor never ticked in the playground's first minute"
    assert all(t["status"] == "SKIPPED" for t in ticks), ticks
    assert "materialized or accounted for" in ticks[0]["skipReason"]


def test_backfill_of_five_days_launched_by_clicking(playground: RunningPlayground, browser) -> None:
    days = days_with_quotes_but_no_cases(playground.state)[-5:]
    assert len(days) == 5, "the demo keeps source history before its analysed days"
    with warehouse(playground.state) as db:
        cases_before = db.execute("select count(*) from historical_cases").fetchone()[0]

    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(90_000)
    page.goto(playground.url + "/asset-groups", wait_until="networkidle")
    materialize_all = page.locator("button:has-text('Materialize all'):not([disabled])").first
    materialize_all.wait_for()
    # A first visit gets Dagster's "Join the community" dialog, a few seconds after the page.
    try:
        page.locator("button:has-text('Skip')").click(timeout=8_000)
    except Exception:  # noqa: BLE001 - it did not come this time
        pass
    # First impression: each asset page shows its latest materialization with its preview.
    with warehouse(playground.state) as db:
        [(latest_title,)] = db.execute(
            "select title from historical_cases order by trade_date desc, theme_rank limit 1"
        ).fetchall()
    for asset, expected in (("market_data", "Top gainers"), ("historical_cases", latest_title)):
        asset_page = browser.new_page(viewport={"width": 1600, "height": 1000})
        asset_page.set_default_timeout(90_000)
        asset_page.goto(f"{playground.url}/assets/{asset}", wait_until="networkidle")
        asset_page.locator("text=Latest materialization").first.wait_for()
        asset_page.get_by_text(expected).first.wait_for()
        asset_page.close()
    materialize_all.click()
    dialog = page.get_by_role("dialog")
    dialog.locator("text=Partition selection").wait_for()
    partitions = dialog.locator("input[type=text]").first
    partitions.click()
    partitions.fill(f"[{days[0]}...{days[-1]}]")
    partitions.press("Enter")
    # Exact: "Showing 61 of 6635 partitions" holds "5 partitions" too, on days the count ends in 5.
    dialog.get_by_text("5 partitions", exact=True).wait_for()
    dialog.locator("button:has-text('Launch backfill')").click()
    dialog.wait_for(state="hidden")

    def finished() -> dict | None:
        backfills = playground.graphql(BACKFILLS)["partitionBackfillsOrError"]["results"]
        if not backfills:
            return None
        latest = backfills[0]
        done = latest["status"] in TERMINAL_BACKFILL_STATUSES
        runs_done = all(r["status"] in {"SUCCESS", "FAILURE", "CANCELED"} for r in latest["runs"])
        return latest if done and runs_done and latest["runs"] else None

    backfill = wait_until(finished, 600, "the clicked backfill to finish", 2)
    assert backfill["numPartitions"] == 5
    assert backfill["status"] in {"COMPLETED", "COMPLETED_SUCCESS"}, backfill
    assert all(r["status"] == "SUCCESS" for r in backfill["runs"]), backfill["runs"]
    assert all({"key": "adelie/demo", "value": "true"} in r["tags"] for r in backfill["runs"])

    # Green in the partitions view: each day is materialized for every asset of the backfill.
    for path in backfill["assetSelection"]:
        for day in days:
            assert is_materialized(playground, path["path"][0], day), (path, day)
    page.goto(playground.url + "/assets/historical_cases?view=partitions", wait_until="networkidle")
    page.wait_for_timeout(2_000)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    page.close()

    with warehouse(playground.state) as db:
        per_day = dict(
            db.execute(
                f"select substr(trade_date, 1, 10), count(*) from historical_cases "
                f"where substr(trade_date, 1, 10) in ({', '.join('?' * len(days))}) group by 1",
                days,
            ).fetchall()
        )
        cases_after = db.execute("select count(*) from historical_cases").fetchone()[0]
    assert sorted(per_day) == days and all(count >= 1 for count in per_day.values()), per_day
    assert cases_after == cases_before + sum(per_day.values())


@pytest.mark.parametrize("how", ["ctrl-c in a terminal", "SIGTERM without a terminal", "SIGINT to the group"])
def test_stop_leaves_no_process_and_no_port(demo_state: Path, tmp_path: Path, how: str) -> None:
    state = copy_state(demo_state, tmp_path / "state")
    # Slow KRX answers keep the run below in flight while the playground is stopped.
    playground = RunningPlayground(state, terminal=how.startswith("ctrl-c"), krx_latency=5.0)
    try:
        playground.wait_ready()
        ports = [playground.port, *playground.fake_ports()]
        day = days_with_quotes_but_no_cases(state)[-1]
        params = {
            "selector": {
                "repositoryLocationName": "adelie_assets",
                "repositoryName": "__repository__",
                "jobName": "daily_pipeline",
            },
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": day}]},
        }
        launched = playground.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        wait_until(
            lambda: {r["runId"]: r for r in playground.runs()}[run_id]["status"] == "STARTED",
            120,
            "the run to start",
            0.5,
        )

        stopping = time.monotonic()
        if how.startswith("ctrl-c"):
            playground.ctrl_c()
        elif how.startswith("SIGTERM"):
            playground.proc.send_signal(signal.SIGTERM)
        else:
            # What a process manager or a shell without job control sends: the whole group.
            os.killpg(playground.proc.pid, signal.SIGINT)
        playground.proc.wait(timeout=30)
        elapsed = time.monotonic() - stopping
    finally:
        playground.stop()

    assert elapsed < STOP_BUDGET_SECONDS, f"stopped in {elapsed:.1f} s:\n{playground.output[-3000:]}"
    assert playground.proc.returncode == 0, playground.output[-3000:]
    left = processes_with_env("DAGSTER_HOME", str(state / "dagster_home"))
    assert left == [], left
    assert [port for port in ports if listening(port)] == [], f"still listening; UI, KRX, OpenAI: {ports}"
    # The run it interrupted is canceled, not left running for the next session to fail.
    with sqlite3.connect(state / "dagster_home" / "history" / "runs.db") as db:
        [(status,)] = db.execute("select status from runs where run_id = ?", (run_id,)).fetchall()
    assert status == "CANCELED"
