"""Bad settings in the environment, as the code location reads them (`build_resources()` is what
`adelie_assets.definitions` calls at load), each refused with a message naming what to fix.

Bad partition keys and run config are covered elsewhere (listed in docs/reliability.md):
tests/test_calendar.py::test_bad_partition_keys_say_what_to_fix,
tests/test_market_data.py::test_partition_keys_that_are_not_final_trading_days_make_no_krx_call,
tests/test_historical_cases.py::test_invalid_config_is_refused_naming_the_field.
"""

from __future__ import annotations

from datetime import date

import pytest
from dagster import DagsterInstance, materialize

from adelie_assets.definitions import build_resources
from adelie_assets.defs.market.assets import market_data
from adelie_fakes.krx import FakeKrx
from tests.builders import step_failures

DAY = date(2026, 11, 27)


@pytest.fixture(scope="module")
def fake_krx():
    with FakeKrx() as fake:
        yield fake


def run_market_data(resources: dict[str, object]):
    return materialize(
        [market_data],
        partition_key=DAY.isoformat(),
        resources=resources,
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


# --- ADELIE_KRX_DELAY_SECONDS / ADELIE_KRX_TIMEOUT_SECONDS ----------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ADELIE_KRX_DELAY_SECONDS", "abc"),
        ("ADELIE_KRX_TIMEOUT_SECONDS", "30s"),
        ("ADELIE_KRX_DELAY_SECONDS", "-1"),
        ("ADELIE_KRX_DELAY_SECONDS", "nan"),
        ("ADELIE_KRX_DELAY_SECONDS", "inf"),
        ("ADELIE_KRX_TIMEOUT_SECONDS", "0"),
    ],
)
def test_invalid_krx_number_settings_are_refused_at_load_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
):
    monkeypatch.setenv(name, value)
    with pytest.raises(Exception) as excinfo:  # noqa: B017 - the message is what matters
        build_resources()
    assert name in str(excinfo.value)


# --- KRX credentials -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("present", "message"),
    [
        (
            {"KRX_ID": "only-the-id"},
            "KRX_ID is set but KRX_PW is not: set both KRX_ID and KRX_PW, or neither.",
        ),
        (
            {"KRX_PW": "only-the-pw"},
            "KRX_PW is set but KRX_ID is not: set both KRX_ID and KRX_PW, or neither.",
        ),
        (
            {"KRX_ID": "only-the-id", "KRX_PW": ""},  # an empty value counts as unset
            "KRX_ID is set but KRX_PW is not",
        ),
    ],
    ids=["id-without-pw", "pw-without-id", "id-with-empty-pw"],
)
def test_half_krx_credentials_from_the_environment_fail_before_any_krx_call(
    monkeypatch: pytest.MonkeyPatch, fake_krx: FakeKrx, sqlite_warehouse_url: str, present, message: str
):
    fake_krx.reset()
    for key, value in {**present, "ADELIE_KRX_URL": fake_krx.url}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ADELIE_WAREHOUSE_URL", sqlite_warehouse_url)
    result = run_market_data(build_resources())
    text = step_failures(result)["market_data"]
    assert message in text
    assert "only-the-id" not in text and "only-the-pw" not in text
    assert fake_krx.login_count == 0 and fake_krx.data_request_count == 0


# --- ADELIE_WAREHOUSE_URL --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "not a url s3cr3t-pw",
        "postgresql//adelie:s3cr3t-pw@db/warehouse",  # missing ':'
        "mysql://adelie:s3cr3t-pw@db/warehouse",
        "postgresql://adelie:s3cr3t-pw@db:54x2/warehouse",
    ],
)
def test_malformed_warehouse_url_from_the_environment_names_the_variable_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, fake_krx: FakeKrx, url: str
):
    fake_krx.reset()
    monkeypatch.setenv("ADELIE_WAREHOUSE_URL", url)
    monkeypatch.setenv("KRX_ID", "demo-user")
    monkeypatch.setenv("KRX_PW", "demo-pass")
    monkeypatch.setenv("ADELIE_KRX_URL", fake_krx.url)
    monkeypatch.setenv("ADELIE_KRX_DELAY_SECONDS", "0")
    result = run_market_data(build_resources())
    text = step_failures(result)["market_data"]
    assert "ADELIE_WAREHOUSE_URL" in text
    assert "s3cr3t-pw" not in text
