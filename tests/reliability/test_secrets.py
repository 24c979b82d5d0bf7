"""No secret leaks: the whole pipeline runs with sentinel credentials, then everything Dagster stored
(every row of every table of its Postgres storage, every file under DAGSTER_HOME, compute logs
included), the warehouse, the run process's own console output and the failure alerts posted to the
webhook are searched for them.

The run happens in a fresh interpreter, as a run worker would: `adelie_assets.definitions` is
imported there with the sentinels in its environment, and pykrx is imported for the first time
inside the market_data step, under Dagster's compute-log capture. Dagster's storage is Postgres on
the suite's private cluster, where the role really authenticates with DAGSTER_PG_PASSWORD
(scram-sha-256), and the warehouse URL carries the same password, as in deploy/docker-compose.yml.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg2
import pytest

from adelie_fakes.krx import FakeKrx
from adelie_fakes.openai import FakeOpenAI
from tests.reliability.conftest import REPO, PrivatePostgres, python_subprocess

pytestmark = pytest.mark.postgres

# One pipeline run per scenario, each on its own partition, all in one run-worker-like process.
RUNNER = r"""
import json, logging, sys, time
from types import SimpleNamespace
started = time.monotonic()
logging.basicConfig(level=logging.INFO)
import requests
from dagster import DagsterInstance, build_run_status_sensor_context
from adelie_assets.definitions import defs  # first import: reads the sentinel environment
from adelie_assets.defs.pipeline.alerts import alert_on_run_failure

krx_url, llm_url = sys.argv[1], sys.argv[2]
plan = json.loads(sys.argv[3])
instance = DagsterInstance.get()
print("TIMING setup", round(time.monotonic() - started, 2), flush=True)
job = defs.resolve_job_def("daily_pipeline")
outcome = {}
for name, key, krx_fault, llm_fault in plan:
    requests.post(krx_url + "/_fake/fault", json={"fault": krx_fault}, timeout=5).raise_for_status()
    requests.post(llm_url + "/_fake/fault", json={"fault": llm_fault}, timeout=5).raise_for_status()
    result = job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False)
    steps = {
        e.step_key: e.event_type_value
        for e in result.all_events
        if e.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE")
        and e.step_key in ("market_data", "historical_cases")
    }
    outcome[name] = {"success": result.success, "run_id": result.run_id, "steps": steps}
    if not result.success:  # what the daemon's failure sensor does next: post to the webhook
        alert_on_run_failure(
            build_run_status_sensor_context(
                sensor_name="alert_on_run_failure",
                dagster_event=result.get_run_failure_event(),
                dagster_instance=instance,
                dagster_run=result.dagster_run,
                context=SimpleNamespace(log=logging.getLogger("alert_on_run_failure")),
                repository_def=defs.get_repository_def(),
            )
        )
    print("TIMING", name, round(time.monotonic() - started, 2), flush=True)
print("OUTCOME " + json.dumps(outcome))
"""

PLAN = [
    # name, partition, KRX fault, LLM fault
    ("success", "2026-11-27", None, None),
    ("llm_401", "2026-11-26", None, "bad_key"),
    ("krx_logout", "2026-11-25", "logout", None),
    ("krx_bad_login", "2026-11-24", "bad_login", None),
]


class WebhookCapture:
    """A local stand-in for the Slack webhook: records every POST body it receives."""

    def __init__(self) -> None:
        bodies: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                bodies.append(self.rfile.read(length).decode("utf-8", "replace"))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.bodies = bodies
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> WebhookCapture:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Sentinels:
    krx_id: str
    krx_pw: str
    openai_key: str
    pg_password: str
    webhook: str

    @classmethod
    def make(cls, webhook_origin: str) -> Sentinels:
        def token(kind: str) -> str:
            return f"SENTINEL{kind}{uuid.uuid4().hex[:12]}"

        return cls(
            krx_id=token("krxid"),
            krx_pw=token("krxpw"),
            openai_key="sk-proj-" + token("openai"),
            pg_password=token("pgpw"),
            webhook=f"{webhook_origin}/services/" + token("hook"),
        )

    def needles(self) -> dict[str, str]:
        """What must never be found: each value, its distinctive part, and the masked key OpenAI's 401
        text shows (first 3 and last 4 characters)."""
        key = self.openai_key
        found = {
            "KRX_ID": self.krx_id,
            "KRX_PW": self.krx_pw,
            "OPENAI_API_KEY": key,
            "OPENAI_API_KEY (masked as in OpenAI's 401 text)": f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}",
            "DAGSTER_PG_PASSWORD": self.pg_password,
            "ADELIE_ALERT_WEBHOOK_URL": self.webhook,
        }
        for name, value in list(found.items()):
            if "SENTINEL" in value:
                found[f"{name} (token)"] = value[value.index("SENTINEL") :]
        return found


def find_leaks(text: str, needles: dict[str, str], where: str) -> list[str]:
    return [f"{name} in {where}" for name, needle in needles.items() if needle in text]


@dataclass
class SecretRun:
    sentinels: Sentinels
    outcome: dict[str, dict]
    dagster_home: Path
    state_dir: Path
    storage_db: str
    warehouse_db: str
    console: str
    seconds: float
    alerts: list[str]


@pytest.fixture(scope="module")
def secret_run(private_pg: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory):
    private_pg.ensure_running()
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")  # production: Postgres
    state = tmp_path_factory.mktemp("state")
    with WebhookCapture() as webhook:
        sentinels = Sentinels.make(webhook.url)
        role = f"adelie_{uuid.uuid4().hex[:8]}"
        private_pg.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{sentinels.pg_password}'")
        storage_db = private_pg.create_database("dagster", owner=role)
        warehouse_db = private_pg.create_database("warehouse", owner=role)
        # The password is really checked: a wrong one is refused.
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(private_pg.dsn(storage_db, role, "wrong"), connect_timeout=5)
        with (
            FakeKrx(credentials=(sentinels.krx_id, sentinels.krx_pw)) as krx,
            FakeOpenAI(api_key=sentinels.openai_key) as llm,
        ):
            env = {
                "DAGSTER_HOME": str(home),
                "DAGSTER_PG_HOST": "127.0.0.1",
                "DAGSTER_PG_PORT": str(private_pg.port),
                "DAGSTER_PG_USER": role,
                "DAGSTER_PG_PASSWORD": sentinels.pg_password,
                "DAGSTER_PG_DB": storage_db,
                "KRX_ID": sentinels.krx_id,
                "KRX_PW": sentinels.krx_pw,
                "ADELIE_KRX_URL": krx.url,
                "ADELIE_KRX_DELAY_SECONDS": "0",
                "OPENAI_API_KEY": sentinels.openai_key,
                "OPENAI_BASE_URL": llm.base_url,
                "ADELIE_WAREHOUSE_URL": private_pg.url(warehouse_db, role, sentinels.pg_password),
                "ADELIE_ALERT_WEBHOOK_URL": sentinels.webhook,
                "ADELIE_STATE_DIR": str(state),
            }
            started = time.monotonic()
            proc = python_subprocess(RUNNER, env, args=[krx.url, llm.url, json.dumps(PLAN)])
            try:
                stdout, stderr = proc.communicate(timeout=240)
            finally:
                proc.kill()
            seconds = time.monotonic() - started
    assert proc.returncode == 0, stderr[-3000:]
    line = next(x for x in stdout.splitlines() if x.startswith("OUTCOME "))
    outcome = json.loads(line.removeprefix("OUTCOME "))
    return SecretRun(
        sentinels, outcome, home, state, storage_db, warehouse_db, stdout + stderr, seconds, webhook.bodies
    )


def test_the_runs_did_what_each_scenario_expects(secret_run: SecretRun) -> None:
    outcome = secret_run.outcome
    assert outcome["success"]["success"]
    assert outcome["success"]["steps"] == {"market_data": "STEP_SUCCESS", "historical_cases": "STEP_SUCCESS"}
    assert outcome["llm_401"]["steps"] == {"market_data": "STEP_SUCCESS", "historical_cases": "STEP_FAILURE"}
    assert outcome["krx_logout"]["steps"] == {"market_data": "STEP_FAILURE"}
    assert outcome["krx_bad_login"]["steps"] == {"market_data": "STEP_FAILURE"}


def _table_texts(pg: PrivatePostgres, dbname: str) -> dict[str, list[str]]:
    conn = pg.admin(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
            )
            tables = [row[0] for row in cur.fetchall()]
            texts = {}
            for table in tables:
                cur.execute(f'SELECT t::text FROM "{table}" t')
                texts[table] = [row[0] for row in cur.fetchall()]
            return texts
    finally:
        conn.close()


def test_no_sentinel_in_any_row_of_dagster_storage(secret_run: SecretRun, private_pg: PrivatePostgres):
    private_pg.ensure_running()
    tables = _table_texts(private_pg, secret_run.storage_db)
    needles = secret_run.sentinels.needles()
    leaks = [
        leak
        for table, rows in tables.items()
        for leak in find_leaks("\n".join(rows), needles, f"Dagster storage table {table}")
    ]
    assert leaks == []
    # The scan is not vacuous: the runs, their failures and the metadata are all in there.
    assert {"runs", "event_logs", "run_tags", "asset_keys"} <= set(tables)
    events = "\n".join(tables["event_logs"])
    assert len(tables["runs"]) == len(PLAN)
    assert "KRX answered LOGOUT" in events and "rejected the API key (HTTP 401)" in events
    assert "KRX rejected the login" in events
    # The warehouse URL (which holds DAGSTER_PG_PASSWORD) is shown masked in metadata and logs.
    assert ":***@127.0.0.1" in events


def test_no_sentinel_in_any_file_under_dagster_home(secret_run: SecretRun):
    needles = secret_run.sentinels.needles()
    files = [p for p in secret_run.dagster_home.rglob("*") if p.is_file()]
    leaks = [
        leak
        for path in files
        for leak in find_leaks(path.read_bytes().decode("utf-8", "replace"), needles, str(path))
    ]
    assert leaks == []
    compute_logs = [p for p in files if p.suffix in (".out", ".err")]
    assert compute_logs, "no compute logs were captured: the scan would prove nothing"
    captured = "".join(p.read_text("utf-8", "replace") for p in compute_logs)
    assert "rows written to postgresql+psycopg2://" in captured  # the step logs really are in there


def test_no_sentinel_in_the_warehouse_or_the_state_dir(secret_run: SecretRun, private_pg: PrivatePostgres):
    private_pg.ensure_running()
    needles = secret_run.sentinels.needles()
    tables = _table_texts(private_pg, secret_run.warehouse_db)
    assert len(tables["market_data"]) == 2388 * 2  # the success run and the LLM-401 run's first step
    assert len(tables["historical_cases"]) == 5
    leaks = [leak for t, rows in tables.items() for leak in find_leaks("\n".join(rows), needles, t)]
    for path in (p for p in secret_run.state_dir.rglob("*") if p.is_file()):
        leaks += find_leaks(path.read_bytes().decode("utf-8", "replace"), needles, str(path))
    assert leaks == []


def test_no_sentinel_in_the_run_process_console(secret_run: SecretRun):
    # What a container's log (docker's json-file) would keep: the run process's stdout and stderr.
    assert find_leaks(secret_run.console, secret_run.sentinels.needles(), "console") == []
    assert "STEP_FAILURE" in secret_run.console  # the console carries the failures, masked


def test_no_sentinel_in_the_failure_alerts(secret_run: SecretRun):
    # The alert sensor posted one message per failed run, each with its error, and no secret.
    assert len(secret_run.alerts) == 3
    assert any("rejected the API key (HTTP 401)" in body for body in secret_run.alerts)
    assert any("KRX answered LOGOUT" in body for body in secret_run.alerts)
    assert find_leaks("\n".join(secret_run.alerts), secret_run.sentinels.needles(), "alert payloads") == []


def test_pykrx_would_print_the_login_id_and_the_krx_resource_keeps_it_out(secret_run: SecretRun):
    """Positive control: pykrx's own session builder prints the id to stdout. The run above imported
    pykrx and logged in inside the step under compute-log capture, and no log holds the id."""
    from adelie_assets.resources.krx import KRX, _load_pykrx

    with FakeKrx(credentials=("control-login-id", "control-pw")) as fake:
        pykrx = _load_pykrx()
        KRX(base_url=fake.url)._point_pykrx_at_origin(pykrx)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            session = pykrx.auth.build_krx_session("control-login-id", "control-pw")
    assert session is not None and "control-login-id" in printed.getvalue()
