"""The app's database setting: PostgreSQL only, credentials never shown, the warehouse when unset."""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa

from adelie_assets.defs.app.feed import publish_trading_day
from adelie_assets.resources.app_database import AppDatabase, AppDatabaseError, mask_url, scrub
from adelie_assets.resources.warehouse import Warehouse
from tests.app.upstream import upstream_day, write_upstream

PASSWORDS = ["s3cr3t", "p@ss:w/rd", "a@b@c", "#?&=%", "한글비번", "x%40y", "pa ss", "'\";--"]


@pytest.mark.parametrize("password", PASSWORDS)
def test_a_password_is_masked_whatever_its_characters(password: str) -> None:
    url = f"postgresql://app_user:{password}@db.internal:5432/app"
    masked = mask_url(url)
    assert masked == "postgresql://app_user:***@db.internal:5432/app"
    assert scrub(f"could not connect with {password} to {url}", url) == (
        f"could not connect with *** to {masked}"
    )


def test_a_password_in_the_query_string_is_masked() -> None:
    assert mask_url("postgresql://db.internal/app?user=u&password=hunter2") == (
        "postgresql://db.internal/app?user=u&password=***"
    )


@pytest.mark.parametrize("password", ["zq@9x@k7v", "s3cr3t"])
def test_an_unreachable_app_database_is_named_without_its_password(password: str) -> None:
    url = f"postgresql://app_user:{password}@127.0.0.1:1/app"
    with pytest.raises(AppDatabaseError) as raised:
        AppDatabase(url=url).target(Warehouse(url=None))
    message = str(raised.value)
    assert "127.0.0.1:1/app" in message and "***" in message
    for fragment in {password, *password.split("@")}:
        assert fragment not in message.replace("app_user", "")
    if "@" in password:
        assert "percent-encode" in message


def test_the_app_database_must_be_postgres() -> None:
    with pytest.raises(
        AppDatabaseError,
        match=r"ADELIE_APP_DATABASE_URL \(mysql://u:\*\*\*@h/app\) must be a "
        r"PostgreSQL URL .* Unset it to publish into the warehouse instead",
    ):
        AppDatabase(url="mysql://u:pw@h/app").target(Warehouse(url=None))


@pytest.mark.postgres
def test_the_app_database_cannot_be_the_warehouse(pg_warehouse_url: str) -> None:
    with pytest.raises(AppDatabaseError, match="is the warehouse's database"):
        AppDatabase(url=pg_warehouse_url).target(Warehouse(url=pg_warehouse_url))


def test_unset_the_tables_go_to_the_warehouse(warehouse_url: str) -> None:
    """SQLite and Postgres warehouses: app_* tables next to the warehouse's own (JSON as text on SQLite)."""
    day = date(2026, 11, 26)
    warehouse = write_upstream(warehouse_url, upstream_day(day))
    for _ in range(2):
        target, feed, result = publish_trading_day(warehouse, AppDatabase(), day)
    assert target.description.endswith("(warehouse)") and result.cases_updated == 5
    engine = warehouse.engine()
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        assert {
            "app_daily_briefings",
            "app_briefing_stocks",
            "app_historical_cases",
            "app_case_matches",
            "app_case_stock_relations",
            "historical_cases",
            "market_data",
        } <= names
        briefing = conn.execute(sa.text("SELECT briefing_date, top_keywords FROM app_daily_briefings")).one()
        keywords = (
            briefing.top_keywords
            if isinstance(briefing.top_keywords, dict)
            else json.loads(briefing.top_keywords)
        )
        assert len(keywords["keywords"]) == 5
        count = conn.execute(sa.text("SELECT count(*) FROM app_case_matches")).scalar_one()
        assert count == 5
        # The warehouse's own historical_cases (the contract's) is untouched.
        assert conn.execute(sa.text("SELECT count(*) FROM historical_cases")).scalar_one() == 5


def test_a_warehouse_with_the_v1_cases_layout_keeps_it_and_gets_the_v2_table(
    sqlite_warehouse_url: str,
) -> None:
    # A warehouse written before issue 12: historical_cases without analog_id, with one row.
    engine = sa.create_engine(sqlite_warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE historical_cases (trade_date DATE, theme_rank INT, title TEXT)"))
        conn.execute(sa.text("INSERT INTO historical_cases VALUES ('2026-11-26', 1, 'old case')"))
    engine.dispose()

    warehouse = Warehouse(url=sqlite_warehouse_url)
    with warehouse.engine().connect() as conn:
        inspector = sa.inspect(conn)
        assert "analog_id" in {c["name"] for c in inspector.get_columns("historical_cases")}
        old = conn.execute(sa.text("SELECT title FROM historical_cases_v1")).scalars().all()
    assert old == ["old case"]  # kept, not dropped


def test_in_the_warehouse_a_rewritten_day_deletes_its_stale_cases_but_one_another_day_matches(
    warehouse_url: str,
) -> None:
    """The references to a stale case are looked up in the catalog on SQLite too (its foreign keys)."""
    day, next_day, shared = date(2026, 11, 26), date(2026, 11, 27), "2015년 코스피 급등 국면"
    warehouse = write_upstream(warehouse_url, upstream_day(day, shared_title=shared))
    publish_trading_day(warehouse, AppDatabase(), day)
    write_upstream(warehouse_url, upstream_day(next_day, shared_title=shared))
    publish_trading_day(warehouse, AppDatabase(), next_day)
    write_upstream(warehouse_url, upstream_day(day, title_suffix=" v2"))
    result = publish_trading_day(warehouse, AppDatabase(), day)[2]
    assert (result.stale_cases_deleted, result.stale_cases_kept, result.cases_inserted) == (4, 1, 5)
    with warehouse.engine().connect() as conn:
        titles = conn.execute(sa.text("SELECT title FROM app_historical_cases")).scalars().all()
    assert len(titles) == 10 and shared in titles
