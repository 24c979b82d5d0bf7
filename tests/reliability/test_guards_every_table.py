"""Bad data never replaces good rows, in every table the platform writes (issue 11, "validate before
replace"), on both warehouses: a good day is stored first, then the new answer is made bad in a way
the table's blocking check catches, the asset runs for real, and the step must fail naming the table,
the day and the guard while the day's rows stay exactly the previous good ones. (market_data:
test_bad_krx_data.py; historical_cases: test_case_cache.py; the app's tables: the app's schema
on Postgres, as tests/app builds it.)
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from dagster import AssetCheckSeverity, DagsterInstance, materialize

from adelie_assets.calendar import previous_trading_day, trading_days
from adelie_assets.defs.analogs.assets import analog_features, market_analogs
from adelie_assets.defs.analogs.checks import (
    ANALOG_FEATURES_CHECKS,
    DAILY_THEMES_CHECKS,
    MARKET_ANALOGS_CHECKS,
)
from adelie_assets.defs.app.assets import app_feed
from adelie_assets.defs.cases.daily_themes import daily_themes
from adelie_assets.defs.market.index_checks import MARKET_INDICES_CHECKS
from adelie_assets.defs.market.indices import market_indices
from adelie_assets.lib.partitioned_checks import Verdict, daily_check, table_reader
from adelie_assets.lib.validate import replace_validated
from adelie_assets.resources.app_database import AppDatabase
from adelie_assets.resources.warehouse import (
    Warehouse,
    analog_features_table,
    daily_themes_table,
    market_analogs_table,
    market_indices_table,
)
from adelie_fakes.krx import FakeKrx
from tests.app import app_reads
from tests.app.conftest import app_db_url_unique  # noqa: F401 (the app's real schema, on Postgres)
from tests.app.upstream import upstream_day, write_upstream
from tests.builders import krx_for, step_failures
from tests.history import quotes, seed_history_before

DAY = date(2026, 11, 27)


def run(assets: list, resources: dict[str, Any]):  # noqa: ANN201
    return materialize(
        assets,
        partition_key=DAY.isoformat(),
        resources=resources,
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def stored(warehouse: Warehouse, table: sa.Table) -> list[tuple[Any, ...]]:
    """The day's rows, comparable (NaN as None; bytea comes back as a memoryview on Postgres)."""
    frame = warehouse.read(table, [DAY]).astype(object)
    frame = frame.where(frame.notna(), None)
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in frame.itertuples()]


def assert_refused(message: str, table: str, guard: str) -> None:
    assert f"The new {table} rows of {DAY} were refused before writing: [{guard}]" in message, message
    assert "nothing was replaced" in message and "not a warehouse problem" in message, message


def write_day_inputs(warehouse: Warehouse) -> None:
    """DAY's market_data and both indices (as their assets would have stored them)."""
    market, indices = quotes(date(2026, 11, 20), DAY, per_market=30)  # DAY is not the walk's flat start
    warehouse.replace_market_data([DAY], market[market["trade_date"] == DAY])
    warehouse.replace_rows(market_indices_table, [DAY], indices[indices["trade_date"] == DAY])


# --- the factoring: the checks an asset records are the ones evaluated before its write -----------


@pytest.mark.parametrize(
    ("asset", "declarations"),
    [
        (market_indices, MARKET_INDICES_CHECKS),
        (daily_themes, DAILY_THEMES_CHECKS),
        (analog_features, ANALOG_FEATURES_CHECKS),
        (market_analogs, MARKET_ANALOGS_CHECKS),
    ],
)
def test_the_checks_an_asset_records_are_the_ones_that_guard_its_write(asset, declarations) -> None:  # noqa: ANN001
    assert {spec.key for spec in asset.check_specs} == {d.key for d in declarations}
    assert all(d.asset == asset.key for d in declarations) and any(d.blocking for d in declarations)


# --- market_indices: a KRX answer whose high is below its low ---------------------------------------


def test_a_bad_index_answer_keeps_the_good_rows(
    fake_krx: FakeKrx, warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = Warehouse(url=warehouse_url)
    good = run([market_indices], {"krx": krx_for(fake_krx), "warehouse": warehouse})
    assert good.success, step_failures(good)
    before = stored(warehouse, market_indices_table)
    assert len(before) == 2

    from adelie_fakes.krx import indices as fake_indices

    real = fake_indices.index_answer

    def high_below_low(*request: str) -> dict:
        body = real(*request)
        for row in body["output"]:
            if row["TRD_DD"] == f"{DAY:%Y/%m/%d}":
                row["HGPRC_IDX"] = "1.00"
        return body

    monkeypatch.setattr("adelie_fakes.krx.server.index_answer", high_below_low)
    bad = run([market_indices], {"krx": krx_for(fake_krx), "warehouse": warehouse})
    assert not bad.success
    message = step_failures(bad)["market_indices"]
    assert_refused(message, "market_indices", "index_values_plausible")
    assert "high 1.0" in message and "(KRX)" in message
    assert stored(warehouse, market_indices_table) == before


# --- daily_themes: a theme whose stock is not a ticker of the day ----------------------------------


def test_themes_naming_an_unknown_stock_keep_the_good_rows(warehouse_url: str) -> None:
    warehouse = Warehouse(url=warehouse_url)
    write_day_inputs(warehouse)
    good = run([daily_themes], {"warehouse": warehouse})
    assert good.success, step_failures(good)
    before = stored(warehouse, daily_themes_table)
    assert len(before) == 5
    # The asset picks its stocks from the day's market_data, so it cannot itself produce this: the
    # hostile answer is handed to the same validated write the asset uses.
    hostile = warehouse.read(daily_themes_table, [DAY])
    hostile.at[0, "stocks"] = [{**hostile.at[0, "stocks"][0], "ticker": "999999"}]
    validated = replace_validated(
        warehouse, daily_themes_table, [DAY], hostile, DAILY_THEMES_CHECKS, "market_data"
    )
    assert not validated.written and list(validated.refused) == [DAY]
    assert_refused(str(validated.refused[DAY]), "daily_themes", "themes_are_sound")
    assert "999999 not in the day's market_data" in str(validated.refused[DAY])
    assert not validated.verdicts["themes_are_sound"][DAY].passed
    assert stored(warehouse, daily_themes_table) == before


# --- analog_features: a day whose KOSDAQ index row has no close --------------------------------


def test_features_without_an_index_keep_the_good_rows(warehouse_url: str) -> None:
    warehouse = Warehouse(url=warehouse_url)
    write_day_inputs(warehouse)
    good = run([analog_features], {"warehouse": warehouse})
    assert good.success, step_failures(good)
    before = stored(warehouse, analog_features_table)
    assert len(before) == 2
    # A bad upstream row: the day's KOSDAQ row has no close (stored by hand, past market_indices' guard).
    indices = warehouse.read(market_indices_table, [DAY])
    indices["close"] = indices["close"].astype(object)
    indices.loc[indices["index_name"] == "KOSDAQ", "close"] = None
    warehouse.replace_rows(market_indices_table, [DAY], indices)
    bad = run([analog_features], {"warehouse": warehouse})
    assert not bad.success
    message = step_failures(bad)["analog_features"]
    assert_refused(message, "analog_features", "features_cover_the_day")
    assert "lacks the KOSPI and KOSDAQ vectors" in message
    assert stored(warehouse, analog_features_table) == before


# --- market_analogs: KOSDAQ's recent history missing, so it finds no analog -------------------------


def test_analogs_without_an_index_keep_the_good_rows(warehouse_url: str) -> None:
    warehouse = Warehouse(url=warehouse_url)
    seed_history_before(warehouse, DAY)
    calendar = trading_days(date(DAY.year - 1, 1, 1), DAY)
    market, _ = quotes(calendar[-111], DAY)
    warehouse.replace_market_data([DAY], market[market["trade_date"] == DAY])
    resources = {"warehouse": warehouse}
    good = run([analog_features, daily_themes, market_analogs], resources)
    assert good.success, step_failures(good)
    before = stored(warehouse, market_analogs_table)
    assert {row[2] for row in before} >= {"KOSPI", "KOSDAQ"}  # (index, trade_date, subject, ...)
    # Bad upstream rows: KOSDAQ missing from market_indices on the five days before DAY, so the
    # day's KOSDAQ setup has no 5-day change and no analog.
    day, week = DAY, []
    for _ in range(5):
        day = previous_trading_day(day)
        week.append(day)
    indices = warehouse.read(market_indices_table, week)
    warehouse.replace_rows(market_indices_table, week, indices[indices["index_name"] == "KOSPI"])
    refreshed = run([analog_features], resources)
    assert refreshed.success, step_failures(refreshed)
    bad = run([market_analogs], resources)
    assert not bad.success
    message = step_failures(bad)["market_analogs"]
    assert_refused(message, "market_analogs", "analogs_are_sound")
    assert "index analogs for ['KOSPI']" in message
    assert stored(warehouse, market_analogs_table) == before


def test_a_day_with_no_rows_is_still_refused_by_its_guard(warehouse_url: str) -> None:
    warehouse = Warehouse(url=warehouse_url)
    write_day_inputs(warehouse)
    before = stored(warehouse, market_indices_table)
    validated = replace_validated(
        warehouse, market_indices_table, [DAY], pd.DataFrame(), MARKET_INDICES_CHECKS, "KRX"
    )
    assert not validated.written and list(validated.refused) == [DAY]
    assert_refused(str(validated.refused[DAY]), "market_indices", "both_indices_present")
    assert stored(warehouse, market_indices_table) == before


# --- the app tables: a day whose fifth theme lost its case ----------------------------------------


@pytest.mark.postgres
def test_a_day_the_app_would_break_on_keeps_the_published_rows(
    pg_warehouse_url: str,
    app_db_url_unique: str,  # noqa: F811 (the fixture imported above)
) -> None:
    resources = {
        "warehouse": Warehouse(url=pg_warehouse_url),
        "app_database": AppDatabase(url=app_db_url_unique),
    }
    write_upstream(pg_warehouse_url, upstream_day(DAY))
    good = run([app_feed], resources)
    assert good.success, step_failures(good)
    engine = sa.create_engine(app_db_url_unique.replace("postgresql://", "postgresql+psycopg2://"))
    try:
        with engine.connect() as conn:
            before = app_reads.state(conn)
        # Bad upstream rows: the day's themes and cases re-made with one theme less (four keywords).
        upstream = upstream_day(DAY)
        for table in ("daily_themes", "historical_cases"):
            upstream.rows[table] = [r for r in upstream.rows[table] if r["theme_rank"] != 5]
        write_upstream(pg_warehouse_url, upstream)
        bad = run([app_feed], resources)
        assert not bad.success
        message = step_failures(bad)["app_feed"]
        assert (
            f"The new app feed rows of {DAY} were refused before writing: [five_keywords_with_cases] "
            f"{DAY}: 4 keyword(s)" in message
        ), message
        assert "not an app database problem; nothing was replaced" in message
        assert "Days already published in this run (complete): none." in message
        with engine.connect() as conn:
            assert app_reads.state(conn) == before
    finally:
        engine.dispose()


def test_a_check_that_reads_its_table_another_way_cannot_guard_the_write(warehouse_url: str) -> None:
    """Reading the stored rows instead of the staged ones would judge yesterday's data: refused loudly."""
    warehouse = Warehouse(url=warehouse_url)
    write_day_inputs(warehouse)
    sneaky = daily_check(
        market_indices.key,
        "reads_the_stored_rows",
        lambda rows: Verdict(True, f"{len(rows)} rows"),
        reads=(lambda w, days: w.read(market_indices_table, days),),
        description="reads market_indices without table_reader",
    )
    frame = warehouse.read(market_indices_table, [DAY])
    with pytest.raises(
        TypeError, match="reads_the_stored_rows does not read market_indices through the reader"
    ):
        replace_validated(warehouse, market_indices_table, [DAY], frame, [sneaky], "KRX")


def test_a_warn_check_that_raises_is_recorded_as_failed_and_blocks_nothing(warehouse_url: str) -> None:
    warehouse = Warehouse(url=warehouse_url)
    write_day_inputs(warehouse)

    def broken(rows: pd.DataFrame) -> Verdict:
        raise KeyError("close_price")

    flaky = daily_check(
        market_indices.key,
        "flaky_warning",
        broken,
        reads=(table_reader(market_indices_table),),
        description="a WARN check with a bug",
        severity=AssetCheckSeverity.WARN,
        blocking=False,
    )
    frame = warehouse.read(market_indices_table, [DAY])
    validated = replace_validated(
        warehouse, market_indices_table, [DAY], frame, [*MARKET_INDICES_CHECKS, flaky], "KRX"
    )
    verdicts = validated.verdicts
    assert validated.written == {DAY: 2} and not validated.refused and stored(warehouse, market_indices_table)
    (verdict,) = verdicts["flaky_warning"].values()
    assert not verdict.passed
    assert verdict.description == "The check could not be evaluated: KeyError: 'close_price'"
    assert all(
        v.passed for name, by_day in verdicts.items() if name != "flaky_warning" for v in by_day.values()
    )


def test_a_range_run_of_a_derived_table_refuses_the_bad_day_alone(warehouse_url: str) -> None:
    """One validate-then-replace path: analog_features, like the KRX assets, writes and records the
    days of a range whose checks pass and refuses the day a blocking check fails on."""
    warehouse = Warehouse(url=warehouse_url)
    previous = previous_trading_day(DAY)
    market, indices = quotes(date(2026, 11, 20), DAY, per_market=30)
    for day in (previous, DAY):
        warehouse.replace_market_data([day], market[market["trade_date"] == day])
        warehouse.replace_rows(market_indices_table, [day], indices[indices["trade_date"] == day])
    bad = warehouse.read(market_indices_table, [DAY])  # DAY's KOSDAQ row without a close
    bad["close"] = bad["close"].astype(object)
    bad.loc[bad["index_name"] == "KOSDAQ", "close"] = None
    warehouse.replace_rows(market_indices_table, [DAY], bad)
    instance = DagsterInstance.ephemeral()
    result = materialize(
        [analog_features],
        tags={
            "dagster/asset_partition_range_start": previous.isoformat(),
            "dagster/asset_partition_range_end": DAY.isoformat(),
        },
        resources={"warehouse": warehouse},
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    message = step_failures(result)["analog_features"]
    assert_refused(message, "analog_features", "features_cover_the_day")
    assert "other 1 of 2 day(s) were written and recorded as materialized" in message
    assert set(warehouse.read(analog_features_table, [previous, DAY])["trade_date"]) == {previous}
    assert instance.get_materialized_partitions(analog_features.key) == {previous.isoformat()}
    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "features_cover_the_day"
    ]
    assert evaluation.passed and evaluation.partition == previous.isoformat()
