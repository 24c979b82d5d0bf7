"""market_data through Dagster, with the real pykrx talking to the fake KRX, into SQLite and Postgres."""

import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
from dagster import DagsterExecutionInterruptedError, DagsterInstance, materialize

from adelie_assets.defs.market.assets import market_data
from adelie_assets.resources.krx import KRX
from adelie_assets.resources.warehouse import Warehouse
from adelie_fakes.krx import FakeKrx
from tests.builders import krx_for, step_failures
from tests.reliability.conftest import wait_until

DAY = date(2026, 11, 27)
REPO = Path(__file__).resolve().parents[1]


def run(krx: KRX, warehouse: Warehouse, partition: str = DAY.isoformat()):
    return materialize(
        [market_data],
        partition_key=partition,
        resources={"krx": krx, "warehouse": warehouse},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_materializes_every_kospi_and_kosdaq_ticker(fake_krx: FakeKrx, warehouse_url: str):
    warehouse = Warehouse(url=warehouse_url)
    result = run(krx_for(fake_krx), warehouse)
    assert result.success
    rows = warehouse.read_market_data([DAY])
    counts = rows["market"].value_counts().to_dict()
    assert counts == {"KOSDAQ": 1471, "KOSPI": 917}  # KONEX excluded
    assert not rows.duplicated(["trade_date", "ticker"]).any()
    traded = rows[~rows["halted"]]
    assert (traded["low"] <= traded[["open", "close"]].min(axis=1)).all()
    assert (traded[["open", "close"]].max(axis=1) <= traded["high"]).all()
    halted = rows[rows["halted"]]
    assert len(halted) > 0 and halted["open"].isna().all() and (halted["volume"] == 0).all()
    # One request per market, one at a time.
    assert [(r.mkt_id, r.trd_dd) for r in fake_krx.requests] == [("STK", "20261127"), ("KSQ", "20261127")]
    assert fake_krx.max_concurrent == 1
    metadata = result.asset_materializations_for_node("market_data")[0].metadata
    assert metadata["dagster/row_count"].value == 2388
    assert metadata["rows_kospi"].value == 917 and metadata["rows_kosdaq"].value == 1471
    assert metadata["halted_tickers"].value == len(halted)
    assert "Top gainers" in metadata["preview"].value and "Top losers" in metadata["preview"].value
    assert [c.name for c in metadata["dagster/column_schema"].schema.columns][:3] == [
        "trade_date",
        "ticker",
        "name",
    ]


def test_rerun_replaces_the_partition_never_duplicates(fake_krx: FakeKrx, warehouse_url: str):
    warehouse = Warehouse(url=warehouse_url)
    assert run(krx_for(fake_krx), warehouse).success
    first = warehouse.read_market_data([DAY])
    assert run(krx_for(fake_krx), warehouse).success
    second = warehouse.read_market_data([DAY])
    assert len(second) == len(first) == 2388
    assert second.equals(first)


def test_real_krx_sample_is_parsed_exactly(fake_krx: FakeKrx, sqlite_warehouse_url: str):
    # 2021-01-22 KOSPI is a real recorded KRX answer served verbatim by the fake.
    warehouse = Warehouse(url=sqlite_warehouse_url)
    assert run(krx_for(fake_krx), warehouse, "2021-01-22").success
    rows = warehouse.read_market_data([date(2021, 1, 22)]).set_index("ticker")
    assert (rows["market"] == "KOSPI").sum() == 917
    aj = rows.loc["095570"]
    assert (aj["name"], aj["open"], aj["high"], aj["low"], aj["close"]) == (
        "AJ네트웍스",
        4190,
        4245,
        4160,
        4210,
    )
    assert (aj["volume"], aj["trading_value"], aj["market_cap"]) == (216835, 910274405, 197121861950)
    assert aj["change_pct"] == pytest.approx(0.84)


def test_volume_above_int32_is_stored_exactly(fake_krx: FakeKrx, sqlite_warehouse_url: str):
    # pykrx's own get_market_ohlcv_by_ticker casts volume to int32 and raises OverflowError here.
    fake_krx.set_fault("huge_volume", markets={"STK"})
    warehouse = Warehouse(url=sqlite_warehouse_url)
    assert run(krx_for(fake_krx), warehouse).success
    assert warehouse.read_market_data([DAY])["volume"].max() == 3_000_000_000


@pytest.mark.parametrize(
    ("fault", "markets", "message"),
    [
        (
            "logout",
            None,
            "KRX answered LOGOUT to KOSPI quotes of 2026-11-27: the KRX session is not logged in",
        ),
        ("http_403", None, "this IP may be banned for bulk requests"),
        (
            "http_500",
            None,
            "KRX answered HTTP 500 to KOSPI quotes of 2026-11-27: a KRX outage. Gave up after 3",
        ),
        ("hang", None, "KRX did not answer KOSPI quotes of 2026-11-27 within 0.5 s"),
        ("empty_body", None, "with an empty body"),
        ("truncated_json", None, "is not valid JSON"),
        ("all_dash", None, "without prices ('-') for 2026-11-27, which the KRX calendar calls a trading day"),
        ("empty_rows", {"KSQ"}, "KRX returned no KOSDAQ rows for 2026-11-27"),
    ],
)
def test_bad_answers_fail_the_step_and_write_nothing(
    fake_krx: FakeKrx, warehouse_url: str, fault: str, markets: set[str] | None, message: str
):
    warehouse = Warehouse(url=warehouse_url)
    fake_krx.set_fault(fault, markets=markets, hang_seconds=3)
    result = run(krx_for(fake_krx, timeout_seconds=0.5), warehouse)
    assert not result.success
    assert message in step_failures(result)["market_data"]
    assert warehouse.read_market_data([DAY]).empty


def test_a_failed_rerun_keeps_the_previous_rows(fake_krx: FakeKrx, sqlite_warehouse_url: str):
    warehouse = Warehouse(url=sqlite_warehouse_url)
    assert run(krx_for(fake_krx), warehouse).success
    fake_krx.set_fault("empty_rows", markets={"KSQ"})
    assert not run(krx_for(fake_krx), warehouse).success
    assert len(warehouse.read_market_data([DAY])) == 2388


def test_outage_that_ends_within_the_retries_succeeds(fake_krx: FakeKrx, sqlite_warehouse_url: str):
    fake_krx.set_fault("http_503", times=2)
    warehouse = Warehouse(url=sqlite_warehouse_url)
    assert run(krx_for(fake_krx), warehouse).success
    assert fake_krx.data_request_count == 4
    assert len(warehouse.read_market_data([DAY])) == 2388


def test_no_credentials_gives_logout_message(fake_krx: FakeKrx, sqlite_warehouse_url: str):
    warehouse = Warehouse(url=sqlite_warehouse_url)
    result = run(krx_for(fake_krx, krx_id=None, krx_pw=None), warehouse)
    assert "Set KRX_ID and KRX_PW" in step_failures(result)["market_data"]
    assert fake_krx.data_request_count == 1  # a login problem is not retried


def test_bad_login_is_reported_without_echoing_the_id(fake_krx: FakeKrx, sqlite_warehouse_url: str):
    warehouse = Warehouse(url=sqlite_warehouse_url)
    result = run(krx_for(fake_krx, krx_id="someone-secret-id", krx_pw="wrong"), warehouse)
    text = step_failures(result)["market_data"]
    assert "KRX rejected the login: check KRX_ID and KRX_PW" in text
    assert "someone-secret-id" not in text and fake_krx.data_request_count == 0


def test_krx_id_without_password_is_a_clear_error(fake_krx: FakeKrx, sqlite_warehouse_url: str):
    warehouse = Warehouse(url=sqlite_warehouse_url)
    result = run(krx_for(fake_krx, krx_pw=None), warehouse)
    assert "KRX_ID is set but KRX_PW is not" in step_failures(result)["market_data"]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("2026-11-28", "KRX does not trade on weekends"),
        ("2026-09-24", "is a KRX closure"),
        ("2099-01-02", "not final yet"),
    ],
)
def test_partition_keys_that_are_not_final_trading_days_make_no_krx_call(
    fake_krx: FakeKrx, sqlite_warehouse_url: str, key: str, message: str
):
    instance = DagsterInstance.ephemeral()
    with pytest.raises(Exception) as excinfo:  # noqa: B017 - Dagster refuses unknown keys before the step
        materialize(
            [market_data],
            partition_key=key,
            instance=instance,
            resources={"krx": krx_for(fake_krx), "warehouse": Warehouse(url=sqlite_warehouse_url)},
        )
    assert fake_krx.data_request_count == 0
    assert key in str(excinfo.value)


def test_pykrx_output_never_reaches_stdout(fake_krx: FakeKrx, sqlite_warehouse_url: str, capfd):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert (
            run(krx_for(fake_krx, krx_id="visible-login-id"), Warehouse(url=sqlite_warehouse_url)).success
            is False
        )
    out, _ = capfd.readouterr()
    assert "visible-login-id" not in out + buffer.getvalue()


RUN_IN_A_FRESH_PROCESS = """
import sys
from datetime import date
from types import SimpleNamespace

from dagster import DagsterInstance, materialize

from adelie_assets.defs.market.assets import market_data
from adelie_assets.resources.warehouse import Warehouse
from tests.builders import krx_for

warehouse = Warehouse(url=sys.argv[2])
resources = {"krx": krx_for(SimpleNamespace(url=sys.argv[1])), "warehouse": warehouse}
result = materialize([market_data], partition_key="2026-11-27", resources=resources,
                     instance=DagsterInstance.ephemeral())
assert result.success
print(len(warehouse.read_market_data([date(2026, 11, 27)])))
print(sorted(m for m in sys.modules if m.split(".")[0] in ("matplotlib", "PIL") or m == "pykrx.stock"))
"""


def test_a_run_that_calls_krx_imports_no_matplotlib(fake_krx: FakeKrx, tmp_path: Path) -> None:
    # pykrx's package __init__ imports matplotlib (~0.7 s per process); a run only needs its parsers.
    url = f"sqlite:///{tmp_path}/warehouse.sqlite"
    proc = subprocess.run(
        [sys.executable, "-c", RUN_IN_A_FRESH_PROCESS, fake_krx.url, url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-2:] == ["2388", "[]"]


# --- a range run (a backfill chunk): a failure costs its day only ------------------------------

RANGE_DAYS = [date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27)]


def run_range(krx: KRX, warehouse: Warehouse, instance: DagsterInstance):
    return materialize(
        [market_data],
        tags={
            "dagster/asset_partition_range_start": RANGE_DAYS[0].isoformat(),
            "dagster/asset_partition_range_end": RANGE_DAYS[-1].isoformat(),
        },
        resources={"krx": krx, "warehouse": warehouse},
        instance=instance,
        raise_on_error=False,
    )


def check_evaluations(instance: DagsterInstance) -> dict[str, list[str]]:
    """check name -> the partitions it recorded a result for, in the instance's event log."""
    from dagster import DagsterEventType, EventRecordsFilter

    records = instance.get_event_records(EventRecordsFilter(DagsterEventType.ASSET_CHECK_EVALUATION))
    found: dict[str, list[str]] = {}
    for record in records:
        data = record.event_log_entry.dagster_event.event_specific_data
        found.setdefault(data.check_name, []).append(data.partition)
    return {name: sorted(partitions) for name, partitions in found.items()}


def test_a_range_run_refuses_a_bad_day_alone_and_records_the_days_it_wrote(
    fake_krx: FakeKrx, sqlite_warehouse_url: str
):
    warehouse = Warehouse(url=sqlite_warehouse_url)
    instance = DagsterInstance.ephemeral()
    # KRX answers the KOSPI quotes of the 25th with dashes only (a closed day's answer).
    fake_krx.set_fault("all_dash", markets="STK", days="20261125")
    result = run_range(krx_for(fake_krx), warehouse, instance)

    assert not result.success
    text = step_failures(result)["market_data"]
    assert "2026-11-25" in text
    assert "other 3 of 4 day(s) were written and recorded as materialized" in text
    # The run went on after the refused day: every day was asked for, one call at a time.
    assert sorted({r.trd_dd for r in fake_krx.requests}) == [d.strftime("%Y%m%d") for d in RANGE_DAYS]
    good = [RANGE_DAYS[0], *RANGE_DAYS[2:]]
    rows = warehouse.read_market_data(RANGE_DAYS)
    assert rows.groupby("trade_date").size().to_dict() == dict.fromkeys(good, 2388)
    # Dagster knows what the warehouse holds: the three written days are materialized, with their
    # checks; the refused day is not (a backfill re-runs it alone).
    assert instance.get_materialized_partitions(market_data.key) == {d.isoformat() for d in good}
    evaluations = check_evaluations(instance)
    assert len(evaluations) == 6
    assert all(days == [d.isoformat() for d in good] for days in evaluations.values()), evaluations


def test_a_range_run_stops_at_a_krx_outage_and_records_the_days_before_it(
    fake_krx: FakeKrx, sqlite_warehouse_url: str
):
    warehouse = Warehouse(url=sqlite_warehouse_url)
    instance = DagsterInstance.ephemeral()
    # From the 26th on KRX answers LOGOUT: the session is gone, asking for more days cannot help.
    fake_krx.set_fault("logout", days=["20261126", "20261127"])
    result = run_range(krx_for(fake_krx, retry_backoff_seconds=0), warehouse, instance)

    assert not result.success
    assert "LOGOUT" in step_failures(result)["market_data"]
    assert "20261127" not in {r.trd_dd for r in fake_krx.requests}
    assert sorted(warehouse.read_market_data(RANGE_DAYS)["trade_date"].unique()) == RANGE_DAYS[:2]
    assert instance.get_materialized_partitions(market_data.key) == {d.isoformat() for d in RANGE_DAYS[:2]}


def test_a_terminated_range_run_records_the_days_it_wrote(fake_krx: FakeKrx, sqlite_warehouse_url: str):
    # Run monitoring's max_runtime and a terminate in the UI stop a run with SIGINT, which Dagster
    # raises in the step. Here it comes while KRX keeps the 26th's request waiting.
    warehouse = Warehouse(url=sqlite_warehouse_url)
    instance = DagsterInstance.ephemeral()
    fake_krx.set_fault("hang", days="20261126", hang_seconds=3)

    def terminate_during_the_third_day() -> None:
        wait_until(
            lambda: len(fake_krx.requests) == 4 and fake_krx.in_flight == 1,
            timeout=20,
            interval=0.02,
            what="the 26th's KRX request",
        )
        os.kill(os.getpid(), signal.SIGINT)

    terminator = threading.Thread(target=terminate_during_the_third_day, daemon=True)
    terminator.start()
    try:
        result = run_range(krx_for(fake_krx), warehouse, instance)
    except DagsterExecutionInterruptedError:
        result = None
    terminator.join()
    # The abandoned request ends in the fake after its hang: let it, so it is not the next test's.
    wait_until(lambda: not fake_krx.in_flight, timeout=10, what="the abandoned KRX request to end")

    assert result is None or not result.success
    assert sorted(warehouse.read_market_data(RANGE_DAYS)["trade_date"].unique()) == RANGE_DAYS[:2]
    # What the warehouse holds is what Dagster knows: a backfill re-runs the 26th and 27th only.
    assert instance.get_materialized_partitions(market_data.key) == {d.isoformat() for d in RANGE_DAYS[:2]}
    assert "20261127" not in {r.trd_dd for r in fake_krx.requests}
