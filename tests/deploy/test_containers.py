"""The production image, run: code server, webserver and daemon in containers as compose runs them.

The Dockerfile, deploy/docker-compose.yml and deploy/workspace.yaml are checked as text in
tests/test_deploy_config.py; here they run. What only a running image shows: the non-root user's
file permissions, the workspace's host names, the shared compute-log volume, the code server's
gRPC port and health checks, the run worker's environment, and how the containers stop.
Everything goes through the webserver's GraphQL API (tests/e2e/harness.py's helpers), and the
warehouse is read back from Postgres. The base image is a Debian stand-in (tests/deploy/engine.py).
"""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Any

import psycopg2
import pytest

from adelie_assets.defs.pipeline.jobs import DAILY_ASSETS
from adelie_assets.resources.warehouse import Warehouse
from tests.deploy.deployment import (
    Deployment,
    UidSampler,
    docker,
    files_in_image,
    image_stream_contains,
    inspect,
)
from tests.e2e.harness import LOCATION_NAME, wait_until
from tests.history import seed_history_before

pytestmark = [pytest.mark.deploy, pytest.mark.postgres, pytest.mark.slow]

# Every asset of the daily job: the backfill writes each table, as the schedule does.
ASSETS = [key.to_user_string() for key in DAILY_ASSETS]
DAILY_DAY = "2026-11-27"
BACKFILL_DAYS = ["2026-11-24", "2026-11-25", "2026-11-26"]
ROWS_PER_DAY = 2388  # KOSPI + KOSDAQ tickers of the fake KRX
CASES_PER_DAY = 5
RUN_TIMEOUT = 300  # the backfill daemon's fixed 30 s loop three times, plus the runs
RUNTIME_UID = "10001"
# The run in flight while the containers stop: its two KRX calls take this long each.
IN_FLIGHT_DAY = "2026-11-23"
IN_FLIGHT_KRX_LATENCY = 4.0


@pytest.fixture(scope="module")
def runs(deployment: Deployment) -> dict[str, Any]:
    """The daily job for one trading day and a 3-day backfill, launched together and awaited,
    while every container's processes are sampled."""
    deployment.wait_healthy("user_code", "webserver", "daemon")
    # The history market_analogs searches (~100 trading days before the first day run here).
    warehouse = Warehouse(url=f"postgresql+psycopg2://postgres@127.0.0.1:5432/{deployment.warehouse_db}")
    seed_history_before(warehouse, date.fromisoformat(IN_FLIGHT_DAY))
    with deployment.sample_uids() as sampler:
        started = time.monotonic()
        daily_id = deployment.launch_job_run("daily_pipeline", DAILY_DAY)
        backfill_id = deployment.launch_asset_backfill(ASSETS, BACKFILL_DAYS, title="deploy test")
        daily = deployment.wait_for_run(daily_id, RUN_TIMEOUT)
        backfill = deployment.wait_for_backfill(backfill_id, RUN_TIMEOUT)
        sampler.sample()
    assert deployment.build is not None
    print(
        f"deploy: image build {deployment.build.seconds:.1f} s (cached layers as found), "
        f"services up {deployment.startup_seconds:.0f} s, "
        f"daily run + 3-day backfill {time.monotonic() - started:.0f} s"
    )
    return {"daily": daily, "backfill": backfill, "sampler": sampler}


def test_the_image_holds_no_fakes_no_tests_and_no_dev_tools(deployment: Deployment) -> None:
    image = deployment.image
    app_files = list(files_in_image(image, "/opt/dagster"))
    site = docker(
        "run",
        "--rm",
        "--network",
        "none",
        image,
        "python",
        "-c",
        "import sysconfig; print(sysconfig.get_paths()['purelib'])",
    ).stdout.strip()
    package_files = list(files_in_image(image, f"{site}/adelie_assets"))
    assert package_files, "adelie_assets is not installed in the image"
    everything = app_files + package_files
    assert not [p for p in everything if "/fakes/" in p or p.endswith(("krx_server.py", "openai_server.py"))]
    assert not [p for p in everything if "/tests/" in p or p.split("/")[-1].startswith("test_")]
    assert not [p for p in everything if p.endswith(("demo.py", "krx_samples"))]
    # One copy of the package: the installed one, also for a process started in the WORKDIR.
    where = docker(
        "run",
        "--rm",
        "--network",
        "none",
        image,
        "python",
        "-c",
        "import adelie_assets; print(adelie_assets.__file__)",
    ).stdout.strip()
    assert where == f"{site}/adelie_assets/__init__.py"
    probe = docker(
        "run",
        "--rm",
        "--network",
        "none",
        image,
        "python",
        "-c",
        "import importlib.util as u; print([m for m in ('adelie_fakes', 'tests', 'pytest', "
        "'ruff', 'playwright', 'adelie_assets.fakes') if u.find_spec(m.split('.')[0]) and "
        "u.find_spec(m)])",
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]", f"importable in the image: {probe.stdout.strip()}"
    tools = docker(
        "run",
        "--rm",
        "--network",
        "none",
        image,
        "sh",
        "-c",
        "for t in gcc cc make git curl; do command -v $t; done; true",
    ).stdout.split()
    assert tools == [], f"build tools in the image: {tools}"


def test_no_secret_in_the_layers_the_history_or_the_image_config(deployment: Deployment) -> None:
    """deploy/.env with the sentinel secrets sat in the build context, as it does on an operator's
    host: none of them may reach a layer, the build history or the image's config."""
    assert deployment.env_file is not None and deployment.env_file.read_text().count("SENTINEL") >= 3
    secrets = deployment.sentinels.all()
    assert image_stream_contains(deployment.image, secrets) == []
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", deployment.image).stdout
    image_config = docker("image", "inspect", deployment.image).stdout
    for text in (history, image_config):
        assert [n for n, v in secrets.items() if v in text] == []


def test_webserver_and_daemon_hold_only_the_storage_credentials(deployment: Deployment) -> None:
    """Only user_code gets KRX/OpenAI keys (compose's env_file); webserver and daemon only the
    Postgres settings, so `docker inspect` of those two shows no application secret."""
    application = deployment.sentinels.application()
    for name in ("webserver", "daemon"):
        text = json.dumps(inspect(deployment.containers[name]))
        assert [n for n, v in application.items() if v in text] == [], name
    user_code_env = inspect(deployment.containers["user_code"])["Config"]["Env"]
    assert f"OPENAI_API_KEY={application['OPENAI_API_KEY']}" in user_code_env


def test_the_code_location_loads_from_the_code_server_container(deployment: Deployment) -> None:
    query = """{ workspaceOrError { ... on Workspace { locationEntries {
        name loadStatus displayMetadata { key value }
        locationOrLoadError { __typename ... on RepositoryLocation { repositories { name
          assetNodes { assetKey { path } } } } ... on PythonError { message } } } } } }"""
    [entry] = deployment.graphql(query)["workspaceOrError"]["locationEntries"]
    assert (entry["name"], entry["loadStatus"]) == (LOCATION_NAME, "LOADED")
    location = entry["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    # deploy/workspace.yaml's gRPC server, reached by its compose host name and port.
    metadata = {m["key"]: m["value"] for m in entry["displayMetadata"]}
    assert (metadata["host"], metadata["port"]) == (
        "user_code",
        str(deployment.services["user_code"].container_port()),
    )
    [repository] = location["repositories"]
    keys = {"/".join(n["assetKey"]["path"]) for n in repository["assetNodes"]}
    assert set(ASSETS) <= keys
    # instance_init's pool limits are what the queue enforces.
    limits = deployment.graphql("{ instance { concurrencyLimits { concurrencyKey slotCount } } }")
    slots = {c["concurrencyKey"]: c["slotCount"] for c in limits["instance"]["concurrencyLimits"]}
    assert slots == {"krx": 1, "llm": 2}


def test_every_service_reports_healthy_by_its_own_health_check(deployment: Deployment) -> None:
    deployment.wait_healthy("user_code", "webserver", "daemon")
    init = inspect(deployment.containers["instance_init"])["State"]
    assert (init["Status"], init["ExitCode"]) == ("exited", 0)


def test_daily_run_and_three_day_backfill_write_the_warehouse(
    deployment: Deployment, runs: dict[str, Any]
) -> None:
    daily, backfill = runs["daily"], runs["backfill"]
    assert daily["status"] == "SUCCESS", daily
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    assert backfill["numPartitions"] == 3 and backfill["runs"]
    stats = deployment.step_stats(daily["runId"])
    assert stats["market_data"] == "SUCCESS" and stats["historical_cases"] == "SUCCESS", stats
    # The backfill: the KRX assets' run, then the others' (one backfill policy each).
    stats = {}
    for run in backfill["runs"]:
        stats.update(deployment.step_stats(run["runId"]))
    assert stats["market_data"] == "SUCCESS" and stats["historical_cases"] == "SUCCESS", stats
    assert len(backfill["runs"]) == 2, backfill["runs"]

    days = sorted([DAILY_DAY, *BACKFILL_DAYS])
    market = deployment.warehouse_query(
        "SELECT trade_date::text, count(*), count(DISTINCT ticker) FROM market_data "
        "WHERE trade_date >= %s GROUP BY 1 ORDER BY 1",
        (days[0],),
    )
    assert market == [(day, ROWS_PER_DAY, ROWS_PER_DAY) for day in days]
    cases = deployment.warehouse_query(
        "SELECT trade_date::text, count(*) FROM historical_cases GROUP BY 1 ORDER BY 1"
    )
    assert cases == [(day, CASES_PER_DAY) for day in days]
    briefings = deployment.warehouse_query(
        "SELECT briefing_date::text, count(*) FROM app_daily_briefings GROUP BY 1 ORDER BY 1"
    )
    assert briefings == [(day, 1) for day in days]  # the app's tables, in the warehouse when unset


def captured_logs(deployment: Deployment, run_id: str) -> str:
    """The run's compute logs as the UI shows them: written by the run in user_code, read by the
    webserver from the shared volume."""
    events = deployment.graphql(
        """query Logs($id: ID!) { logsForRun(runId: $id) { __typename ... on EventConnection {
             events { __typename ... on LogsCapturedEvent { fileKey } } } } }""",
        {"id": run_id},
    )["logsForRun"]["events"]
    file_keys = {e["fileKey"] for e in events if e["__typename"] == "LogsCapturedEvent"}
    assert file_keys, f"run {run_id} captured no logs"
    text = []
    for key in sorted(file_keys):
        logs = deployment.graphql(
            "query L($key: [String!]!) { capturedLogs(logKey: $key) { stdout stderr } }",
            {"key": [run_id, "compute_logs", key]},
        )["capturedLogs"]
        text += [logs["stdout"] or "", logs["stderr"] or ""]
    return "\n".join(text)


def test_the_webserver_shows_the_run_logs_and_no_log_holds_a_secret(
    deployment: Deployment, runs: dict[str, Any]
) -> None:
    logs = captured_logs(deployment, runs["daily"]["runId"])
    assert f"market_data {DAILY_DAY}: {ROWS_PER_DAY} rows written" in logs
    secrets = deployment.sentinels.all()
    for name in deployment.containers:
        text = deployment.logs(name)
        assert [n for n, v in secrets.items() if v in text] == [], f"{name}'s container log"
        # pykrx imports matplotlib, which needs a writable config dir for its font cache.
        assert "Permission denied" not in text, (
            f"{name}: {text[text.index('Permission denied') - 300 :][:600]}"
        )
    assert [n for n, v in secrets.items() if v in logs] == []


def test_every_process_runs_as_the_unprivileged_user(deployment: Deployment, runs: dict[str, Any]) -> None:
    sampler: UidSampler = runs["sampler"]
    seen = list(sampler.seen.values())
    by_service = {s.container for s in seen}
    assert by_service == {"user_code", "webserver", "daemon"}
    # The run workers (spawned by the code server) were caught while they ran.
    assert any("multiprocessing" in s.args for s in seen if s.container == "user_code"), seen
    assert [s for s in seen if s.uid != RUNTIME_UID] == []


def run_status_in_storage(deployment: Deployment, run_id: str) -> str:
    """A run's status read from Dagster's run storage directly (the webserver may be stopped)."""
    params = deployment._pg_params()
    params["dbname"] = str(deployment.dagster_db)
    with psycopg2.connect(**params, connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,))
        [(status,)] = cur.fetchall()
    return str(status)


def test_the_containers_stop_cleanly_and_let_a_run_in_flight_finish(
    deployment: Deployment, runs: dict[str, Any]
) -> None:
    """Last: `docker stop` in compose's order (dependants first), while a run is in flight. Each
    container must exit 0 on SIGTERM (through the init process) before its grace period ends, so
    SIGKILL never decides it, and the code server must wait for the run to report its end."""
    assert deployment.krx is not None
    for name in ("daemon", "webserver", "user_code"):
        assert inspect(deployment.containers[name])["RestartCount"] == 0, name
    deployment.krx.latency = IN_FLIGHT_KRX_LATENCY
    try:
        run_id = deployment.launch_job_run("daily_pipeline", IN_FLIGHT_DAY)
        wait_until(lambda: deployment.krx is not None and deployment.krx.in_flight > 0, 120, "a KRX call")
        results = {name: deployment.stop_service(name) for name in ("daemon", "webserver", "user_code")}
    finally:
        deployment.krx.latency = 0.0
    print(
        "deploy: docker stop with a run in flight: "
        + ", ".join(f"{n} {r.seconds:.1f} s (exit {r.exit_code})" for n, r in results.items())
    )
    for name, result in results.items():
        assert (result.exit_code, result.oom_killed) == (0, False), (name, result)
        assert result.seconds < result.grace_seconds, (name, result)
    # compose's stop_grace_period on user_code: the code server outlived the in-flight run.
    assert run_status_in_storage(deployment, run_id) == "SUCCESS"
    assert deployment.warehouse_query(
        "SELECT count(*) FROM market_data WHERE trade_date = %s", (IN_FLIGHT_DAY,)
    ) == [(ROWS_PER_DAY,)]
