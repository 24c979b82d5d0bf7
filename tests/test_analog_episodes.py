"""Analogs in a named market episode (issue 33, item 2): over a synthetic history inside the 2025 rally
to KOSPI 4,000 (episodes.toml, 2025-04-09 to 2025-10-27), every analog's day falls in the episode, so
market_analogs stores the episode with it; a history outside every episode stores none."""

from __future__ import annotations

from datetime import date

import pytest

from adelie_assets.defs.analogs.assets import market_analogs
from adelie_assets.defs.cases.daily_themes import daily_themes
from adelie_assets.defs.episodes import episode_on
from adelie_assets.resources.warehouse import Warehouse, market_analogs_table
from tests.builders import step_failures
from tests.history import quotes
from tests.test_analog_pipeline import _run, features_warehouse

# 103 trading days: the fewest a search needs (20 of look-back, 20 searchable, 60 of gap).
START, DAY = date(2025, 4, 1), date(2025, 8, 29)


@pytest.fixture(scope="module")
def history() -> tuple:
    return quotes(START, DAY, per_market=30, seed=5)


@pytest.fixture
def warehouse(warehouse_url: str, history: tuple) -> Warehouse:
    return features_warehouse(warehouse_url, history)


def test_an_analog_whose_day_falls_in_an_episode_carries_its_name_and_dates(warehouse: Warehouse) -> None:
    result = _run([daily_themes, market_analogs], {"warehouse": warehouse}, day=DAY)
    assert result.success, step_failures(result)
    analogs = warehouse.read(market_analogs_table, [DAY])
    assert len(analogs) and set(analogs["subject_kind"]) == {"stock", "index"}
    for row in analogs.itertuples():
        assert date(2025, 4, 9) < row.analog_date <= date(2025, 6, 2)
        assert row.regime["episode"] == {
            "episode_id": "rally_2025",
            "episode_name_ko": "2025년 코스피 4000 돌파 랠리",
            "episode_name_en": "2025 rally to KOSPI 4,000",
            "episode_start": "2025-04-09",
            "episode_end": "2025-10-27",
        }
    assert episode_on(date(2026, 7, 1)) is None  # tests/test_analog_pipeline.py's history: no episode
