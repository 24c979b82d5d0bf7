"""Publishing trading days into the app's PostgreSQL database, created by the app's own migrations
(with and without its later UNIQUE (title, event_year)), read back with the SQL the app's pages run."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from adelie_assets.calendar import trading_days
from adelie_assets.defs.app.content import SECTIONS
from adelie_assets.defs.app.feed import publish_trading_day
from adelie_assets.resources.app_database import AppDatabase, AppDatabaseError
from tests.app import app_reads
from tests.app.upstream import UpstreamDay, upstream_day, write_upstream

pytestmark = pytest.mark.postgres

DAY = date(2026, 11, 26)
NEXT_DAY = date(2026, 11, 27)


def publish(warehouse_url: str, app_url: str, upstream: UpstreamDay):  # noqa: ANN201
    warehouse = write_upstream(warehouse_url, upstream)
    return publish_trading_day(warehouse, AppDatabase(url=app_url), upstream.day)[2]


def connect(app_url: str) -> sa.Engine:
    return sa.create_engine(app_url.replace("postgresql://", "postgresql+psycopg2://", 1))


def test_a_published_day_is_what_the_app_pages_need(pg_warehouse_url: str, app_db_url: str) -> None:
    upstream = upstream_day(DAY)
    publish(pg_warehouse_url, app_db_url, upstream)
    engine = connect(app_db_url)
    with engine.connect() as conn:
        home = app_reads.home(conn, DAY)
        assert home["briefing_date"] == DAY
        kospi, kosdaq = (r for r in upstream.rows["market_indices"] if r["index_name"] in ("KOSPI", "KOSDAQ"))
        assert home["market_summary"] == f"KOSPI {kospi['close']:,.2f} (+0.52%), KOSDAQ 712.40 (-0.31%)"
        assert len(home["keywords"]) == 5
        for rank, keyword in enumerate(home["keywords"], start=1):
            case = upstream.case(rank)
            theme = upstream.rows["daily_themes"][rank - 1]
            assert keyword["category"] == theme["category"]
            assert [s["stock_code"] for s in keyword["stocks"]] == [s["ticker"] for s in theme["stocks"]]
            assert keyword["title"].startswith(theme["stocks"][0]["name"])
            match = keyword["case"]
            assert match is not None, f"keyword {keyword['title']} has no case"
            assert (match["title"], match["event_year"]) == (case["title"], case["event_year"])
            assert match["sync_rate"] == case["sync_rate"]
            assert match["similarity_score"] == Decimal(case["sync_rate"]) / 100
            assert match["matched_at"] == datetime(2026, 11, 26)
            assert match["past_label"] == case["comparison"]["past_label"]

            page = app_reads.case_page(conn, match["case_id"])
            narrative = page["keywords"]["narrative"]
            assert sorted(narrative) == sorted(SECTIONS)  # jsonb keeps no key order
            assert len(narrative["devils_advocate"]["bullets"]) == 3
            assert "chart" not in narrative["action"]
            assert all("chart" in narrative[s] for s in SECTIONS if s != "action")
            assert "<mark class='term'>공매도</mark>" in narrative["background"]["content"]
            analog = upstream.analog(rank)
            mirroring = narrative["mirroring"]["chart"]["data"]
            past = [round(p["pct"], 2) for p in analog["path_analog"] if p["offset"] <= 0]
            assert mirroring[1]["y"] == past
            assert mirroring[0]["x"] == list(range(-20, 1))
            simulation = narrative["simulation"]["chart"]["data"][1]["y"]
            lead_close = theme["stocks"][0]["close"]
            assert simulation[0] == lead_close  # day 0 of the analog applied to today's close
            difference = narrative["difference"]["chart"]["data"]
            assert difference[0]["x"] == ["당일 등락률(%)", "20일 등락률(%)", "거래량 배율(로그)"]
            assert difference[1]["y"][1] == analog["features"]["analog"]["change_20d_pct"]
            result = narrative["result"]["chart"]["data"][0]["y"]
            assert result == [round(analog[f"after_{h}_pct"], 2) for h in (5, 20, 60)]
            assert page["keywords"]["comparison"]["sync_rate"] == case["sync_rate"]
            assert [g["term"] for g in page["keywords"]["glossary_terms"]] == ["공매도", "PER"]
            assert page["summary"] == case["summary"] and page["full_content"].startswith(case["summary"])
            assert page["view_count"] == 0
            relations = page["relations"]
            assert relations[0]["relation_type"] == "main_subject"
            assert relations[0]["stock_code"] == theme["stocks"][0]["ticker"]
            assert {r["stock_code"] for r in relations if r["relation_type"] == "related"} == {
                s["ticker"] for s in theme["stocks"][1:]
            }
        gainers = app_reads.movers(conn, home["briefing_id"], "top_gainer")
        assert len(gainers) == 6 and gainers[0]["change_rate"] == Decimal("29.90")
        assert len(app_reads.movers(conn, home["briefing_id"], "top_loser")) == 6
        assert len(app_reads.movers(conn, home["briefing_id"], "high_volume")) == 3
        assert app_reads.movers(conn, home["briefing_id"], "gainer") == []
    engine.dispose()


def _day_rows(state: dict, day: date) -> dict:
    """The rows that belong to `day` in a state snapshot: its briefing, stocks, matches, cases, relations."""
    briefing = [b for b in state["daily_briefings"] if b["briefing_date"] == day]
    ids = {b["id"] for b in briefing}
    matches = [m for m in state["case_matches"] if m["matched_at"].date() == day]
    cases = {m["matched_case_id"] for m in matches}
    return {
        "daily_briefings": briefing,
        "briefing_stocks": [s for s in state["briefing_stocks"] if s["briefing_id"] in ids],
        "case_matches": matches,
        "historical_cases": [c for c in state["historical_cases"] if c["id"] in cases],
        "case_stock_relations": [r for r in state["case_stock_relations"] if r["case_id"] in cases],
    }


def _without(rows: dict, column: str) -> dict:
    return {t: [{k: v for k, v in r.items() if k != column} for r in rs] for t, rs in rows.items()}


def test_republishing_a_day_replaces_only_that_day(pg_warehouse_url: str, app_db_url: str) -> None:
    publish(pg_warehouse_url, app_db_url, upstream_day(DAY))
    publish(pg_warehouse_url, app_db_url, upstream_day(NEXT_DAY))
    engine = connect(app_db_url)
    with engine.begin() as conn:  # the app at work: views, its own columns, a bookmark
        home = app_reads.home(conn, DAY)
        viewed, bookmarked = home["keywords"][0]["case"]["case_id"], home["keywords"][1]["case"]["case_id"]
        conn.execute(
            sa.text("UPDATE historical_cases SET view_count = 7, is_featured = true WHERE id = :i"),
            {"i": viewed},
        )
        conn.execute(
            sa.text("INSERT INTO user_bookmarks (user_id, case_id) VALUES (1, :i)"), {"i": bookmarked}
        )
        conn.execute(
            sa.text("UPDATE daily_briefings SET push_sent_at = '2026-11-26 09:00' WHERE briefing_date = :d"),
            {"d": DAY},
        )
        conn.execute(
            sa.text(
                "UPDATE briefing_stocks SET trend_days = 3, catalyst = '수주 공시' WHERE briefing_id = :b"
            ),
            {"b": home["briefing_id"]},
        )
        before = app_reads.state(conn)

    publish(pg_warehouse_url, app_db_url, upstream_day(DAY))  # the same day again: nothing moves
    with engine.connect() as conn:
        again = app_reads.state(conn)
    assert _without(again, "updated_at") == _without(before, "updated_at")
    assert next(c for c in again["historical_cases"] if c["id"] == viewed)["view_count"] == 7

    result = publish(pg_warehouse_url, app_db_url, upstream_day(DAY, title_suffix=" (재작성)"))
    with engine.connect() as conn:
        after = app_reads.state(conn)
        home = app_reads.home(conn, DAY)
    assert _day_rows(after, NEXT_DAY) == _day_rows(before, NEXT_DAY)
    assert [k["case"]["title"].endswith("(재작성)") for k in home["keywords"]] == [True] * 5
    assert [b["briefing_date"] for b in after["daily_briefings"]] == [DAY, NEXT_DAY]
    briefing = after["daily_briefings"][0]
    assert briefing["id"] == before["daily_briefings"][0]["id"] and briefing["push_sent_at"] is not None
    stocks = [s for s in after["briefing_stocks"] if s["briefing_id"] == briefing["id"]]
    assert len(stocks) == 15 and all(s["trend_days"] == 3 and s["catalyst"] == "수주 공시" for s in stocks)
    # The viewed case and the bookmarked one stay (unlinked); the day's three others are gone.
    kept = {c["id"]: c for c in after["historical_cases"]}
    assert kept[viewed]["view_count"] == 7 and kept[viewed]["is_featured"] is True and bookmarked in kept
    assert (result.stale_cases_deleted, result.stale_cases_kept, result.cases_inserted) == (3, 2, 5)
    assert len(after["historical_cases"]) == 5 + 5 + 2
    assert len(after["case_matches"]) == 10
    engine.dispose()


def test_a_week_published_twice_in_any_order_is_one_briefing_per_day(
    pg_warehouse_url: str, app_db_url: str
) -> None:
    week = trading_days(date(2026, 11, 23), date(2026, 11, 27))
    assert len(week) == 5
    for day in [*week, *reversed(week)]:
        publish(pg_warehouse_url, app_db_url, upstream_day(day))
    engine = connect(app_db_url)
    with engine.connect() as conn:
        state = app_reads.state(conn)
        assert [b["briefing_date"] for b in state["daily_briefings"]] == week
        assert len(state["case_matches"]) == 25 and len(state["historical_cases"]) == 25
        for day in week:
            home = app_reads.home(conn, day)
            assert home["briefing_date"] == day
            assert [k["case"]["matched_at"].date() for k in home["keywords"]] == [day] * 5
            assert [k["case"]["title"] for k in home["keywords"]] == [
                upstream_day(day).case(rank)["title"] for rank in range(1, 6)
            ]
        assert app_reads.home(conn, date(2026, 11, 30))["briefing_date"] == week[-1]  # latest with keywords
    engine.dispose()


def test_a_case_two_days_share_is_one_row_with_the_later_days_content(
    pg_warehouse_url: str, app_db_url: str
) -> None:
    shared = "2015년 코스피 급등 국면"
    publish(pg_warehouse_url, app_db_url, upstream_day(DAY, shared_title=shared))
    publish(pg_warehouse_url, app_db_url, upstream_day(NEXT_DAY, shared_title=shared))
    publish(pg_warehouse_url, app_db_url, upstream_day(DAY, shared_title=shared))  # an older day re-run
    engine = connect(app_db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, keywords FROM historical_cases WHERE title = :t"), {"t": shared}
        ).all()
        assert len(rows) == 1
        later_close = upstream_day(NEXT_DAY).rows["daily_themes"][0]["stocks"][0]["close"]
        assert rows[0].keywords["comparison"]["present_metric"]["value"] == later_close
        for day in (DAY, NEXT_DAY):
            assert app_reads.home(conn, day)["keywords"][0]["case"]["case_id"] == rows[0].id
    engine.dispose()


@pytest.mark.parametrize("table", app_reads.APP_TABLES)
def test_a_fault_in_any_step_leaves_the_previous_state(
    pg_warehouse_url: str, app_db_url_unique: str, table: str
) -> None:
    publish(pg_warehouse_url, app_db_url_unique, upstream_day(DAY))
    publish(pg_warehouse_url, app_db_url_unique, upstream_day(NEXT_DAY))
    engine = connect(app_db_url_unique)
    with engine.begin() as conn:
        before = app_reads.state(conn)
        conn.execute(
            sa.text(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ "
                "LANGUAGE plpgsql"
            )
        )
        conn.execute(
            sa.text(
                f"CREATE TRIGGER refuse BEFORE INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        )
    with pytest.raises(
        AppDatabaseError, match=r"Publishing 2026-11-26 .* failed \(.*disk full\)\. Nothing was changed"
    ):
        publish(pg_warehouse_url, app_db_url_unique, upstream_day(DAY, title_suffix=" v2"))
    with engine.connect() as conn:
        assert app_reads.state(conn) == before
    engine.dispose()


# A day the app could not show: one devil's-advocate point; a section of only invisible characters and
# markup (issue 32, item 6, as far as the app is concerned: a step the reader would see empty).
UNSHOWABLE = {
    "one devils_advocate bullet": (
        3,
        "devils_advocate",
        {"bullets": ["하나", "<script>alert(1)</script>"]},
        r"theme 3: devils_advocate has 1 non-empty bullet",
    ),
    "a section of only invisible characters": (
        2,
        "result",
        {
            "content": "\u200b\u2066\u2069 <b></b> \u00ad",
            "bullets": ["\U000e0041", "<script>alert(1)</script>", " \u200d "],
        },
        r"theme 2: the narrative's section 'result' is empty",
    ),
}


@pytest.mark.parametrize(("rank", "section", "fields", "message"), UNSHOWABLE.values(), ids=UNSHOWABLE)
def test_a_day_the_app_could_not_show_is_refused_before_the_app_database_is_touched(
    pg_warehouse_url: str, app_db_url_unique: str, rank: int, section: str, fields: dict, message: str
) -> None:
    publish(pg_warehouse_url, app_db_url_unique, upstream_day(DAY))
    engine = connect(app_db_url_unique)
    with engine.connect() as conn:
        before = app_reads.state(conn)
    broken = upstream_day(DAY, title_suffix=" v2")
    broken.case(rank)["narrative"][section].update(fields)
    with pytest.raises(Exception, match=message):
        publish(pg_warehouse_url, app_db_url_unique, broken)
    with engine.connect() as conn:
        assert app_reads.state(conn) == before
    engine.dispose()


def test_missing_tables_are_created_and_existing_ones_never_altered(
    pg_warehouse_url: str, empty_app_db_url: str
) -> None:
    engine = connect(empty_app_db_url)
    with engine.begin() as conn:  # the app created one table, with a column of its own
        conn.execute(
            sa.text(
                "CREATE TABLE daily_briefings (id SERIAL PRIMARY KEY, briefing_date DATE NOT NULL UNIQUE, "
                "market_summary TEXT, top_keywords JSONB, created_at TIMESTAMP NOT NULL, theme_color TEXT)"
            )
        )
    publish(pg_warehouse_url, empty_app_db_url, upstream_day(DAY))
    inspector = sa.inspect(engine)
    assert set(app_reads.APP_TABLES) <= set(inspector.get_table_names())
    assert "theme_color" in {c["name"] for c in inspector.get_columns("daily_briefings")}
    types = {c["name"]: str(c["type"]) for c in inspector.get_columns("case_matches")}
    assert types["similarity_score"] == "NUMERIC(5, 4)" and types["current_keyword"] == "VARCHAR(100)"
    assert (
        str({c["name"]: c["type"] for c in inspector.get_columns("historical_cases")}["keywords"]) == "JSONB"
    )
    assert inspector.get_unique_constraints("historical_cases") == []  # the app's later migration adds it
    engine.dispose()


def test_an_app_table_without_a_column_the_platform_writes_is_named(
    pg_warehouse_url: str, empty_app_db_url: str
) -> None:
    engine = connect(empty_app_db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE case_matches (id SERIAL PRIMARY KEY, current_keyword VARCHAR(100))")
        )
    with pytest.raises(
        AppDatabaseError,
        match=r"case_matches .* has no column\(s\) current_stock_code, "
        r"matched_case_id, similarity_score, match_reason, matched_at: run the app's migrations",
    ):
        publish(pg_warehouse_url, empty_app_db_url, upstream_day(DAY))
    assert "daily_briefings" not in sa.inspect(engine).get_table_names()  # nothing was created either
    engine.dispose()


def test_two_runs_publishing_at_once_wait_for_each_other(pg_warehouse_url: str, app_db_url: str) -> None:
    """A schedule run and a manual re-run of the same day, plus the next day, all at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    uploads = [upstream_day(DAY), upstream_day(NEXT_DAY)]
    warehouse = None
    for upstream in uploads:
        warehouse = write_upstream(pg_warehouse_url, upstream)
    app = AppDatabase(url=app_db_url)
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = [pool.submit(publish_trading_day, warehouse, app, day) for day in (DAY, DAY, NEXT_DAY, DAY)]
        for run in runs:
            run.result()
    engine = connect(app_db_url)
    with engine.connect() as conn:
        state = app_reads.state(conn)
    engine.dispose()
    # Whichever run got the lock first: one briefing per day, no duplicate anywhere.
    assert sorted(b["briefing_date"] for b in state["daily_briefings"]) == [DAY, NEXT_DAY]
    assert len(state["case_matches"]) == 10 and len(state["historical_cases"]) == 10
    assert len(state["briefing_stocks"]) == 30


def test_homes_past_event_title_names_the_episode_of_the_analogs_day(
    pg_warehouse_url: str, app_db_url: str
) -> None:
    from adelie_assets.defs.episodes import episode_on

    upstream = upstream_day(DAY)
    crisis = episode_on(date(2008, 10, 1))
    assert crisis is not None
    for rank in range(1, 6):
        upstream.analog(rank)["regime"] = {"episode": crisis.facts() if rank == 1 else None}
    publish(pg_warehouse_url, app_db_url, upstream)
    engine = connect(app_db_url)
    with engine.connect() as conn:
        keywords = app_reads.home(conn, DAY)["keywords"]
    engine.dispose()
    # keywords.py's past_event: {"year": event_year, "title": the case's title, "label": past_label}
    assert keywords[0]["case"]["title"] == f"[글로벌 금융위기] {upstream.case(1)['title']}"
    assert keywords[1]["case"]["title"] == upstream.case(2)["title"]
