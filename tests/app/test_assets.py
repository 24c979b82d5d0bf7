"""The `app` group as Dagster runs it: app_briefing + app_cases and their checks in one step."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, materialize

from adelie_assets.defs.app.assets import app_feed
from adelie_assets.resources.app_database import AppDatabase
from adelie_assets.resources.warehouse import Warehouse
from tests.app import app_reads
from tests.app.upstream import upstream_day, write_upstream
from tests.builders import executed_steps, step_failures

pytestmark = pytest.mark.postgres
WEEK = [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]


def run(warehouse_url: str, app_url: str, **kwargs):  # noqa: ANN201
    return materialize(
        [app_feed],
        resources={"warehouse": Warehouse(url=warehouse_url), "app_database": AppDatabase(url=app_url)},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
        **kwargs,
    )


def _checks(result) -> dict[tuple[str, str | None], bool]:  # noqa: ANN001
    evaluations = [
        e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return {(e.check_name, e.partition): e.passed for e in evaluations}


def test_a_day_is_published_and_every_check_passes(pg_warehouse_url: str, app_db_url_unique: str) -> None:
    write_upstream(pg_warehouse_url, upstream_day(WEEK[0]))
    result = run(pg_warehouse_url, app_db_url_unique, partition_key="2026-11-23")
    assert result.success, step_failures(result)
    checks = _checks(result)
    assert len(checks) == 6 and all(checks.values()), checks
    briefing = result.asset_materializations_for_node("app_feed")[0].metadata
    assert briefing["keywords"].value == 5 and briefing["market_summary"].value.startswith("KOSPI ")
    assert "***" not in briefing["app_database"].value and "127.0.0.1" in briefing["app_database"].value


def test_a_backfill_chunk_publishes_each_day_and_checks_each_day(
    pg_warehouse_url: str, app_db_url_unique: str
) -> None:
    for day in WEEK:
        write_upstream(pg_warehouse_url, upstream_day(day))
    tags = {
        "dagster/asset_partition_range_start": "2026-11-23",
        "dagster/asset_partition_range_end": "2026-11-25",
    }
    result = run(pg_warehouse_url, app_db_url_unique, tags=tags)
    assert result.success, step_failures(result)
    checks = _checks(result)
    assert {p for _, p in checks} == {"2026-11-23", "2026-11-24", "2026-11-25"}
    assert len(checks) == 18 and all(checks.values())
    # The six checks are recorded by the publishing step, from the day as it committed it.
    assert executed_steps(result) == {"app_feed"}
    engine = sa.create_engine(app_db_url_unique.replace("postgresql://", "postgresql+psycopg2://"))
    with engine.connect() as conn:
        assert [b["briefing_date"] for b in app_reads.state(conn)["daily_briefings"]] == WEEK
    engine.dispose()


def test_a_day_with_four_keywords_is_refused_by_its_blocking_check_before_the_commit(
    pg_warehouse_url: str, app_db_url_unique: str
) -> None:
    upstream = upstream_day(WEEK[0])
    for table in ("daily_themes", "historical_cases"):
        upstream.rows[table] = [r for r in upstream.rows[table] if r["theme_rank"] != 5]
    write_upstream(pg_warehouse_url, upstream)
    result = run(pg_warehouse_url, app_db_url_unique, partition_key="2026-11-23")
    assert not result.success
    assert "[five_keywords_with_cases] 2026-11-23: 4 keyword(s)" in step_failures(result)["app_feed"]
    assert _checks(result) == {}  # the step failed: its checks did not run, nothing was published
    engine = sa.create_engine(app_db_url_unique.replace("postgresql://", "postgresql+psycopg2://"))
    with engine.connect() as conn:
        assert app_reads.state(conn)["daily_briefings"] == []
    engine.dispose()


def test_a_missing_upstream_day_publishes_nothing(pg_warehouse_url: str, app_db_url_unique: str) -> None:
    write_upstream(pg_warehouse_url, upstream_day(WEEK[0]))
    result = run(pg_warehouse_url, app_db_url_unique, partition_key="2026-11-24")
    assert not result.success
    assert (
        "Nothing was published: daily_themes has no rows for 2026-11-24: materialize daily_themes"
        in (step_failures(result)["app_feed"])
    )
    engine = sa.create_engine(app_db_url_unique.replace("postgresql://", "postgresql+psycopg2://"))
    with engine.connect() as conn:
        assert app_reads.state(conn)["daily_briefings"] == []
    engine.dispose()


def test_a_day_without_index_rows_is_published_without_its_summary_and_warns(
    pg_warehouse_url: str, app_db_url_unique: str
) -> None:
    upstream = upstream_day(WEEK[0])
    upstream.rows["market_indices"] = []
    write_upstream(pg_warehouse_url, upstream)
    result = run(pg_warehouse_url, app_db_url_unique, partition_key="2026-11-23")
    assert result.success, step_failures(result)
    checks = _checks(result)
    assert checks.pop(("market_summary_present", "2026-11-23")) is False
    assert all(checks.values()), checks
    briefing = result.asset_materializations_for_node("app_feed")[0].metadata
    assert briefing["warnings"].value == [
        "2026-11-23: No market summary: market_indices has no KOSPI or KOSDAQ row for 2026-11-23 "
        "(materialize market_indices for 2026-11-23)."
    ]
    engine = sa.create_engine(app_db_url_unique.replace("postgresql://", "postgresql+psycopg2://"))
    with engine.connect() as conn:
        home = app_reads.home(conn, WEEK[0])
    engine.dispose()
    assert home["market_summary"] is None and len(home["keywords"]) == 5
