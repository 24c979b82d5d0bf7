"""Issue 11, items 4 and 10: a schema-valid answer that fails the day's checks is never cached (the
day can be fixed by a re-run), `regenerate` asks again past the cache, and a case never claims an
episode on or after its own trade date."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, materialize

from adelie_assets.defs.cases.assets import historical_cases
from adelie_assets.defs.cases.verdicts import facts_verdict
from adelie_assets.resources.llm import LLM
from adelie_assets.resources.warehouse import Warehouse, llm_cache_table
from adelie_fakes.openai import FakeOpenAI
from adelie_fakes.openai import cases as fake_cases
from tests.builders import market_frame, step_failures
from tests.case_inputs import analog_row, write_case_upstream

DAY = date(2026, 11, 27)


def _run(fake: FakeOpenAI, warehouse: Warehouse, config: dict | None = None):
    return materialize(
        [historical_cases],
        partition_key=DAY.isoformat(),
        resources={"llm": LLM(api_key=fake.api_key, base_url=fake.base_url), "warehouse": warehouse},
        instance=DagsterInstance.ephemeral(),
        run_config={"ops": {"historical_cases": {"config": config or {}}}},
        raise_on_error=False,
    )


def _cached(warehouse: Warehouse) -> int:
    with warehouse.engine().connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(llm_cache_table)).scalar_one()


def test_an_answer_that_fails_the_days_checks_is_not_cached(
    fake_llm: FakeOpenAI, warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = Warehouse(url=warehouse_url)
    market = market_frame(DAY)
    warehouse.replace_market_data([DAY], market)
    write_case_upstream(warehouse, DAY, market)
    # Every theme gets the same title: each answer is valid alone, the day fails unique_titles.
    original = fake_cases.write_case
    monkeypatch.setattr(
        fake_cases, "write_case", lambda *a, **k: {**original(*a, **k), "title": "같은 제목의 사례"}
    )
    from adelie_fakes.openai import wire

    monkeypatch.setattr(wire, "write_case", fake_cases.write_case)
    result = _run(fake_llm, warehouse)
    assert not result.success
    assert (
        "fail their checks (Several cases of the day share a title"
        in step_failures(result)["historical_cases"]
    )
    assert warehouse.read_historical_cases([DAY]).empty and _cached(warehouse) == 0
    # Fixed model, plain re-run: the day is generated (nothing bad was served from the cache).
    monkeypatch.setattr(wire, "write_case", original)
    assert _run(fake_llm, warehouse).success
    assert len(warehouse.read_historical_cases([DAY])) == 5 and _cached(warehouse) == 5
    calls = fake_llm.completion_count
    assert _run(fake_llm, warehouse, {"regenerate": True}).success
    assert fake_llm.completion_count == calls + 5


def test_a_case_dated_on_or_after_its_trade_date_fails_the_facts_check() -> None:
    analog = {**analog_row("005930", 1), "analog_date": DAY}
    case = {
        "trade_date": DAY,
        "theme_rank": 1,
        "analog_id": "005930-1",
        "event_date": DAY,
        "event_year": DAY.year,
        "sync_rate": round(analog["similarity"]),
        "outcome": {k: analog[k] for k in analog if k.startswith(("after_", "index_after_"))},
    }
    verdict = facts_verdict(pd.DataFrame([case]), pd.DataFrame([analog]))
    assert not verdict.passed and "event_date 2026-11-27 is not before the trade date" in verdict.description
