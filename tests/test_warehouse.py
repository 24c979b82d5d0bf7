"""Partition writes are atomic and idempotent on SQLite and on the real Postgres."""

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from adelie_assets.resources.krx import COLUMNS
from adelie_assets.resources.warehouse import Warehouse, WarehouseError, market_data_table

DAY = date(2026, 11, 27)
HOSTILE = 'Robert\'); DROP TABLE market_data;-- | <script>alert(1)</script> **bold** "q" 한글, comma'


def frame(day: date, count: int, name: str = "Co") -> pd.DataFrame:
    rows = [
        {
            "trade_date": day,
            "ticker": f"{i:06d}",
            "name": f"{name} {i}",
            "market": "KOSPI" if i % 2 else "KOSDAQ",
            "open": 100 + i,
            "high": 110 + i,
            "low": 90 + i,
            "close": 105 + i,
            "volume": 2**33 + i,
            "trading_value": 10**12 + i,
            "change_pct": -1.5,
            "market_cap": 10**13,
            "halted": False,
        }
        for i in range(count)
    ]
    result = pd.DataFrame(rows, columns=COLUMNS)
    result.loc[0, ["open", "high", "low"]] = None
    result.loc[0, "halted"] = True
    return result


def test_replace_is_idempotent_and_keeps_other_days(warehouse_url: str) -> None:
    warehouse = Warehouse(url=warehouse_url)
    other = date(2026, 11, 26)
    warehouse.replace_market_data([other], frame(other, 3))
    warehouse.replace_market_data([DAY], frame(DAY, 5))
    warehouse.replace_market_data([DAY], frame(DAY, 4))
    assert len(warehouse.read_market_data([DAY])) == 4
    assert len(warehouse.read_market_data([other])) == 3


def test_values_round_trip_exactly_including_hostile_text_and_big_numbers(warehouse_url: str) -> None:
    warehouse = Warehouse(url=warehouse_url)
    data = frame(DAY, 3)
    data.loc[1, "name"] = HOSTILE
    warehouse.replace_market_data([DAY], data)
    stored = warehouse.read_market_data([DAY]).set_index("ticker")
    assert stored.loc["000001", "name"] == HOSTILE
    assert stored.loc["000001", "volume"] == 2**33 + 1
    assert stored.loc["000000", "halted"] and pd.isna(stored.loc["000000", "open"])
    assert stored.loc["000002", "change_pct"] == -1.5
    with sa.create_engine(warehouse_url).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(market_data_table)).scalar_one() == 3


def test_failed_write_leaves_previous_rows(warehouse_url: str) -> None:
    warehouse = Warehouse(url=warehouse_url)
    warehouse.replace_market_data([DAY], frame(DAY, 5))
    broken = frame(DAY, 6)
    broken.loc[5, "ticker"] = broken.loc[4, "ticker"]  # duplicate key: the load fails mid-way
    with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError differs per database
        warehouse.replace_market_data([DAY], broken)
    stored = warehouse.read_market_data([DAY])
    assert len(stored) == 5 and stored["name"].str.startswith("Co").all()


def test_malformed_url_names_the_variable_without_echoing_it() -> None:
    with pytest.raises(WarehouseError) as excinfo:
        Warehouse(url="not a url:// s3cr3t").engine()
    assert "ADELIE_WAREHOUSE_URL is not a valid SQLAlchemy URL" in str(excinfo.value)
    assert "s3cr3t" not in str(excinfo.value)


def test_unsupported_driver_is_named() -> None:
    with pytest.raises(WarehouseError, match="unsupported driver 'mysql'"):
        Warehouse(url="mysql://u:p@localhost/db").engine()


def test_unreachable_postgres_says_what_to_check_and_hides_password() -> None:
    with pytest.raises(WarehouseError) as excinfo:
        Warehouse(url="postgresql://adelie:hunter2@127.0.0.1:1/warehouse").engine()
    message = str(excinfo.value)
    assert "Cannot reach the warehouse at postgresql://adelie:***@127.0.0.1:1/warehouse" in message
    assert "Check ADELIE_WAREHOUSE_URL" in message and "hunter2" not in message


@pytest.mark.postgres
def test_copy_in_slices_is_still_one_atomic_write(
    pg_warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adelie_assets.resources import warehouse_load as warehouse_module

    monkeypatch.setattr(warehouse_module, "COPY_SLICE_ROWS", 2)
    warehouse = Warehouse(url=pg_warehouse_url)
    warehouse.replace_market_data([DAY], frame(DAY, 5))
    assert len(warehouse.read_market_data([DAY])) == 5
    broken = frame(DAY, 7, name="New")
    broken.loc[6, "ticker"] = broken.loc[0, "ticker"]  # fails in the last slice, after two slices went in
    with pytest.raises(WarehouseError, match="Nothing was changed"):
        warehouse.replace_market_data([DAY], broken)
    stored = warehouse.read_market_data([DAY])
    assert len(stored) == 5 and stored["name"].str.startswith("Co").all()


class _Unprintable:
    def __str__(self) -> str:
        raise ValueError("this name cannot be written as text")


@pytest.mark.postgres
def test_a_slice_that_cannot_be_rendered_fails_the_write_with_its_own_error(
    pg_warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rows are rendered in a thread while COPY reads them: the rendering's error is the one
    # reported, and the slices already sent are not kept.
    from adelie_assets.resources import warehouse_load as warehouse_module

    monkeypatch.setattr(warehouse_module, "COPY_SLICE_ROWS", 2)
    warehouse = Warehouse(url=pg_warehouse_url)
    warehouse.replace_market_data([DAY], frame(DAY, 5))
    broken = frame(DAY, 7, name="New").astype({"name": object})
    broken.loc[6, "name"] = _Unprintable()
    with pytest.raises(ValueError, match="this name cannot be written as text"):
        warehouse.replace_market_data([DAY], broken)
    stored = warehouse.read_market_data([DAY])
    assert len(stored) == 5 and stored["name"].str.startswith("Co").all()
    # Many slices through the pipe, all of them stored.
    warehouse.replace_market_data([DAY], frame(DAY, 301, name="Many"))
    assert len(warehouse.read_market_data([DAY])) == 301
