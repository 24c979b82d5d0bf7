"""The daily job and its 08:00 KST schedule: targets from the KRX calendar, failure from the graph."""

from datetime import date, datetime

import pytest
from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_schedule_context,
    instance_for_test,
    validate_run_config,
)

from adelie_assets.calendar import KST
from adelie_assets.definitions import defs
from adelie_assets.defs.market.assets import market_data
from adelie_assets.defs.pipeline.schedules import daily_pipeline_schedule
from adelie_assets.resources.llm import LLM
from adelie_assets.resources.warehouse import Warehouse, market_analogs_table
from tests.builders import executed_steps, krx_for, step_failures
from tests.history import seed_history_before


def tick(instance: DagsterInstance, *when: int) -> RunRequest | SkipReason:
    context = build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime(*when, tzinfo=KST),
        repository_def=defs.get_repository_def(),
    )
    result = daily_pipeline_schedule.evaluate_tick(context)
    if result.run_requests:
        assert len(result.run_requests) == 1
        return result.run_requests[0]
    return SkipReason(result.skip_message)


def record_requested_run(
    instance: DagsterInstance, request: RunRequest, status: DagsterRunStatus = DagsterRunStatus.STARTED
) -> None:
    """What the daemon does with a run request: create the run with the schedule's tags and submit it."""
    job = defs.resolve_job_def("daily_pipeline")
    instance.create_run_for_job(
        job_def=job,
        status=status,
        tags={
            **request.tags,
            "dagster/schedule_name": "daily_pipeline_schedule",
            "dagster/partition": request.partition_key,
        },
    )


def test_schedule_definition() -> None:
    schedule = defs.resolve_schedule_def("daily_pipeline_schedule")
    assert schedule.cron_schedule == "0 8 * * 1-5"
    assert schedule.execution_timezone == "Asia/Seoul"
    assert schedule.default_status.value == "RUNNING"
    assert schedule.job_name == "daily_pipeline"
    assert defs.resolve_job_def("daily_pipeline").executor_def.name == "in_process"


@pytest.mark.parametrize(
    ("when", "target"),
    [
        ((2026, 11, 30, 8), "2026-11-27"),  # Monday -> Friday
        ((2026, 12, 1, 8), "2026-11-30"),
        ((2027, 1, 1, 8), "2026-12-30"),  # 2026-12-31 is the year-end closure
        ((2026, 6, 4, 8), "2026-06-02"),  # the morning after the local election day
    ],
)
def test_tick_targets_the_previous_trading_day(when: tuple[int, ...], target: str) -> None:
    with instance_for_test() as instance:
        request = tick(instance, *when)
    assert isinstance(request, RunRequest)
    assert request.partition_key == target and request.run_key == target


def test_chuseok_ticks_request_the_day_before_once_then_nothing() -> None:
    with instance_for_test() as instance:
        _chuseok(instance)


def _chuseok(instance: DagsterInstance) -> None:
    first = tick(instance, 2026, 9, 24, 8)
    assert isinstance(first, RunRequest) and first.partition_key == "2026-09-23"
    record_requested_run(instance, first)
    for when in [(2026, 9, 25, 8), (2026, 9, 28, 8)]:
        result = tick(instance, *when)
        assert isinstance(result, SkipReason)
        assert "2026-09-23" in result.skip_message and "already requested" in result.skip_message
    after = tick(instance, 2026, 9, 29, 8)
    assert isinstance(after, RunRequest) and after.partition_key == "2026-09-28"


def test_a_run_created_but_never_submitted_does_not_block_its_day() -> None:
    # The daemon died between creating the run and submitting it: the day must still be requested.
    with instance_for_test() as instance:
        first = tick(instance, 2026, 11, 30, 8)
        record_requested_run(instance, first, status=DagsterRunStatus.NOT_STARTED)
        again = tick(instance, 2026, 11, 30, 8)
        assert isinstance(again, RunRequest) and again.run_key == "2026-11-27"


def test_daily_config_defaults_validate() -> None:
    validated = validate_run_config(defs.resolve_job_def("daily_pipeline"), {})
    assert validated["ops"]["daily_themes"]["config"]["theme_count"] == 5
    assert validated["ops"]["historical_cases"]["config"]["regenerate"] is False


def run_job(fakes, warehouse: Warehouse, key: str):
    krx_fake, llm_fake = fakes
    job = defs.resolve_job_def("daily_pipeline")
    resources = {
        "krx": krx_for(krx_fake),
        "llm": LLM(api_key=llm_fake.api_key, base_url=llm_fake.base_url),
        "warehouse": warehouse,
    }
    return job.execute_in_process(
        partition_key=key, instance=DagsterInstance.ephemeral(), resources=resources, raise_on_error=False
    )


def test_one_run_writes_every_table(fakes, warehouse_url: str) -> None:
    warehouse = Warehouse(url=warehouse_url)
    day = date(2026, 11, 27)
    seed_history_before(warehouse, day)  # the analogs' history, and the day's market_indices
    result = run_job(fakes, warehouse, "2026-11-27")
    assert result.success, step_failures(result)
    assert len(warehouse.read_market_data([day])) == 2388
    cases = warehouse.read_historical_cases([day])
    assert len(cases) == 5
    market = set(warehouse.read_market_data([day])["ticker"])
    assert all(set(t) <= market for t in cases["related_tickers"])
    steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"]
    assets = ("market_data", "daily_themes", "analog_features", "market_analogs", "historical_cases")
    asset_steps = [s for s in steps if s in assets]
    assert asset_steps[0] == "market_data" and asset_steps[-2:] == ["market_analogs", "historical_cases"]
    assert sorted(asset_steps) == sorted(assets)
    assert not warehouse.read(market_analogs_table, [day]).empty
    # The checks of market_data were recorded (passed) by its own step, before historical_cases started.
    events = result.all_events
    checked = [
        i
        for i, e in enumerate(events)
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.event_specific_data.asset_key == market_data.key
    ]
    assert len(checked) == 6 and all(events[i].step_key == "market_data" for i in checked)
    assert all(events[i].event_specific_data.passed for i in checked)
    cases_start = next(
        i
        for i, e in enumerate(events)
        if e.event_type_value == "STEP_START" and e.step_key == "historical_cases"
    )
    assert max(checked) < cases_start


def test_market_data_failure_skips_historical_cases_by_the_graph(fakes, sqlite_warehouse_url: str) -> None:
    krx_fake, llm_fake = fakes
    krx_fake.reset()
    llm_fake.reset()
    krx_fake.set_fault("logout")
    warehouse = Warehouse(url=sqlite_warehouse_url)
    try:
        result = run_job(fakes, warehouse, "2026-11-26")
    finally:
        krx_fake.clear_fault()
    assert not result.success
    assert "LOGOUT" in step_failures(result)["market_data"]
    # market_indices fails on the same LOGOUT; nothing downstream of market_data runs.
    assert executed_steps(result) == {"market_data", "market_indices"}
    run_failure = [e.message for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE"]
    assert run_failure == [
        "Execution of run for \"daily_pipeline\" failed. Steps failed: ['market_data', 'market_indices']."
    ]
    assert llm_fake.completion_count == 0
    assert warehouse.read_historical_cases([date(2026, 11, 26)]).empty
