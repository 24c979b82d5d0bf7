"""Partition writes are atomic and idempotent on SQLite and on the real Postgres."""

from datetime import date

import numpy as np
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
    # The rendering's error is the one reported, and the slices already sent are not kept.
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
    # Many slices, all of them stored.
    warehouse.replace_market_data([DAY], frame(DAY, 301, name="Many"))
    assert len(warehouse.read_market_data([DAY])) == 301


# --- COPY: every column type stored exactly, the database's own errors ------------------------------

AWKWARD_NAMES = [
    HOSTILE,
    "comma, inside",
    'a "quoted" name',
    "tab\there",
    "new\nline",
    "carriage\r\nreturn\r",
    "back\\slash\\",
    "\\N",  # COPY's text-format NULL marker: a name like any other
    "NULL",
    "",
    '삼성전자우, "한글"\t\\',
]
DAYS = [date(1999, 12, 31), date(2000, 1, 1), DAY]  # before, at and long after Postgres' day zero


def awkward_frame() -> pd.DataFrame:
    parts = []
    for day in DAYS:
        part = frame(day, len(AWKWARD_NAMES))
        part["name"] = AWKWARD_NAMES
        part.loc[1, "halted"] = True  # halted, yet with prices
        part.loc[2, ["open", "high", "low"]] = None  # NULL prices but not halted
        part.loc[3, ["volume", "trading_value", "market_cap"]] = [2**63 - 1, -(2**63), 2**53 + 1]
        part["change_pct"] = [-1.5, -0.0, 0.1 + 0.2, 1e-300, -123.456, np.nan, 29.99, -29.99, 0, 5e-324, 1e15]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def stored_rows(url: str, table: sa.Table) -> list[tuple]:
    with sa.create_engine(url).connect() as conn:
        return [tuple(row) for row in conn.execute(table.select().order_by(*table.primary_key.columns))]


def expected_rows(data: pd.DataFrame, table: sa.Table) -> list[tuple]:
    keys = [c.name for c in table.primary_key.columns]
    ordered = data.sort_values(keys).astype(object)
    return [tuple(None if pd.isna(v) else v for v in row) for row in ordered.itertuples(index=False)]


def test_every_column_type_round_trips_exactly(warehouse_url: str) -> None:
    data = awkward_frame()
    Warehouse(url=warehouse_url).replace_market_data(DAYS, data)
    stored = stored_rows(warehouse_url, market_data_table)
    assert stored == expected_rows(data, market_data_table)
    # == says True == 1 and -0.0 == 0.0: the type and the sign are checked apart.
    assert {type(row[-1]) for row in stored} == {bool}
    halted_with_prices = next(row for row in stored if row[0] == DAY and row[2] == "comma, inside")
    assert halted_with_prices[12] is True and halted_with_prices[4] == 101
    if warehouse_url.startswith("postgresql"):  # SQLite itself stores -0.0 as 0.0
        assert str(halted_with_prices[10]) == "-0.0"


@pytest.mark.postgres
def test_market_indices_go_through_copy_with_null_floats(pg_warehouse_url: str) -> None:
    from adelie_assets.resources.warehouse import market_indices_table

    data = pd.DataFrame(
        {
            "trade_date": [DAY, DAY],
            "index_name": ["KOSPI", "KOSDAQ"],
            "open": [2501.13, None],
            "high": [2510.5, 870.25],
            "low": [float("nan"), 860.0],
            "close": [2505.01, 865.5],
            "change_pct": [-0.37, 1.25],
            "volume": pd.array([512_345_678, None], dtype="Int64"),
            "trading_value": [10**13, 5 * 10**12],
            "market_cap": [2 * 10**15, 4 * 10**14],
        }
    )
    Warehouse(url=pg_warehouse_url).replace_rows(market_indices_table, [DAY], data)
    assert stored_rows(pg_warehouse_url, market_indices_table) == expected_rows(data, market_indices_table)


@pytest.mark.postgres
def test_a_float32_column_is_stored_as_the_decimal_it_prints_as(pg_warehouse_url: str) -> None:
    # A float32 widened to a double is 0.10000000149...: the CSV writes the decimal it prints as.
    data = frame(DAY, 3)
    data["change_pct"] = np.full(3, 0.1, dtype=np.float32)
    Warehouse(url=pg_warehouse_url).replace_market_data([DAY], data)
    assert [row[10] for row in stored_rows(pg_warehouse_url, market_data_table)] == [0.1] * 3


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("column", "value", "error"),
    [
        ("ticker", "000001", "UniqueViolation: duplicate key value"),  # row 1's ticker
        ("ticker", "0123456789012", "StringDataRightTruncation: value too long for type character varying"),
        ("name", "Bad\x00Name", 'CharacterNotInRepertoire: invalid byte sequence for encoding "UTF8": 0x00'),
    ],
)
def test_rows_the_database_refuses_are_a_data_error_and_change_nothing(
    pg_warehouse_url: str, column: str, value: str, error: str
) -> None:
    from adelie_assets.resources.warehouse import WarehouseDataError

    warehouse = Warehouse(url=pg_warehouse_url)
    warehouse.replace_market_data([DAY], frame(DAY, 5))
    broken = frame(DAY, 7, name="New")
    broken.loc[6, column] = value
    with pytest.raises(WarehouseDataError, match="refused the rows themselves") as excinfo:
        warehouse.replace_market_data([DAY], broken)
    assert error in str(excinfo.value) and "Nothing was changed" in str(excinfo.value)
    stored = warehouse.read_market_data([DAY])
    assert len(stored) == 5 and stored["name"].str.startswith("Co").all()


@pytest.mark.postgres
def test_a_name_that_cannot_be_encoded_fails_the_write_with_its_own_error(pg_warehouse_url: str) -> None:
    warehouse = Warehouse(url=pg_warehouse_url)
    warehouse.replace_market_data([DAY], frame(DAY, 5))
    broken = frame(DAY, 7, name="New")
    broken.loc[6, "name"] = "lone surrogate \ud800"
    with pytest.raises(UnicodeEncodeError, match="surrogates not allowed"):
        warehouse.replace_market_data([DAY], broken)
    stored = warehouse.read_market_data([DAY])
    assert len(stored) == 5 and stored["name"].str.startswith("Co").all()


@pytest.mark.postgres
def test_a_long_text_among_short_ones_and_every_row_is_stored(pg_warehouse_url: str) -> None:
    data = frame(DAY, 301)
    data.loc[150, "name"] = "긴 이름 " * 100
    Warehouse(url=pg_warehouse_url).replace_market_data([DAY], data)
    assert stored_rows(pg_warehouse_url, market_data_table) == expected_rows(data, market_data_table)


@pytest.mark.parametrize(
    "query",
    ["password=qu3ry-s3cret", "sslpassword=qu3ry-s3cret", "sslmode=require&PassWord=qu3ry%2Ds3cret"],
)
def test_a_password_in_the_urls_query_is_masked_in_the_step_error_and_the_event_log(query: str) -> None:
    from dagster import DagsterInstance, asset, materialize

    @asset
    def reads_the_warehouse(warehouse: Warehouse) -> None:
        warehouse.engine()

    url = f"postgresql://adelie@127.0.0.1:1/warehouse?{query}"
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [reads_the_warehouse], resources={"warehouse": Warehouse(url=url)}, instance=instance,
            raise_on_error=False,
        )  # fmt: skip
        assert not result.success
        (failure,) = [e for e in result.all_events if e.is_step_failure]
        error = failure.step_failure_data.error.to_string()
        assert "Cannot reach the warehouse at postgresql://adelie@127.0.0.1:1/warehouse?" in error
        assert "password=***" in error.lower()
        logged = "\n".join(str(record) for record in instance.all_logs(result.run_id))
    for text in (error, logged):
        assert "qu3ry" not in text


def test_a_read_only_sqlite_uri_is_accepted_and_read(tmp_path) -> None:
    path = tmp_path / "warehouse.sqlite"
    Warehouse(url=f"sqlite:///{path}").replace_market_data([DAY], frame(DAY, 3))
    read_only = Warehouse(url=f"sqlite:///file:{path}?mode=ro&uri=true")
    assert len(read_only.read_market_data([DAY])) == 3
    with pytest.raises(WarehouseError, match="directory .*missing.* does not exist"):
        Warehouse(url=f"sqlite:///file:{tmp_path / 'missing' / 'w.sqlite'}?mode=ro&uri=true").engine()


def test_an_empty_read_only_database_is_named_as_such_not_as_unreachable(tmp_path) -> None:
    import sqlite3

    path = tmp_path / "empty.sqlite"
    sqlite3.connect(path).close()  # a database with no tables
    with pytest.raises(WarehouseError) as excinfo:
        Warehouse(url=f"sqlite:///file:{path}?mode=ro&uri=true").engine()
    message = str(excinfo.value)
    assert "Cannot reach" not in message
    assert "was reached, but its tables could not be created" in message
    assert "read-only" in message and "ADELIE_WAREHOUSE_URL" in message
