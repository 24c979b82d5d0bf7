"""Regime facts (issue 33, item 1): where the market index sat on the analog's day and today (distance
from its 250-day high, one-year change), and the lowest and highest close within the 60 trading days
after the analog, for the analog and its index; stored with market_analogs, in a column a warehouse
created before them gains when the platform connects."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from adelie_assets.defs.analogs.features import index_blocks
from adelie_assets.defs.analogs.regime import YEAR_DAYS, IndexLevels, extremes_after
from adelie_assets.defs.analogs.search import History
from adelie_assets.resources.warehouse import Warehouse, market_analogs_table
from tests.history import quotes


@pytest.fixture(scope="module")
def levels() -> tuple[IndexLevels, pd.DataFrame, list[date]]:
    _, indices = quotes(date(2024, 1, 2), date(2026, 11, 27), per_market=4, seed=3)
    calendar = sorted(set(indices["trade_date"]))
    history = History.build(index_blocks(indices, calendar, calendar[20:]), calendar)
    return IndexLevels(history), indices, calendar


def test_the_index_regime_is_its_distance_from_the_250_day_high_and_its_one_year_change(levels) -> None:
    found, indices, calendar = levels
    kospi = indices[indices["index_name"] == "KOSPI"].set_index("trade_date")["close"]
    for position in (300, 450, len(calendar) - 1):
        day = calendar[position]
        window = kospi.loc[calendar[position - YEAR_DAYS + 1] : day]
        assert found.regime("KOSPI", position) == {
            "index": "KOSPI",
            "from_250d_high_pct": pytest.approx(round((kospi[day] / window.max() - 1) * 100, 2), abs=0.01),
            "change_1y_pct": pytest.approx(
                round((kospi[day] / kospi[calendar[position - YEAR_DAYS]] - 1) * 100, 2), abs=0.01
            ),
        }
        assert found.regime("KOSPI", position)["from_250d_high_pct"] <= 0
    # Less than a year stored: unknown, not computed over a shorter span.
    assert found.regime("KOSDAQ", 100) == {
        "index": "KOSDAQ",
        "from_250d_high_pct": None,
        "change_1y_pct": None,
    }


def test_the_extremes_after_are_the_lowest_and_highest_close_of_the_path_and_their_days() -> None:
    path = [
        {"offset": o, "pct": float(p)} for o, p in zip(range(-2, 61), [5, 1, 0, *([2.0] * 60)], strict=True)
    ]
    path[2 + 7]["pct"], path[2 + 30]["pct"], path[2 + 31]["pct"] = -8.5, 12.25, 12.25
    assert extremes_after(path) == {
        "lowest_pct": -8.5,
        "lowest_day": 7,
        "highest_pct": 12.25,
        "highest_day": 30,
    }
    assert extremes_after(path[:-1])["lowest_pct"] is None  # +60 unknown: no extremes either


def test_a_warehouse_created_before_gains_the_columns(warehouse_url: str) -> None:
    engine = sa.create_engine(warehouse_url)
    market_analogs_table.create(engine)
    with engine.begin() as conn:  # the table as it was before issue 33
        for column in ("regime", "analog_market_cap"):
            conn.execute(sa.text(f'ALTER TABLE market_analogs DROP COLUMN "{column}"'))
    engine.dispose()
    warehouse = Warehouse(url=warehouse_url)
    columns = {c["name"] for c in sa.inspect(warehouse.engine()).get_columns("market_analogs")}
    assert {"regime", "analog_market_cap"} <= columns
    assert warehouse.read(market_analogs_table, [date(2026, 11, 27)]).empty
