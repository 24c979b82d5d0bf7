"""One stubborn theme does not lose the day (issue 34, item 3): a theme whose every answer is rejected
gets a plain case written by code from its analog's facts, flagged in the run, never cached; the day
is stored, the app's Home shows its five keywords, and a re-run asks the model again for that theme
only. The fake OpenAI serves the answers over real HTTP (its completion generator wrapped)."""

from __future__ import annotations

import json
import logging
from datetime import date

import pytest
import sqlalchemy as sa
from dagster import AssetCheckSeverity, DagsterInstance, materialize

from adelie_assets.defs.analogs.assets import analog_features, market_analogs
from adelie_assets.defs.app.assets import app_feed
from adelie_assets.defs.cases.assets import historical_cases
from adelie_assets.defs.cases.daily_themes import daily_themes
from adelie_assets.defs.cases.inputs import case_requests
from adelie_assets.defs.cases.prompt import DISCLAIMER
from adelie_assets.defs.market.assets import market_data
from adelie_assets.resources.app_database import AppDatabase
from adelie_assets.resources.llm import LLM
from adelie_assets.resources.warehouse import Warehouse, llm_cache_table
from adelie_fakes import FakeKrx
from adelie_fakes.openai import FakeOpenAI
from adelie_fakes.openai import wire as openai_wire
from tests.app import app_reads
from tests.app.conftest import app_db_url_unique  # noqa: F401 (the app's real schema, on Postgres)
from tests.builders import krx_for, step_failures
from tests.case_inputs import case_day_warehouse
from tests.history import seed_history_before

DAY = date(2026, 11, 27)


def stubborn(monkeypatch: pytest.MonkeyPatch, label: str) -> dict[str, bool]:
    """Every answer to the theme labelled `label` states a number that is not a fact, until
    `switch["on"]` is set to False."""
    original = openai_wire._complete
    switch = {"on": True}

    def complete(body, fault, *, presented_key):  # noqa: ANN001, ANN202 - the fake's own signature
        reply = original(body, fault, presented_key=presented_key)
        message = reply.body.get("choices", [{}])[0].get("message", {}) if reply.status == 200 else {}
        first_user = next((m["content"] for m in body["messages"] if m["role"] == "user"), "")
        if switch["on"] and message.get("content") and f"테마: {label}\n" in first_user:
            case = json.loads(message["content"])
            case["summary"] += " 당시 거래대금은 37.77% 늘었다."
            message["content"] = json.dumps(case, ensure_ascii=False)
        return reply

    monkeypatch.setattr(openai_wire, "_complete", complete)
    return switch


def run(assets: list, resources: dict, instance: DagsterInstance | None = None, **config: object):  # noqa: ANN201
    return materialize(
        assets,
        partition_key=DAY.isoformat(),
        resources=resources,
        instance=instance or DagsterInstance.ephemeral(),
        run_config={"ops": {"historical_cases": {"config": {"max_concurrent_calls": 1, **config}}}}
        if historical_cases in assets
        else None,
        raise_on_error=False,
    )


def cached(warehouse: Warehouse) -> int:
    with warehouse.engine().connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(llm_cache_table)).scalar_one()


def test_a_stubborn_theme_gets_a_case_written_by_code_and_a_rerun_asks_the_model_again(
    fake_llm: FakeOpenAI, sqlite_warehouse_url: str, monkeypatch: pytest.MonkeyPatch
):
    warehouse = case_day_warehouse(sqlite_warehouse_url)
    third = case_requests(warehouse, [DAY], "ko", 1)[DAY][2]  # type: ignore[arg-type]
    switch = stubborn(monkeypatch, third.label)
    resources = {"llm": LLM(api_key=fake_llm.api_key, base_url=fake_llm.base_url), "warehouse": warehouse}
    instance = DagsterInstance.ephemeral()
    result = run([historical_cases], resources, instance)
    assert result.success, step_failures(result)
    cases = warehouse.read_historical_cases([DAY]).set_index("theme_rank")  # type: ignore[attr-defined]
    assert list(cases.index) == [1, 2, 3, 4, 5]
    assert cases.loc[3, "model"] == "code" and cases.loc[3, "prompt_version"] == "fallback_v1"
    assert "37.77" not in cases.loc[3, "summary"] and set(cases.loc[[1, 2, 4, 5], "model"]) == {"gpt-4o-mini"}
    # The line that a case is education, not advice, is added by code to the stand-in as to the others.
    for rank in cases.index:
        assert cases.loc[rank, "narrative"]["action"]["content"].endswith(DISCLAIMER["ko"])
    metadata = result.asset_materializations_for_node("historical_cases")[0].metadata
    assert metadata["themes_written_by_code"].value == [f"{DAY} #3 {third.label}"]
    # The rejected attempts' tokens are the model's, counted with the others.
    assert set(metadata["tokens_by_model"].value) == {"gpt-4o-mini"}
    assert metadata["attempts_by_theme"].value[f"{DAY} #3"]["attempts"] == 4
    warnings = [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]
    assert any(
        f"theme 3 '{third.label}': no valid answer after 4 attempts" in w
        and "re-run the partition to ask the model again" in w
        for w in warnings
    ), warnings
    assert cached(warehouse) == 4  # the stand-in is never cached
    # Every blocking check of the day passed on the stored rows (the stand-in is a complete, grounded
    # case); the WARN check `written_by_model` failed, naming the theme and what to do.
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert all(e.passed for name, e in evaluations.items() if name != "written_by_model")
    by_code = evaluations["written_by_model"]
    assert not by_code.passed and by_code.severity == AssetCheckSeverity.WARN
    assert by_code.partition == DAY.isoformat()
    assert f"#3 '{third.label}'" in by_code.description
    assert "Re-run the partition to ask the model again" in by_code.description

    switch["on"] = False
    calls = fake_llm.completion_count
    again = run([historical_cases], resources)
    assert again.success, step_failures(again)
    assert fake_llm.completion_count == calls + 1  # the four others came from the cache
    refilled = warehouse.read_historical_cases([DAY]).set_index("theme_rank")  # type: ignore[attr-defined]
    assert refilled.loc[3, "model"] == "gpt-4o-mini" and cached(warehouse) == 5
    assert (
        again.asset_materializations_for_node("historical_cases")[0].metadata["themes_written_by_code"].value
        == []
    )
    assert all(e.passed for e in again.get_asset_check_evaluations())  # written_by_model passes again


def test_with_no_allowance_a_stubborn_theme_still_loses_the_day(
    fake_llm: FakeOpenAI, sqlite_warehouse_url: str, monkeypatch: pytest.MonkeyPatch
):
    warehouse = case_day_warehouse(sqlite_warehouse_url)
    stubborn(monkeypatch, case_requests(warehouse, [DAY], "ko", 1)[DAY][2].label)  # type: ignore[arg-type]
    resources = {"llm": LLM(api_key=fake_llm.api_key, base_url=fake_llm.base_url), "warehouse": warehouse}
    result = run([historical_cases], resources, themes_written_by_code=0)
    assert not result.success
    assert "no valid case after 4 attempts" in step_failures(result)["historical_cases"]
    assert warehouse.read_historical_cases([DAY]).empty  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_the_app_home_keeps_its_five_keywords_through_the_app_feed(
    fake_krx: FakeKrx,
    fake_llm: FakeOpenAI,
    pg_warehouse_url: str,
    app_db_url_unique: str,  # noqa: F811 (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
):
    warehouse = Warehouse(url=pg_warehouse_url)
    seed_history_before(warehouse, DAY)
    resources = {
        "krx": krx_for(fake_krx),
        "llm": LLM(api_key=fake_llm.api_key, base_url=fake_llm.base_url),
        "warehouse": warehouse,
        "app_database": AppDatabase(url=app_db_url_unique),
    }
    upstream = [market_data, daily_themes, analog_features, market_analogs]
    assert run(upstream, resources).success
    third = case_requests(warehouse, [DAY], "ko", 1)[DAY][2]
    stubborn(monkeypatch, third.label)
    result = run([historical_cases, app_feed], resources)
    assert result.success, step_failures(result)
    engine = sa.create_engine(app_db_url_unique.replace("postgresql://", "postgresql+psycopg2://"))
    try:
        with engine.connect() as conn:
            home = app_reads.home(conn, DAY)
    finally:
        engine.dispose()
    assert len(home["keywords"]) == 5 and all(k["case"] is not None for k in home["keywords"])
    stood_in = warehouse.read_historical_cases([DAY]).set_index("theme_rank").loc[3]
    assert stood_in["model"] == "code"
    assert stood_in["title"] in {k["case"]["title"] for k in home["keywords"]}


def test_batch_mode_stands_in_for_a_stubborn_theme_too(
    fake_llm: FakeOpenAI, sqlite_warehouse_url: str, monkeypatch: pytest.MonkeyPatch
):
    warehouse = case_day_warehouse(sqlite_warehouse_url)
    stubborn(monkeypatch, case_requests(warehouse, [DAY], "ko", 1)[DAY][2].label)  # type: ignore[arg-type]
    resources = {"llm": LLM(api_key=fake_llm.api_key, base_url=fake_llm.base_url), "warehouse": warehouse}
    batch = {"llm_mode": "batch", "batch_poll_seconds": 0.05, "batch_timeout_seconds": 10}
    result = run([historical_cases], resources, **batch)
    assert result.success, step_failures(result)
    assert fake_llm.batch_line_count == 5 + 1 + 1 + 1  # the stubborn theme's four rounds
    cases = warehouse.read_historical_cases([DAY]).set_index("theme_rank")  # type: ignore[attr-defined]
    assert list(cases.index) == [1, 2, 3, 4, 5] and cases.loc[3, "model"] == "code"
    assert cached(warehouse) == 4
