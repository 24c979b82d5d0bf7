"""Tables of the app that reference its cases (issue 32, item 5): whatever the foreign key's action
(NO ACTION, RESTRICT, CASCADE, SET NULL, DEFERRABLE), in whatever schema, by id or by the
(title, event_year) key, a re-published day never deletes a case an app row references, never
changes that row, and the day stays publishable. On the real Postgres, with the app's migrations."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.app import app_reads
from tests.app.test_publish import DAY, connect, publish
from tests.app.upstream import upstream_day

pytestmark = pytest.mark.postgres

REFERENCES = {
    "no-action": "case_id INTEGER REFERENCES historical_cases (id)",
    "restrict": "case_id INTEGER REFERENCES historical_cases (id) ON DELETE RESTRICT",
    "cascade": "case_id INTEGER REFERENCES historical_cases (id) ON DELETE CASCADE",
    "set-null": "case_id INTEGER REFERENCES historical_cases (id) ON DELETE SET NULL",
    "set-default": "case_id INTEGER DEFAULT NULL REFERENCES historical_cases (id) ON DELETE SET DEFAULT",
    "deferrable-initially-deferred": (
        "case_id INTEGER REFERENCES historical_cases (id) DEFERRABLE INITIALLY DEFERRED"
    ),
    "cascade-deferrable": (
        "case_id INTEGER REFERENCES historical_cases (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
    ),
    "by-title-and-year-cascade": (
        "case_id INTEGER, title VARCHAR(200), event_year INTEGER, FOREIGN KEY (title, event_year) "
        "REFERENCES historical_cases (title, event_year) ON DELETE CASCADE"
    ),
}


@pytest.mark.parametrize("schema", ["public", "social"])
@pytest.mark.parametrize("reference", list(REFERENCES.values()), ids=list(REFERENCES))
def test_a_case_an_app_row_references_is_never_deleted_and_the_day_stays_publishable(
    pg_warehouse_url: str, app_db_url_unique: str, reference: str, schema: str
) -> None:
    publish(pg_warehouse_url, app_db_url_unique, upstream_day(DAY))
    engine = connect(app_db_url_unique)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        conn.execute(sa.text(f"CREATE TABLE {schema}.user_saves (id SERIAL PRIMARY KEY, {reference})"))
        saved = app_reads.home(conn, DAY)["keywords"][0]["case"]
        by_key = "title" in reference
        conn.execute(
            sa.text(
                f"INSERT INTO {schema}.user_saves (case_id{', title, event_year' if by_key else ''}) "
                f"VALUES (:id{', :title, :year' if by_key else ''})"
            ),
            {"id": saved["case_id"], "title": saved["title"], "year": saved["event_year"]},
        )
        saves = conn.execute(sa.text(f"SELECT * FROM {schema}.user_saves")).all()

    # The model wrote five new cases: the five old ones are stale; the saved one must stay.
    for _ in range(2):  # and the day can be published again
        result = publish(pg_warehouse_url, app_db_url_unique, upstream_day(DAY, title_suffix=" v2"))
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT * FROM {schema}.user_saves")).all() == saves
        kept = conn.execute(
            sa.text("SELECT title FROM historical_cases WHERE id = :id"), {"id": saved["case_id"]}
        ).scalar()
        assert kept == saved["title"]
        assert [k["case"]["title"].endswith(" v2") for k in app_reads.home(conn, DAY)["keywords"]] == [
            True
        ] * 5
        assert conn.execute(sa.text("SELECT count(*) FROM historical_cases")).scalar() == 5 + 1
    assert (result.cases_updated, result.stale_cases_deleted) == (5, 0)
    engine.dispose()


def test_a_case_whose_relation_an_app_row_references_is_kept(
    pg_warehouse_url: str, app_db_url_unique: str
) -> None:
    publish(pg_warehouse_url, app_db_url_unique, upstream_day(DAY))
    engine = connect(app_db_url_unique)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE relation_notes (id SERIAL PRIMARY KEY, "
                "relation_id INTEGER NOT NULL REFERENCES case_stock_relations (id))"
            )
        )
        case_id = app_reads.home(conn, DAY)["keywords"][0]["case"]["case_id"]
        conn.execute(
            sa.text(
                "INSERT INTO relation_notes (relation_id) "
                "SELECT min(id) FROM case_stock_relations WHERE case_id = :id"
            ),
            {"id": case_id},
        )
    result = publish(pg_warehouse_url, app_db_url_unique, upstream_day(DAY, title_suffix=" v2"))
    assert (result.stale_cases_deleted, result.stale_cases_kept) == (4, 1)
    with engine.connect() as conn:
        assert app_reads.case_page(conn, case_id)["relations"] != []
        assert conn.execute(sa.text("SELECT count(*) FROM relation_notes")).scalar() == 1
    engine.dispose()
