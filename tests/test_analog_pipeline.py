"""End to end over five months of synthetic quotes: features written with each partition, analogs
found in that history, Korean cases (through the real openai SDK and the fake OpenAI server) whose
facts are the analogs'; a fault of the fake LLM never leaves a row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, materialize

from adelie_assets.defs.analogs.assets import analog_features, market_analogs
from adelie_assets.defs.analogs.features import FEATURES, SIZE_TIERS, ticker_of
from adelie_assets.defs.cases.assets import historical_cases
from adelie_assets.defs.cases.daily_themes import daily_themes
from adelie_assets.defs.cases.generate import hangul_share
from adelie_assets.resources.llm import LLM
from adelie_assets.resources.warehouse import (
    Warehouse,
    analog_features_table,
    llm_cache_table,
    market_analogs_table,
    market_data_table,
)
from adelie_fakes.openai import FakeOpenAI
from tests.builders import step_failures
from tests.history import quotes, write_history

START, END = date(2026, 6, 1), date(2026, 11, 27)
DAYS_RUN = [date(2026, 11, 26), END]


def _llm(fake: FakeOpenAI) -> LLM:
    return LLM(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, timeout_seconds=5.0)


def _run(assets: list, resources: dict, *, day: date | None = None, span: tuple[date, date] | None = None,
         config: dict | None = None):  # fmt: skip
    tags = {}
    if span:
        tags = {
            "dagster/asset_partition_range_start": span[0].isoformat(),
            "dagster/asset_partition_range_end": span[1].isoformat(),
        }
    return materialize(
        assets,
        partition_key=day.isoformat() if day else None,
        tags=tags,
        resources=resources,
        instance=DagsterInstance.ephemeral(),
        run_config={"ops": config or {}},
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def history() -> tuple:
    return quotes(START, END, per_market=30)


def features_warehouse(warehouse_url: str, history: tuple) -> Warehouse:
    """A warehouse holding `history` (tests.history.quotes) and its analog_features."""
    warehouse = Warehouse(url=warehouse_url)
    days = write_history(warehouse, *history)
    result = _run([analog_features], {"warehouse": warehouse}, span=(days[0], days[-1]))
    assert result.success, step_failures(result)
    return warehouse


@pytest.fixture
def warehouse(warehouse_url: str, history: tuple) -> Warehouse:
    return features_warehouse(warehouse_url, history)


def test_korean_cases_carry_the_facts_of_their_analogs(warehouse: Warehouse, fake_llm: FakeOpenAI) -> None:
    resources = {"warehouse": warehouse, "llm": _llm(fake_llm)}
    result = _run(
        [daily_themes, market_analogs, historical_cases], resources, span=(DAYS_RUN[0], DAYS_RUN[-1])
    )
    assert result.success, step_failures(result)
    analogs = warehouse.read(market_analogs_table, DAYS_RUN)
    cases = warehouse.read_historical_cases(DAYS_RUN)
    assert len(cases) == 10 and set(cases["trade_date"]) == set(DAYS_RUN)
    by_id = {(r.trade_date, r.analog_id): r for r in analogs.itertuples()}
    for case in cases.itertuples():
        analog = by_id[(case.trade_date, case.analog_id)]
        assert case.language == "ko" and case.prompt_version == "historical_case_v4_ko"
        assert hangul_share([case.title, case.summary]) > 0.5
        assert case.event_date == analog.analog_date and case.event_year == analog.analog_date.year
        assert case.sync_rate == round(analog.similarity)
        assert case.outcome["after_20_pct"] == analog.after_20_pct
        assert case.outcome["index_after_60_pct"] == analog.index_after_60_pct
        assert str(analog.analog_date.year) in case.title
    # Stocks are matched among every stock's past, at least 60 trading days back; indices with their own.
    assert set(analogs.loc[analogs["subject_kind"] == "index", "subject"]) == {"KOSPI", "KOSDAQ"}
    assert (analogs["analog_date"] <= date(2026, 8, 31)).all()
    metadata = result.asset_materializations_for_node("market_analogs")[0].metadata
    assert metadata["history_years_searched"].value == pytest.approx(0.49, abs=0.01)
    # An unchanged day costs no tokens; regenerate asks again.
    calls = fake_llm.completion_count
    again = _run([historical_cases], resources, day=END)
    assert again.success and fake_llm.completion_count == calls
    assert again.asset_materializations_for_node("historical_cases")[0].metadata["input_tokens"].value == 0
    fresh = _run(
        [historical_cases], resources, day=END, config={"historical_cases": {"config": {"regenerate": True}}}
    )
    assert fresh.success and fake_llm.completion_count == calls + 5


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("invented_number", "number '37.77%' is not among the facts"),
        ("unknown_analog_id", "analog_id '999999-9' was not offered"),
        ("english_text", "the case is not in Korean"),
    ],
)
def test_a_fault_of_the_fake_llm_never_leaves_a_row(
    warehouse: Warehouse, fake_llm: FakeOpenAI, fault: str, problem: str
) -> None:
    resources = {"warehouse": warehouse, "llm": _llm(fake_llm)}
    assert _run([daily_themes, market_analogs], resources, day=END).success
    fake_llm.set_fault(fault)
    result = _run(
        [historical_cases], resources, day=END, config={"historical_cases": {"config": {"max_attempts": 2}}}
    )
    assert not result.success
    text = step_failures(result)["historical_cases"]
    assert problem in text and "no valid case after 2 attempts" in text
    assert warehouse.read_historical_cases([END]).empty
    with warehouse.engine().connect() as conn:  # the rejected answers were not cached
        assert conn.execute(sa.select(sa.func.count()).select_from(llm_cache_table)).scalar_one() == 0
    # The answers that failed were not cached: once the model behaves, the day is generated.
    fake_llm.set_fault(None)
    assert _run([historical_cases], resources, day=END).success
    assert len(warehouse.read_historical_cases([END])) == 5


def test_too_little_history_says_how_much_to_backfill(warehouse: Warehouse) -> None:
    early = date(2026, 8, 3)
    assert _run([daily_themes], {"warehouse": warehouse}, day=early).success
    result = _run([market_analogs], {"warehouse": warehouse}, day=early)
    assert not result.success
    text = step_failures(result)["market_analogs"]
    assert "searchable trading day(s) of stock history before 2026-08-03" in text
    assert "Backfill market_data, market_indices and analog_features from 2026-03-" in text
    assert warehouse.read(market_analogs_table, [early]).empty


def test_a_zero_close_in_the_warehouse_is_refused_naming_the_ticker_and_the_day(warehouse: Warehouse) -> None:
    # market_data's guard refuses a zero close from KRX; a warehouse can still hold one (stored before
    # the guard, or by hand). analog_features refuses it instead of storing inf features.
    bad_day, day = date(2026, 11, 20), date(2026, 11, 25)
    with warehouse.engine().begin() as conn:
        conn.execute(
            market_data_table.update()
            .where(market_data_table.c.trade_date == bad_day, market_data_table.c.ticker == "000003")
            .values(close=0)
        )
    stored = warehouse.read(analog_features_table, [day])
    result = _run([analog_features], {"warehouse": warehouse}, day=day)
    assert not result.success
    text = step_failures(result)["analog_features"]
    assert f"market_data holds a close of 0 for 000003 on {bad_day}" in text
    assert f"Re-materialize market_data for {bad_day}" in text
    assert warehouse.read(analog_features_table, [day]).equals(stored)  # nothing replaced


def _rewrite_blocks(
    warehouse: Warehouse, day: date, rewrite: Callable[[np.ndarray, str], np.ndarray]
) -> None:
    """Store `day`'s feature blocks with their (columns, tickers) float32 matrix rewritten."""
    blocks = warehouse.read(analog_features_table, [day])
    for i, row in blocks.iterrows():
        values = np.frombuffer(row["vectors"], dtype="<f4").reshape(-1, row["row_count"])
        blocks.at[i, "vectors"] = np.ascontiguousarray(rewrite(values.copy(), row["kind"])).tobytes()
    warehouse.replace_rows(analog_features_table, [day], blocks)


def _market_analogs_failure(warehouse: Warehouse) -> str:
    assert _run([daily_themes], {"warehouse": warehouse}, day=END).success
    result = _run([market_analogs], {"warehouse": warehouse}, day=END)
    assert not result.success
    assert warehouse.read(market_analogs_table, [END]).empty
    return step_failures(result)["market_analogs"]


def test_a_stored_infinite_feature_is_named_before_any_search(warehouse: Warehouse) -> None:
    # A warehouse whose analog_features were stored before they were refused: market_analogs names the
    # ticker and the day to re-materialize (it said "similarity outside 0-100 ... data problem").
    day = date(2026, 9, 1)

    def poison(values: np.ndarray, kind: str) -> np.ndarray:
        if kind == "stock":
            values[FEATURES.index("change_5d_pct"), 4] = np.inf
        return values

    _rewrite_blocks(warehouse, day, poison)
    stocks = warehouse.read(analog_features_table, [day]).query("kind == 'stock'")
    ticker = ticker_of(np.frombuffer(stocks["codes"].iloc[0], dtype="<u8")[4])
    text = _market_analogs_failure(warehouse)
    assert f"the stock features of {day} are not finite: change_5d_pct of {ticker} is inf" in text
    assert f"re-materialize analog_features for {day}" in text


def test_features_stored_before_adjusted_prices_are_refused_with_the_backfill_to_run(
    warehouse: Warehouse,
) -> None:
    day = date(2026, 9, 1)
    # The 7 columns of the blocks written before the adjustment factor.
    _rewrite_blocks(warehouse, day, lambda values, kind: values[:7])
    text = _market_analogs_failure(warehouse)
    assert f"features of {day} were stored by an earlier version (7 columns, not 9)" in text
    assert f"Re-materialize analog_features for every stored day up to {END}" in text


def test_analogs_carry_their_regime_facts_and_market_cap(warehouse: Warehouse) -> None:
    assert _run([daily_themes, market_analogs], {"warehouse": warehouse}, day=END).success
    analogs = warehouse.read(market_analogs_table, [END])
    market = warehouse.read_market_data(sorted(set(analogs["analog_date"]))).set_index(
        ["ticker", "trade_date"]
    )
    for row in analogs.itertuples():
        regime = row.regime
        after = [p["pct"] for p in row.path_analog if 1 <= p["offset"] <= 60]
        assert regime["after_60"]["analog"]["lowest_pct"] == min(after)
        assert regime["after_60"]["analog"]["highest_pct"] == max(after)
        lowest_day = regime["after_60"]["analog"]["lowest_day"]
        assert row.path_analog[20 + lowest_day]["pct"] == min(after)
        index = regime["after_60"]["index"]
        assert index["lowest_pct"] <= row.index_after_60_pct <= index["highest_pct"]
        # Six months of index history: less than the year the regime needs, so unknown, not made up.
        assert regime["today"]["from_250d_high_pct"] is None and regime["analog"]["change_1y_pct"] is None
        if row.subject_kind == "stock":
            assert regime["today"]["index"] in ("KOSPI", "KOSDAQ")
            assert row.analog_market_cap == market.at[(row.analog_ticker, row.analog_date), "market_cap"]
            # Compared with stocks of its size: the analog was of the subject's size tier on its day.
            assert regime["size_tier"]["today"] == regime["size_tier"]["analog"] in SIZE_TIERS
        else:
            assert regime["today"]["index"] == regime["analog"]["index"] == row.subject
            assert pd.isna(row.analog_market_cap) and regime["size_tier"] == {"today": None, "analog": None}
        assert regime["episode"] is None  # no episode of episodes.toml covers June-August 2026
