"""The failure alert (against local HTTP servers, dead ones included) and the missed-day catch-up sensor."""

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    RunRequest,
    SkipReason,
    build_run_status_sensor_context,
    build_sensor_context,
    define_asset_job,
    instance_for_test,
)
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteRepositoryOrigin
from dagster._core.test_utils import freeze_time

from adelie_assets.calendar import KST
from adelie_assets.definitions import defs
from adelie_assets.defs.market.assets import market_data
from adelie_assets.defs.pipeline import alerts, catch_up
from adelie_assets.defs.pipeline.alerts import alert_on_run_failure
from adelie_assets.defs.pipeline.catch_up import catch_up_missed_days
from adelie_assets.lib import slack_webhook
from adelie_assets.resources.krx import KRX
from adelie_assets.resources.llm import LLM
from adelie_assets.resources.warehouse import Warehouse
from adelie_fakes.krx import FakeKrx
from adelie_fakes.openai import FakeOpenAI
from tests.builders import krx_for, market_frame
from tests.test_checks import tampered_krx

SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxSECRETTOKEN"

# --- a local webhook ----------------------------------------------------------------------------


class Webhook:
    """A stdlib HTTP server on 127.0.0.1 that records what is POSTed and answers `status`."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.content_types: list[str] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append(json.loads(body))
                hook.content_types.append(self.headers["Content-Type"])
                self.send_response(hook.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}{SECRET_PATH}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def hanging_url() -> Iterator[str]:
    # Listening but never accepting: the kernel completes the handshake, nobody ever answers.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}{SECRET_PATH}"
    server.close()


@pytest.fixture
def refused_url() -> str:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there any more
    return f"http://127.0.0.1:{port}{SECRET_PATH}"


# --- real failed runs -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fakes():
    with FakeKrx() as krx, FakeOpenAI() as llm:
        yield krx, llm


def run_daily(fakes, instance: DagsterInstance, tmp_path, krx=None, key: str = "2026-11-27"):
    krx_fake, llm_fake = fakes
    resources = {
        "krx": krx or krx_for(krx_fake),
        "llm": LLM(api_key=llm_fake.api_key, base_url=llm_fake.base_url),
        "warehouse": Warehouse(url=f"sqlite:///{tmp_path}/warehouse.sqlite"),
    }
    return defs.resolve_job_def("daily_pipeline").execute_in_process(
        partition_key=key, instance=instance, resources=resources, raise_on_error=False
    )


@pytest.fixture(scope="module")
def failed_run(fakes, tmp_path_factory):
    """A daily_pipeline run that failed in market_data (KRX answered LOGOUT), on a real instance."""
    krx_fake, _ = fakes
    instance = DagsterInstance.ephemeral()
    krx_fake.reset()
    krx_fake.set_fault("logout")
    try:
        result = run_daily(fakes, instance, tmp_path_factory.mktemp("failed"))
    finally:
        krx_fake.clear_fault()
    assert not result.success
    return instance, result


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, Captured]]:
    logger = logging.getLogger(f"test_alerts_{time.monotonic_ns()}")
    logger.setLevel(logging.DEBUG)
    captured = Captured()
    logger.addHandler(captured)
    yield logger, captured
    logger.removeHandler(captured)


def alert(failed_run, logger: logging.Logger) -> object:
    instance, result = failed_run
    context = build_run_status_sensor_context(
        sensor_name=alerts.SENSOR_NAME,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        context=SimpleNamespace(log=logger),  # the sensor's log, captured
    )
    return alert_on_run_failure(context)


# --- alerts ---------------------------------------------------------------------------------------


def test_alert_posts_a_slack_payload_with_job_partition_steps_error_and_link(
    failed_run, webhook: Webhook, log, monkeypatch
) -> None:
    monkeypatch.setenv("ADELIE_ALERT_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("ADELIE_UI_BASE_URL", "http://dagster.internal:3000/")
    logger, captured = log
    alert(failed_run, logger)
    assert len(webhook.posts) == 1 and webhook.content_types == ["application/json"]
    payload = webhook.posts[0]
    run_id = failed_run[1].dagster_run.run_id
    link = f"http://dagster.internal:3000/runs/{run_id}"
    assert set(payload) == {"text", "blocks"}
    assert payload["text"].startswith("Dagster run failed: daily_pipeline, partition 2026-11-27")
    assert "failed step(s): market_data" in payload["text"] and link in payload["text"]
    header, summary, error_block, actions = payload["blocks"]
    assert header["text"]["text"] == "Run failed: daily_pipeline 2026-11-27"
    fields = [f["text"] for f in summary["fields"]]
    # LOGOUT fails both KRX steps.
    assert fields[:3] == [
        "*Job*\ndaily_pipeline",
        "*Partition*\n2026-11-27",
        "*Failed step(s)*\nmarket_data, market_indices",
    ]
    assert fields[3] == f"*Run*\n<{link}|{run_id[:8]}>"
    error = error_block["text"]["text"]
    assert error.startswith("```market_data: ") and "LOGOUT" in error and error.endswith("```")
    assert len(error.splitlines()) <= slack_webhook.ERROR_LINES + 1
    assert actions["elements"][0]["url"] == link
    assert captured.lines == [f"Failure alert sent for run {run_id}."]


def test_alert_for_a_failed_blocking_check_names_the_check_and_its_figures(
    fakes, webhook: Webhook, log, monkeypatch, tmp_path
) -> None:
    """The rows passed the guards when written, then another writer changed them: the UI's "Execute
    checks" on market_data (a check-only run) fails and alerts."""
    monkeypatch.setenv("ADELIE_ALERT_WEBHOOK_URL", webhook.url)
    instance = DagsterInstance.ephemeral()
    warehouse = Warehouse(url=f"sqlite:///{tmp_path}/warehouse.sqlite")
    warehouse.replace_market_data([date(2026, 11, 27)], market_frame(date(2026, 11, 27), per_market=1194))
    stored = warehouse.read_market_data([date(2026, 11, 27)])
    rows = stored.index[~stored["halted"]][:7]
    stored.loc[rows, "low"] = stored.loc[rows, "high"] + 100
    warehouse.replace_market_data([date(2026, 11, 27)], stored)
    job = define_asset_job("checks_of_market_data", selection=AssetSelection.checks_for_assets("market_data"))
    result = (
        Definitions(assets=[market_data], jobs=[job], resources={"warehouse": warehouse, "krx": KRX()})
        .resolve_job_def("checks_of_market_data")
        .execute_in_process(tags={"dagster/partition": "2026-11-27"}, instance=instance, raise_on_error=False)
    )
    assert not result.success
    alert((instance, result), log[0])
    payload = webhook.posts[0]
    assert "failed step(s): market_data" in payload["text"]
    texts = [b.get("text", {}).get("text", "") for b in payload["blocks"]]
    assert any("1 blocking asset check failed" in t for t in texts)
    (checks,) = [t for t in texts if t.startswith("*Failed checks*")]
    assert "market_data.prices_consistent (2026-11-27) [ERROR]: 7 tickers have missing" in checks


def test_alert_for_rows_refused_by_a_guard_names_the_guard_and_the_tickers(
    fakes, webhook: Webhook, log, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("ADELIE_ALERT_WEBHOOK_URL", webhook.url)
    instance = DagsterInstance.ephemeral()
    result = run_daily(fakes, instance, tmp_path, krx=tampered_krx(fakes[0], "inverted_prices"))
    assert not result.success
    alert((instance, result), log[0])
    payload = webhook.posts[0]
    assert "failed step(s): market_data." in payload["text"]
    assert "were refused before writing: [prices_consistent] 7 tickers have missing" in payload["text"]


def test_no_webhook_url_means_no_call_and_one_log_line_per_process(
    failed_run, webhook: Webhook, log, monkeypatch
) -> None:
    monkeypatch.setattr(alerts, "_missing_url_reported", threading.Event())
    logger, captured = log
    assert alert(failed_run, logger) is None
    assert alert(failed_run, logger) is None
    assert webhook.posts == []
    assert captured.lines == ["ADELIE_ALERT_WEBHOOK_URL is not set: failed runs are not alerted."]


@pytest.mark.parametrize(
    ("dead", "reason"),
    [
        ("refused_url", "could not connect to the webhook"),
        ("hanging_url", "the webhook did not answer within 0.3 s"),
    ],
)
def test_a_dead_webhook_is_logged_without_its_url_and_never_raises(
    failed_run, log, monkeypatch, request, dead: str, reason: str
) -> None:
    url = request.getfixturevalue(dead)
    monkeypatch.setenv("ADELIE_ALERT_WEBHOOK_URL", url)
    monkeypatch.setattr(alerts, "WEBHOOK_TIMEOUT_SECONDS", 0.3)
    logger, captured = log
    started = time.monotonic()
    assert alert(failed_run, logger) is None
    assert time.monotonic() - started < 3
    (line,) = captured.lines
    assert line.startswith(f"Failure alert not delivered: {reason}")
    assert "SECRET" not in line and url.split("//")[1].split("/")[0] not in line


def test_a_webhook_answering_an_error_is_logged(failed_run, webhook: Webhook, log, monkeypatch) -> None:
    webhook.status = 500
    monkeypatch.setenv("ADELIE_ALERT_WEBHOOK_URL", webhook.url)
    logger, captured = log
    alert(failed_run, logger)
    assert len(webhook.posts) == 1
    assert captured.lines[0].startswith("Failure alert not delivered: the webhook answered HTTP 500.")
    assert "SECRET" not in captured.lines[0]


@pytest.fixture(scope="module")
def real_instance() -> Iterator[DagsterInstance]:
    """A SQLite-backed instance like `dagster dev`'s (slower to make than an ephemeral one)."""
    with instance_for_test() as instance:
        yield instance


def test_the_sensor_tick_alerts_each_new_failure_once(
    fakes, real_instance: DagsterInstance, webhook: Webhook, monkeypatch, tmp_path
) -> None:
    """Through the sensor machinery (cursor over run-failure events), as the daemon evaluates it."""
    monkeypatch.setenv("ADELIE_ALERT_WEBHOOK_URL", webhook.url)
    krx_fake, _ = fakes

    def tick(cursor: str | None):
        context = build_sensor_context(
            instance=real_instance, cursor=cursor, repository_def=defs.get_repository_def()
        )
        return alert_on_run_failure.evaluate_tick(context)

    first = tick(None)  # starts the cursor after the failures already stored
    krx_fake.reset()
    krx_fake.set_fault("logout")
    try:
        failed = run_daily(fakes, real_instance, tmp_path, key="2026-11-26")
    finally:
        krx_fake.clear_fault()
    second = tick(first.cursor)
    assert [p["blocks"][1]["fields"][1]["text"] for p in webhook.posts] == ["*Partition*\n2026-11-26"]
    assert failed.dagster_run.run_id in webhook.posts[0]["text"]
    tick(second.cursor)
    assert len(webhook.posts) == 1


# --- catch-up -------------------------------------------------------------------------------------

# Thursday 2026-10-08, 12:00 KST; the 10-day window starts Monday 2026-09-28. Trading days in it:
# 09-28, 09-29, 09-30, 10-01, 10-02, (10-05 closed), 10-06, 10-07, and 10-08, which is not final
# before 18:00. 09-23 is a hole before the window.
CLOCK = datetime(2026, 10, 8, 12, 0, tzinfo=KST)
MATERIALIZED = ["2026-09-22", "2026-09-28", "2026-09-30", "2026-10-02"]


@pytest.fixture
def clock(monkeypatch):
    def set_clock(when: datetime) -> None:
        monkeypatch.setattr(catch_up, "now", lambda: when)

    set_clock(CLOCK)
    return set_clock


# Every asset of the job, the app feed included: a day is done only when all of them are.
DAILY_ASSETS = sorted(defs.resolve_job_def("daily_pipeline").asset_layer.selected_asset_keys)


def materialize_day(instance: DagsterInstance, key: str, assets: list[AssetKey] = DAILY_ASSETS) -> None:
    for asset_key in assets:
        instance.report_runless_asset_event(AssetMaterialization(asset_key, partition=key))


@pytest.fixture
def history() -> DagsterInstance:
    instance = DagsterInstance.ephemeral()
    for key in MATERIALIZED:
        materialize_day(instance, key)
    return instance


# A queued run must say where its code lives; this is what the daemon records for this location.
ORIGIN = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("adelie_assets"), "__repository__")


def create_run(instance: DagsterInstance, key: str, status: DagsterRunStatus, **tags: str):
    return instance.create_run_for_job(
        job_def=defs.resolve_job_def("daily_pipeline"),
        tags={"dagster/partition": key, **tags},
        status=status,
        remote_job_origin=ORIGIN.get_job_origin("daily_pipeline"),
    )


def evaluate(instance: DagsterInstance) -> list[RunRequest] | SkipReason:
    context = build_sensor_context(instance=instance, repository_def=defs.get_repository_def())
    result = catch_up_missed_days.evaluate_tick(context)
    if result.run_requests:
        return list(result.run_requests)
    return SkipReason(result.skip_message)


def record(instance: DagsterInstance, requests: list[RunRequest]) -> None:
    """What the daemon does with the requests: queued runs with the sensor's tags."""
    for r in requests:
        create_run(
            instance,
            r.partition_key,
            DagsterRunStatus.QUEUED,
            **{"dagster/sensor_name": catch_up.SENSOR_NAME},
        )


def test_catch_up_requests_exactly_the_missing_final_days_once(history: DagsterInstance, clock) -> None:
    create_run(history, "2026-10-01", DagsterRunStatus.QUEUED)  # queued by hand: in flight
    requests = evaluate(history)
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("2026-09-29", "catch-up-2026-09-29"),
        ("2026-10-06", "catch-up-2026-10-06"),
        ("2026-10-07", "catch-up-2026-10-07"),
    ]
    assert all(r.tags["adelie/trigger"] == "catch-up" for r in requests)
    record(history, requests)
    again = evaluate(history)
    assert isinstance(again, SkipReason)
    assert "2026-10-07: a run is already queued or running" in again.skip_message


def test_catch_up_requests_a_day_whose_app_feed_failed(history: DagsterInstance, clock) -> None:
    app_feed = {AssetKey("app_briefing"), AssetKey("app_cases")}
    assert app_feed < set(DAILY_ASSETS)
    # 10-01 and 10-06: historical_cases and everything before it, but the app feed failed.
    for key in ("2026-10-01", "2026-10-06"):
        materialize_day(history, key, [k for k in DAILY_ASSETS if k not in app_feed])
    history.report_runless_asset_event(AssetMaterialization("app_briefing", partition="2026-10-06"))
    assert [r.partition_key for r in evaluate(history)] == [
        "2026-09-29",
        "2026-10-01",
        "2026-10-06",
        "2026-10-07",
    ]


def test_a_long_catch_up_window_requests_a_bounded_number_of_runs_a_tick(
    history: DagsterInstance, clock, monkeypatch, caplog
) -> None:
    monkeypatch.setenv("ADELIE_CATCH_UP_DAYS", "3650")  # ~2,450 trading days
    requests = evaluate(history)
    assert len(requests) == catch_up.MAX_RUNS_PER_TICK == 10
    keys = [r.partition_key for r in requests]
    assert keys == sorted(keys) and keys[0] == "2016-10-10"  # oldest first
    left = evaluate(history)  # nothing recorded: the same ten again, never more
    assert [r.partition_key for r in left] == keys
    record(history, requests)
    assert [r.partition_key for r in evaluate(history)][0] > keys[-1]  # the next ten


def test_catch_up_leaves_the_latest_day_to_the_schedule_and_waits_for_final_data(
    history: DagsterInstance, clock
) -> None:
    clock(datetime(2026, 10, 8, 8, 10, tzinfo=KST))  # 10-07's scheduled run is at 08:00 today
    assert [r.partition_key for r in evaluate(history)] == ["2026-09-29", "2026-10-01", "2026-10-06"]
    clock(datetime(2026, 10, 7, 17, 59, tzinfo=KST))  # 10-07 is not final yet
    assert "2026-10-07" not in [r.partition_key for r in evaluate(history)]


def test_catch_up_covers_days_inside_an_in_flight_backfill_range(history: DagsterInstance, clock) -> None:
    history.create_run_for_job(
        job_def=defs.resolve_job_def("daily_pipeline"),
        tags={
            "dagster/asset_partition_range_start": "2026-09-29",
            "dagster/asset_partition_range_end": "2026-10-06",
        },
        status=DagsterRunStatus.STARTED,
        remote_job_origin=ORIGIN.get_job_origin("daily_pipeline"),
    )
    assert [r.partition_key for r in evaluate(history)] == ["2026-10-07"]


def test_catch_up_does_not_loop_on_a_failing_day(history: DagsterInstance, clock) -> None:
    def fail(key: str, at: datetime) -> None:
        with freeze_time(at):
            history.report_run_failed(create_run(history, key, DagsterRunStatus.STARTED))

    fail("2026-10-06", datetime(2026, 10, 8, 8, 5, tzinfo=KST))  # the scheduled run, 4 h ago
    for hour in (1, 2, 3):  # three failures: given up
        fail("2026-09-29", datetime(2026, 10, 7, hour, 0, tzinfo=KST))
    result = evaluate(history)
    assert [r.run_key for r in result] == ["catch-up-2026-10-01", "catch-up-2026-10-07"]
    clock(datetime(2026, 10, 8, 14, 6, tzinfo=KST))  # the cooldown of 10-06 is over
    keys = [(r.partition_key, r.run_key) for r in evaluate(history)]
    assert ("2026-10-06", "catch-up-2026-10-06-retry-1") in keys
    assert "2026-09-29" not in [k for k, _ in keys]


def test_catch_up_needs_a_history_and_can_be_switched_off(clock, monkeypatch) -> None:
    skipped = evaluate(DagsterInstance.ephemeral())
    assert isinstance(skipped, SkipReason) and "never been materialized" in skipped.skip_message
    monkeypatch.setenv("ADELIE_CATCH_UP_DAYS", "0")
    assert "Catch-up is off" in evaluate(DagsterInstance.ephemeral()).skip_message
    monkeypatch.setenv("ADELIE_CATCH_UP_DAYS", "ten")
    with pytest.raises(ValueError, match="ADELIE_CATCH_UP_DAYS must be a whole number of days"):
        catch_up.catch_up_days()


def test_catch_up_window_follows_the_env(history: DagsterInstance, clock, monkeypatch) -> None:
    monkeypatch.setenv("ADELIE_CATCH_UP_DAYS", "3")  # 10-05..10-08
    assert [r.partition_key for r in evaluate(history)] == ["2026-10-06", "2026-10-07"]


def test_sensor_definitions() -> None:
    alert_sensor = defs.resolve_sensor_def(alerts.SENSOR_NAME)
    catch_up_sensor = defs.resolve_sensor_def(catch_up.SENSOR_NAME)
    assert alert_sensor.default_status.value == "RUNNING"
    assert catch_up_sensor.default_status.value == "RUNNING"
    assert catch_up_sensor.minimum_interval_seconds == 15 * 60
    assert catch_up_sensor.job_name == "daily_pipeline"


# --- freshness ------------------------------------------------------------------------------------


def test_freshness_policies_are_declared_and_the_oss_daemon_evaluates_them(
    real_instance: DagsterInstance,
) -> None:
    graph = defs.get_repository_def().asset_graph
    market = graph.get(AssetKey("market_data")).freshness_policy
    cases = graph.get(AssetKey("historical_cases")).freshness_policy
    assert (market.deadline_cron, market.timezone, market.lower_bound_delta) == (
        "30 8 * * 1-5",
        "Asia/Seoul",
        timedelta(hours=14, minutes=30),
    )
    assert (cases.deadline_cron, cases.lower_bound_delta) == ("0 9 * * 1-5", timedelta(hours=15))
    # Its dagster.yaml has no `freshness:` block: the daemon runs by default.
    assert "FRESHNESS_DAEMON" in real_instance.get_required_daemon_types()
