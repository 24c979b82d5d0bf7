"""The checks of daily_themes, analog_features and market_analogs, on rows made by the assets from a
synthetic history, then on the bad rows each check exists for."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from adelie_assets.defs.analogs.assets import analog_features, market_analogs
from adelie_assets.defs.analogs.verdicts import analogs_verdict, features_verdict, themes_verdict
from adelie_assets.defs.cases.daily_themes import daily_themes
from adelie_assets.resources.warehouse import (
    Warehouse,
    analog_features_table,
    daily_themes_table,
    market_analogs_table,
)
from tests.builders import step_failures
from tests.history import quotes, write_history

DAY = date(2026, 11, 27)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    warehouse = Warehouse(url=f"sqlite:///{tmp_path_factory.mktemp('checks')}/w.sqlite")
    days = write_history(warehouse, *quotes(date(2026, 6, 1), DAY))
    tags = {
        "dagster/asset_partition_range_start": str(days[-3]),
        "dagster/asset_partition_range_end": str(DAY),
    }
    first = materialize(
        [analog_features],
        tags={
            "dagster/asset_partition_range_start": str(days[0]),
            "dagster/asset_partition_range_end": str(DAY),
        },
        resources={"warehouse": warehouse},
        instance=DagsterInstance.ephemeral(),
    )
    assert first.success
    features_checked = first.get_asset_check_evaluations()
    assert len(features_checked) == len(days) and all(e.passed for e in features_checked)
    result = materialize(
        [daily_themes, market_analogs],
        tags=tags,
        resources={"warehouse": warehouse},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert result.success, step_failures(result)
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 2 * 3, [(e.check_name, e.partition) for e in evaluations]  # 2 checks x 3 days
    assert all(e.passed for e in evaluations), [e.description for e in evaluations if not e.passed]
    return {
        "themes": warehouse.read(daily_themes_table, [DAY]),
        "features": warehouse.read(analog_features_table, [DAY]),
        "analogs": warehouse.read(market_analogs_table, [DAY]),
        "market": warehouse.read_market_data([DAY]),
    }


def test_good_rows_pass(made) -> None:
    assert themes_verdict(made["themes"], made["market"]).passed
    assert features_verdict(made["features"], made["market"]).passed
    assert analogs_verdict(made["analogs"]).passed


def test_a_theme_with_an_unknown_category_or_ticker_fails(made) -> None:
    themes = made["themes"].copy()
    themes.loc[0, "category"] = "테마주"
    verdict = themes_verdict(themes, made["market"].iloc[5:])
    assert not verdict.passed and "category '테마주'" in verdict.description
    assert (
        "not in the day's market_data" in themes_verdict(made["themes"], made["market"].iloc[:0]).description
    )


def test_features_missing_a_ticker_fail(made) -> None:
    verdict = features_verdict(made["features"], pd.concat([made["market"], made["market"].head(1)]))
    assert not verdict.passed and "re-materialize analog_features" in verdict.description


def test_an_analog_less_than_60_trading_days_back_fails(made) -> None:
    analogs = made["analogs"].copy()
    analogs.loc[0, "analog_date"] = date(2026, 10, 1)
    verdict = analogs_verdict(analogs)
    assert not verdict.passed and "less than 60 trading days back" in verdict.description
    assert analogs.loc[0, "analog_id"] in verdict.description


def test_missing_index_analogs_fail(made) -> None:
    analogs = made["analogs"][made["analogs"]["subject"] != "KOSDAQ"]
    assert "both KOSPI and KOSDAQ expected" in analogs_verdict(analogs).description
