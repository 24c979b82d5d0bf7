"""Issue 11, items 5-9 and 11: a password's '@' never leaks, every KRX and LLM call has a wall-clock
deadline, settings are bounded, a SQLite path typo creates nothing, one KRX call at a time per host
whatever the instance config, and a refused partition key can be explained.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize
from pydantic import BaseModel

from adelie_assets.calendar import explain_partition_key
from adelie_assets.defs.market.assets import market_data
from adelie_assets.defs.resources import build_resources
from adelie_assets.resources.krx import KRX
from adelie_assets.resources.llm import LLM, LlmError
from adelie_assets.resources.warehouse import Warehouse
from adelie_fakes.krx import FakeKrx
from tests.builders import krx_for, step_failures
from tests.reliability.conftest import REPO, free_port, python_subprocess

DAY = date(2026, 11, 27)


def run_market_data(resources: dict[str, object], instance: DagsterInstance | None = None):
    return materialize(
        [market_data],
        partition_key=DAY.isoformat(),
        resources=resources,
        instance=instance or DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


# --- item 5: a password with an unencoded '@' -----------------------------------------------------

LEAK_RUNNER = r"""
import sys
from dagster import DagsterInstance
from adelie_assets.definitions import defs
result = defs.resolve_job_def("daily_pipeline").execute_in_process(
    instance=DagsterInstance.get(), partition_key=sys.argv[1], raise_on_error=False
)
for event in result.all_events:
    if event.is_step_failure:
        error = event.step_failure_data.error
        while error is not None:
            print("FAILURE", error.message)
            error = error.cause
"""


@pytest.mark.parametrize(
    "password",
    ["p@ss-TAILSECRET-x", "p@ss/TAILSECRET@x", "p%40ss-TAILSECRET-x"],
    ids=["one-unencoded-at", "slash-and-two-ats", "encoded-at"],
)
def test_a_password_with_an_at_sign_leaks_nowhere(tmp_path: Path, fake_krx: FakeKrx, password: str):
    home = tmp_path / "dagster_home"
    home.mkdir()
    url = f"postgresql://adelie:{password}@127.0.0.1:{free_port()}/warehouse"  # nothing listens there
    env = {
        "DAGSTER_HOME": str(home),
        "ADELIE_STATE_DIR": str(tmp_path / "state"),
        "ADELIE_WAREHOUSE_URL": url,
        "ADELIE_KRX_URL": fake_krx.url,
        "KRX_ID": "demo-user",
        "KRX_PW": "demo-pass",
        "ADELIE_KRX_DELAY_SECONDS": "0",
    }
    proc = python_subprocess(LEAK_RUNNER, env=env, args=[DAY.isoformat()])
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    failure = "\n".join(line for line in out.splitlines() if line.startswith("FAILURE"))
    assert "ADELIE_WAREHOUSE_URL" in failure
    if "%40" not in password:
        assert "percent-encode" in failure
    haystacks = {"stdout": out, "stderr": err}
    for path in home.rglob("*"):
        if path.is_file():  # run and event-log storage (SQLite) and the compute logs
            haystacks[str(path.relative_to(home))] = path.read_bytes().decode("utf-8", "replace")
    assert any(name.endswith((".out", ".err")) for name in haystacks), sorted(haystacks)
    assert any("index.db" in name or name.endswith(".db") for name in haystacks), sorted(haystacks)
    for where, text in haystacks.items():
        assert "TAILSECRET" not in text, where
    assert fake_krx.data_request_count == 0  # the warehouse is refused before any KRX call


# --- item 6: wall-clock deadlines -----------------------------------------------------------------


class Trickle:
    """An HTTP server that answers every request with a 200 whose body comes one byte at a time."""

    def __init__(self, interval: float = 0.1, size: int = 10_000) -> None:
        self.requests = 0
        trickle = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                trickle.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                try:
                    for _ in range(size):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(interval)
                except OSError:
                    pass  # the client gave up, as it should

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def trickle() -> Iterator[Trickle]:
    server = Trickle()
    yield server
    server.close()


def test_a_trickling_krx_answer_fails_at_the_deadline_and_writes_nothing(
    trickle: Trickle, warehouse_url: str
):
    # 10,000 bytes at 10 a second: 1,000 s per answer; a per-read timeout of 1 s never fires.
    krx = KRX(
        base_url=trickle.url, timeout_seconds=1.0, delay_seconds=0, max_attempts=2, retry_backoff_seconds=0.05
    )
    warehouse = Warehouse(url=warehouse_url)
    started = time.monotonic()
    result = run_market_data({"krx": krx, "warehouse": warehouse})
    elapsed = time.monotonic() - started
    assert not result.success
    text = step_failures(result)["market_data"]
    assert "did not answer KOSPI quotes of 2026-11-27 within 1 s" in text and "after 2 attempts" in text
    assert trickle.requests == 2
    assert elapsed < 20, elapsed  # 2 deadlines + backoff; the trickle lasts 1,000 s
    assert warehouse.read_market_data([DAY]).empty


class Answer(BaseModel):
    text: str


def test_a_trickling_llm_answer_fails_at_the_deadline(trickle: Trickle):
    llm = LLM(api_key="sk-test", base_url=trickle.url + "/v1", timeout_seconds=1.0, max_retries=1)
    started = time.monotonic()
    with pytest.raises(LlmError, match=r"did not answer within 1 s, 2 times"):
        llm.parse([{"role": "user", "content": "hi"}], Answer)
    assert time.monotonic() - started < 20  # 2 deadlines + the SDK's retry backoff; the trickle: 1,000 s
    assert trickle.requests == 2


# --- item 7: bounded settings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ADELIE_KRX_DELAY_SECONDS", "1e9"),
        ("ADELIE_KRX_DELAY_SECONDS", "1e308"),
        ("ADELIE_KRX_DELAY_SECONDS", "61"),
        ("ADELIE_KRX_TIMEOUT_SECONDS", "1e9"),
    ],
)
def test_out_of_range_krx_settings_are_refused_at_load_with_the_bounds(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as excinfo:
        build_resources()
    assert str(excinfo.value).startswith(f"{name} must be a finite number of seconds")
    assert "at most" in str(excinfo.value) and repr(value) in str(excinfo.value)


def test_the_largest_allowed_delay_is_accepted(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ADELIE_KRX_DELAY_SECONDS", "60")
    assert build_resources()["krx"].delay_seconds == 60  # type: ignore[attr-defined]


# --- item 8: no directory made by a URL typo --------------------------------------------------------


def test_a_sqlite_path_typo_creates_no_directory_and_no_warehouse(tmp_path: Path, fake_krx: FakeKrx):
    missing = tmp_path / f"nonexistent-{uuid.uuid4().hex[:6]}"
    warehouse = Warehouse(url=f"sqlite:///{missing}/x.db")
    result = run_market_data({"krx": krx_for(fake_krx), "warehouse": warehouse})
    text = step_failures(result)["market_data"]
    assert f"The directory {missing} of the SQLite file in ADELIE_WAREHOUSE_URL does not exist" in text
    assert not missing.exists()
    assert fake_krx.data_request_count == 0


def test_a_postgres_database_name_typo_creates_nothing(pg_warehouse_url: str, fake_krx: FakeKrx):
    """The Postgres counterpart: a wrong database name fails clearly and no database is created."""
    import psycopg2

    typo = pg_warehouse_url + "_typo"
    result = run_market_data({"krx": krx_for(fake_krx), "warehouse": Warehouse(url=typo)})
    text = step_failures(result)["market_data"]
    assert (
        "Cannot reach the warehouse" in text and "does not exist" in text and "ADELIE_WAREHOUSE_URL" in text
    )
    conn = psycopg2.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres")
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (typo.rsplit("/", 1)[1],))
        assert cur.fetchone() == (0,)
    conn.close()


def test_the_default_warehouse_directory_is_still_created(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    state = tmp_path / "fresh-state"
    monkeypatch.setenv("ADELIE_STATE_DIR", str(state))
    Warehouse().engine()
    assert (state / "warehouse.sqlite").exists()


# --- item 9: one KRX call at a time per host --------------------------------------------------------

CALLER = r"""
import sys, time
from datetime import date
from adelie_assets.resources import krx as krx_module
from adelie_assets.resources.krx import KRX, _load_pykrx
if sys.argv[3] == "unlocked":  # the positive control: what happens without the lock
    import contextlib
    krx_module.one_krx_call = lambda origin, delay: contextlib.nullcontext()
_load_pykrx()
krx = KRX(krx_id="demo-user", krx_pw="demo-pass", base_url=sys.argv[1], delay_seconds=0, timeout_seconds=10)
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
print(len(krx.fetch_day(date(2026, 11, 27))))
"""


def _two_callers(fake: FakeKrx, tmp_path: Path, mode: str) -> int:
    start_at = str(time.time() + 8)
    procs = []
    for n in range(2):
        own = tmp_path / f"{mode}-{n}"
        own.mkdir()
        # Different environments: what a second instance (empty DAGSTER_HOME) or a notebook has.
        env = {"DAGSTER_HOME": str(own), "ADELIE_STATE_DIR": str(own), "TMPDIR": str(own), "HOME": str(own)}
        procs.append(python_subprocess(CALLER, env=env, args=[fake.url, start_at, mode]))
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "2388"
    return fake.max_concurrent


def test_two_processes_with_different_environments_never_call_krx_at_once(tmp_path: Path):
    with FakeKrx(latency=0.4) as fake:
        assert _two_callers(fake, tmp_path, "locked") == 1
        fake.reset()
        assert _two_callers(fake, tmp_path, "unlocked") == 2  # the test can fail


# --- item 11: a refused partition key --------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("2026-11-28", "Partition key 2026-11-28 is a Saturday"),
        ("20261127", "Partition key '20261127' is malformed: use a KRX trading day as YYYY-MM-DD."),
        ("2026-13-01", "Partition key '2026-13-01' is not a calendar date"),
    ],
)
def test_a_key_dagster_refuses_is_explained_by_our_cli(key: str, message: str):
    with pytest.raises(Exception) as excinfo:  # noqa: B017 - Dagster's own type
        materialize([market_data], partition_key=key, resources={"krx": KRX(), "warehouse": Warehouse()})
    # What Dagster says (in process; the CLI's is in the README): the key, and no reason.
    assert f"partition with key `{key}`" in str(excinfo.value)
    assert explain_partition_key(key).startswith(message)
    proc = subprocess.run(
        [sys.executable, "-m", "adelie_assets.calendar", key],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.startswith(message), proc.stderr
