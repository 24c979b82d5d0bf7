"""Shared fixtures: scratch warehouses (SQLite file, real Postgres database), an isolated env, the fake
KRX / OpenAI servers and the headless browser."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from adelie_assets.resources import warehouse as warehouse_module
from adelie_fakes.krx import FakeKrx
from adelie_fakes.openai import FakeOpenAI
from tests.demo_state import DemoState, make_demo_state

PG_DSN = os.environ.get("ADELIE_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
SECRET_ENV = (
    "KRX_ID",
    "KRX_PW",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ADELIE_KRX_URL",
    "ADELIE_WAREHOUSE_URL",
    "ADELIE_APP_DATABASE_URL",
    "ADELIE_LLM_MODEL",
    "ADELIE_ALERT_WEBHOOK_URL",
)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ADELIE_STATE_DIR", str(tmp_path_factory.mktemp("state")))


def _admin_connection() -> psycopg2.extensions.connection:
    try:
        conn = psycopg2.connect(PG_DSN, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        message = f"PostgreSQL on 127.0.0.1:5432 is unreachable ({exc}); .ci/run starts it."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    conn.autocommit = True
    return conn


def create_scratch_database(prefix: str = "adelie_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = _admin_connection()
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return name


def drop_scratch_database(name: str) -> None:
    warehouse_module.dispose_engines()
    conn = _admin_connection()
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh, empty Postgres database on the real server; dropped afterwards."""
    name = create_scratch_database()
    try:
        yield name
    finally:
        drop_scratch_database(name)


@pytest.fixture
def pg_warehouse_url(pg_database: str) -> str:
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{pg_database}"


@pytest.fixture
def sqlite_warehouse_url(tmp_path: os.PathLike[str]) -> str:
    return f"sqlite:///{tmp_path}/warehouse.sqlite"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest) -> str:
    """Each warehouse test runs on SQLite and on the real Postgres."""
    fixture = "sqlite_warehouse_url" if request.param == "sqlite" else "pg_warehouse_url"
    return request.getfixturevalue(fixture)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium (tests/browser.py); a skip locally, a failure in CI, when missing."""
    from tests.browser import chromium  # here: only browser tests import playwright and the e2e harness

    with chromium() as launched:
        yield launched


@pytest.fixture(scope="session")
def demo_made(tmp_path_factory: pytest.TempPathFactory) -> DemoState:
    """`make demo`'s state and output, made once (read it, or copy it before changing it)."""
    return make_demo_state(tmp_path_factory.mktemp("demo") / "state")


@pytest.fixture(scope="session")
def _krx_server() -> Iterator[FakeKrx]:
    with FakeKrx() as fake:
        yield fake


@pytest.fixture(scope="session")
def _llm_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake_krx(_krx_server: FakeKrx) -> FakeKrx:
    """The session's fake KRX, with no fault and empty counters (credentials demo-user/demo-pass)."""
    _krx_server.reset()
    return _krx_server


@pytest.fixture
def fake_llm(_llm_server: FakeOpenAI) -> FakeOpenAI:
    """The session's fake OpenAI server, back to its constructor settings."""
    _llm_server.reset()
    return _llm_server


@pytest.fixture
def fakes(fake_krx: FakeKrx, fake_llm: FakeOpenAI) -> tuple[FakeKrx, FakeOpenAI]:
    return fake_krx, fake_llm
