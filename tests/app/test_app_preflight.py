"""What the app feed checks before it writes into the app's database (issue 32, item 10)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from adelie_assets.resources.app_database import AppDatabase, AppDatabaseError
from adelie_assets.resources.warehouse import Warehouse
from tests.app import app_reads
from tests.app.test_publish import DAY, connect, publish
from tests.app.upstream import upstream_day

pytestmark = pytest.mark.postgres


def test_an_app_column_not_null_without_a_default_is_named_before_anything_is_written(
    pg_warehouse_url: str, app_db_url_unique: str
) -> None:
    engine = connect(app_db_url_unique)
    with engine.begin() as conn:  # the app's team adds columns; only the first one cannot be filled
        conn.execute(sa.text("ALTER TABLE historical_cases ADD COLUMN author_id INTEGER NOT NULL"))
        conn.execute(sa.text("ALTER TABLE historical_cases ADD COLUMN rank INTEGER NOT NULL DEFAULT 0"))
        conn.execute(
            sa.text("ALTER TABLE historical_cases ADD COLUMN n INTEGER GENERATED ALWAYS AS IDENTITY")
        )
        conn.execute(
            sa.text(
                "ALTER TABLE historical_cases ADD COLUMN y2 INTEGER "
                "GENERATED ALWAYS AS (event_year * 2) STORED"
            )
        )
    with pytest.raises(
        AppDatabaseError,
        match=r"The app's table historical_cases at postgresql://postgres@127\.0\.0\.1:5432/\S+ has "
        r"column\(s\) author_id NOT NULL without a default, which the platform does not write",
    ):
        publish(pg_warehouse_url, app_db_url_unique, upstream_day(DAY))
    with engine.connect() as conn:
        assert all(rows == [] for rows in app_reads.state(conn).values())
    engine.dispose()


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST",
        "[::1]",
        "warehouse-alias.example",  # a name only the server knows: libpq's hostaddr reaches 127.0.0.1
    ],
)
def test_the_app_database_cannot_be_the_warehouse_by_another_name_of_the_host(
    pg_warehouse_url: str, host: str
) -> None:
    warehouse = sa.make_url(pg_warehouse_url)
    assert warehouse.host == "127.0.0.1"
    app_url = f"postgresql://postgres@{host}:{warehouse.port or 5432}/{warehouse.database}"
    if host.endswith(".example"):
        app_url += "?hostaddr=127.0.0.1"
    with pytest.raises(AppDatabaseError, match="is the warehouse's database"):
        AppDatabase(url=app_url).target(Warehouse(url=pg_warehouse_url))
