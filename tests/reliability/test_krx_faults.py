"""KRX faults not covered by tests/test_market_data.py, through the real pykrx and the fake KRX.

Already covered there (see docs/reliability.md): LOGOUT, 403, 500, a hang that outlasts the retries,
empty body, truncated JSON, all "-", one market missing, huge volume, an outage that ends, no
credentials, a rejected login, KRX_ID without KRX_PW.
"""

from __future__ import annotations

import time
from datetime import date

import pytest
from dagster import DagsterInstance, materialize

from adelie_assets.defs.market.assets import market_data
from adelie_assets.resources.krx import KRX
from adelie_assets.resources.warehouse import Warehouse
from adelie_fakes.krx import FakeKrx
from tests.builders import krx_for, step_failures

DAY = date(2026, 11, 27)


@pytest.fixture
def warehouse(sqlite_warehouse_url: str) -> Warehouse:
    return Warehouse(url=sqlite_warehouse_url)


def run(krx: KRX, warehouse: Warehouse):
    started = time.monotonic()
    result = materialize(
        [market_data],
        partition_key=DAY.isoformat(),
        resources={"krx": krx, "warehouse": warehouse},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    return result, time.monotonic() - started


class _Closed:
    """Where a stopped fake KRX was: nothing listens there any more."""

    def __init__(self) -> None:
        with FakeKrx() as fake:
            self.url = fake.url


def test_connection_refused_at_login_fails_at_once_and_writes_nothing(warehouse: Warehouse):
    result, seconds = run(krx_for(_Closed()), warehouse)
    assert not result.success
    assert (
        "KRX login did not complete (ConnectionError): KRX may be down; try again later."
        in (step_failures(result)["market_data"])
    )
    assert seconds < 5  # the login is not retried
    assert warehouse.read_market_data([DAY]).empty


def test_connection_refused_on_data_calls_is_retried_then_fails_and_writes_nothing(warehouse: Warehouse):
    # No login configured, so the first thing to hit the closed port is the data call.
    result, _ = run(krx_for(_Closed(), krx_id=None, krx_pw=None), warehouse)
    text = step_failures(result)["market_data"]
    assert "Could not connect to KRX for KOSPI quotes of 2026-11-27: network or KRX outage." in text
    assert "Gave up after 3 attempts." in text
    assert warehouse.read_market_data([DAY]).empty


def test_persistent_503_is_retried_max_attempts_then_fails_and_writes_nothing(
    fake_krx: FakeKrx, warehouse: Warehouse
):
    fake_krx.set_fault("http_503")
    result, _ = run(krx_for(fake_krx), warehouse)
    assert (
        "KRX answered HTTP 503 to KOSPI quotes of 2026-11-27: a KRX outage. Gave up after 3 attempts."
        in (step_failures(result)["market_data"])
    )
    assert fake_krx.data_request_count == 3  # KOSPI three times; KOSDAQ never asked
    assert warehouse.read_market_data([DAY]).empty


def test_duplicate_login_cd011_is_handled_by_pykrx_skipdup(fake_krx: FakeKrx, warehouse: Warehouse):
    fake_krx.set_fault("duplicate_login")
    result, _ = run(krx_for(fake_krx), warehouse)
    assert result.success
    assert fake_krx.login_count == 2  # CD011, then the same login with skipDup=Y
    assert len(warehouse.read_market_data([DAY])) == 2388


def test_a_hang_that_ends_within_the_retries_succeeds(fake_krx: FakeKrx, warehouse: Warehouse):
    fake_krx.set_fault("hang", times=1, hang_seconds=3)
    result, seconds = run(krx_for(fake_krx, timeout_seconds=0.5), warehouse)
    assert result.success
    assert fake_krx.data_request_count == 3  # KOSPI timed out once, then KOSPI and KOSDAQ
    assert seconds < 3  # bounded by the 0.5 s timeout, not by the 3 s hang
    assert len(warehouse.read_market_data([DAY])) == 2388
