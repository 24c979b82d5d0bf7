"""The investing app's own pages on what the feed publishes (issue 30), read the way the app's routes and
pages read them (tests/app/app_reads.py): Home's keyword -> case lookup for every published day in any
order of publishing, the briefing page, the narrative's last step and its market chart."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any, Literal

import pytest
import sqlalchemy as sa
from pydantic import BaseModel, ValidationError

from tests.app import app_reads
from tests.app.test_publish import DAY, NEXT_DAY, connect, publish
from tests.app.upstream import upstream_day

pytestmark = pytest.mark.postgres

# Three trading days on which the same stocks lead the same themes (the norm with real data: the
# trading-value theme is led by the same few stocks day after day), each with its own cases.
D1, D2, D3 = date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)
ORDERS = {
    "daily": [D1, D2, D3],
    "backfill-older-after-newer": [D3, D2, D1],
    "re-run-of-a-middle-day": [D1, D2, D3, D2],
    "mixed-with-re-runs": [D3, D1, D2, D1, D3],
}


def _same_themes(day: date):  # noqa: ANN202
    return upstream_day(day, themes_of=D1, title_suffix=f" ({day:%m월 %d일} 사례)")


@pytest.mark.parametrize("order", list(ORDERS.values()), ids=list(ORDERS))
def test_home_of_every_published_day_shows_that_days_own_cases_in_any_order(
    pg_warehouse_url: str, app_db_url_unique: str, order: list[date]
) -> None:
    engine = connect(app_db_url_unique)
    published: list[date] = []
    titles_by_day: dict[date, list[str]] = {}
    for day in order:
        publish(pg_warehouse_url, app_db_url_unique, _same_themes(day))
        published.append(day)
        with engine.connect() as conn:
            for shown_day in sorted(set(published)):
                home = app_reads.home(conn, shown_day)
                own = _same_themes(shown_day)
                assert home["briefing_date"] == shown_day
                got = [(k["case"]["title"], k["case"]["matched_at"].date()) for k in home["keywords"]]
                want = [(own.case(rank)["title"], shown_day) for rank in range(1, 6)]
                assert got == want, f"after publishing {published}, Home of {shown_day} shows {got}"
                titles_by_day[shown_day] = [k["title"] for k in home["keywords"]]
    engine.dispose()
    # Titles stay readable: the lead stock and the theme as a reader knows them, no hidden characters.
    for day, titles in titles_by_day.items():
        themes = _same_themes(day).rows["daily_themes"]
        for title, theme in zip(titles, themes, strict=True):
            assert title.startswith(f"{theme['stocks'][0]['name']} 등 {theme['label_ko']}"), title
            assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in title), repr(title)
    assert len({t for titles in titles_by_day.values() for t in titles}) == 5 * len(titles_by_day)


class _Mover(BaseModel):
    """A mover as the app's briefing response declares it."""

    stock_code: str
    stock_name: str
    change_rate: float
    volume: int
    selection_reason: Literal["top_gainer", "top_loser", "high_volume"]
    keywords: list[str] = []


class _BriefingWithTheAppsFix(BaseModel):
    """The app's briefing response with the one-line fix of docs/app-feed.md: `top_keywords` holds
    the keyword objects its Home reads (title, category, description, stocks)."""

    date: str
    market_summary: str
    top_keywords: list[dict[str, Any]]
    gainers: list[_Mover]
    losers: list[_Mover]
    high_volume: list[_Mover]


class _BriefingAsTheAppShipsIt(_BriefingWithTheAppsFix):
    top_keywords: list[str]  # the app's defect: no value serves both this and Home


def test_the_briefing_page_reads_each_movers_keywords(pg_warehouse_url: str, app_db_url_unique: str) -> None:
    publish(pg_warehouse_url, app_db_url_unique, upstream_day(DAY))
    engine = connect(app_db_url_unique)
    with engine.connect() as conn:
        page = app_reads.briefing_page(conn, DAY)
        home = app_reads.home(conn, DAY)
    engine.dispose()
    assert page is not None
    shown = _BriefingWithTheAppsFix.model_validate(page)
    assert len(shown.gainers) == 6 and len(shown.losers) == 6 and len(shown.high_volume) == 3
    for keyword in home["keywords"]:
        codes = {s["stock_code"] for s in keyword["stocks"]}
        movers = [
            m for m in (*shown.gainers, *shown.losers, *shown.high_volume) if keyword["title"] in m.keywords
        ]
        assert {m.stock_code for m in movers} == codes, keyword["title"]
    # Home needs the keyword objects; the app's own response model wants strings (its defect).
    assert [k["title"] for k in shown.top_keywords] == [k["title"] for k in home["keywords"]]
    with pytest.raises(ValidationError, match="top_keywords"):
        _BriefingAsTheAppShipsIt.model_validate(page)


ACTION_CONTENT = "'공매도' 잔고와 PER & PBR을 함께 보세요.\n\n손절 기준은 -7%입니다."
ACTION_BULLETS = ["PER < 10 인 종목의 '공매도' 비중", "공매도가 늘면 비중을 줄입니다"]


def test_glossary_terms_are_marked_in_six_steps_and_the_action_step_reads_as_plain_text(
    pg_warehouse_url: str, app_db_url_unique: str
) -> None:
    upstream = upstream_day(DAY)
    for case in upstream.rows["historical_cases"]:
        case["narrative"]["action"] = {"content": ACTION_CONTENT, "bullets": ACTION_BULLETS}
    publish(pg_warehouse_url, app_db_url_unique, upstream)
    engine = connect(app_db_url_unique)
    with engine.connect() as conn:
        case_ids = [k["case"]["case_id"] for k in app_reads.home(conn, DAY)["keywords"]]
        pages = [app_reads.narrative_page(conn, case_id) for case_id in case_ids]
    engine.dispose()
    for page in pages:
        action = page["steps"]["action"]
        seen = [
            app_reads.shown_on_narrative_page("action", t) for t in [action["content"], *action["bullets"]]
        ]
        assert [text for text, _ in seen] == [
            "'공매도' 잔고와 PER & PBR을 함께 보세요.\n\n손절 기준은 -7%입니다.",
            "PER ＜ 10 인 종목의 '공매도' 비중",
            "공매도가 늘면 비중을 줄입니다",
        ]
        for step in app_reads.NARRATIVE_STEPS[:-1]:
            text, marks = app_reads.shown_on_narrative_page(step, page["steps"][step]["content"])
            assert "공매도" in marks and "PER" in marks and "<" not in text, (step, text)


def _index(upstream: Any, name: str) -> dict[str, float | int]:
    row = next(r for r in upstream.rows["market_indices"] if r["index_name"] == name)
    return {k: row[k] for k in ("open", "high", "low", "close", "volume")}


def test_the_narrative_market_chart_has_the_latest_days_of_both_indices(
    pg_warehouse_url: str, app_db_url_unique: str
) -> None:
    for day in (NEXT_DAY, DAY, NEXT_DAY, DAY):  # newest first, then both re-run
        publish(pg_warehouse_url, app_db_url_unique, upstream_day(day))
    engine = connect(app_db_url_unique)
    with engine.connect() as conn:
        case_id = app_reads.home(conn, DAY)["keywords"][0]["case"]["case_id"]
        history = app_reads.narrative_page(conn, case_id)["market_history"]
    engine.dispose()
    assert history == [
        {
            "date": str(day),
            "kospi": pytest.approx(_index(upstream_day(day), "KOSPI")),
            "kosdaq": pytest.approx(_index(upstream_day(day), "KOSDAQ")),
        }
        for day in (NEXT_DAY, DAY)
    ]


def test_a_day_whose_keyword_home_would_find_on_a_later_day_is_refused(
    pg_warehouse_url: str, app_db_url_unique: str
) -> None:
    """The blocking check reads Home's lookup as the app makes it: a later match with one of the day's
    titles (here the app's own row) would show another day's case, so the re-run is refused."""
    publish(pg_warehouse_url, app_db_url_unique, upstream_day(DAY))
    engine = connect(app_db_url_unique)
    with engine.begin() as conn:
        title = app_reads.home(conn, DAY)["keywords"][0]["title"]
        conn.execute(
            sa.text(
                "INSERT INTO case_matches (current_keyword, matched_case_id, matched_at) "
                "SELECT current_keyword, matched_case_id, matched_at + interval '3 days' FROM case_matches "
                "WHERE current_keyword = :t"
            ),
            {"t": title},
        )
        before = app_reads.state(conn)
    with pytest.raises(Exception, match=rf"five_keywords_with_cases.*unmatched: {re.escape(title)}"):
        publish(pg_warehouse_url, app_db_url_unique, upstream_day(DAY))
    with engine.connect() as conn:
        assert app_reads.state(conn) == before
    engine.dispose()


def test_titles_the_app_team_fixed_stay_one_row_each_when_the_day_is_re_published(
    pg_warehouse_url: str, app_db_url: str
) -> None:
    """Issue 32, item 10: the app's team corrects two titles of read cases; a re-run of the day keeps
    5 rows for 5 keywords (not 7), the same ids, views and the corrected titles."""
    publish(pg_warehouse_url, app_db_url, upstream_day(DAY))
    engine = connect(app_db_url)
    with engine.begin() as conn:
        cases = [k["case"] for k in app_reads.home(conn, DAY)["keywords"]]
        for case in cases[:2]:
            conn.execute(
                sa.text("UPDATE historical_cases SET title = :t, view_count = 12 WHERE id = :id"),
                {"t": case["title"].replace("국면", "국면 (교정)"), "id": case["case_id"]},
            )
        fixed = app_reads.home(conn, DAY)
    publish(pg_warehouse_url, app_db_url, upstream_day(DAY))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM historical_cases")).scalar() == 5
        home = app_reads.home(conn, DAY)
        assert [k["case"]["title"] for k in home["keywords"]] == [
            k["case"]["title"] for k in fixed["keywords"]
        ]
        assert [k["case"]["case_id"] for k in home["keywords"]] == [c["case_id"] for c in cases]
        assert [app_reads.case_page(conn, c["case_id"])["view_count"] for c in cases[:2]] == [12, 12]
    engine.dispose()


def test_no_invisible_character_reaches_a_title_the_app_shows(
    pg_warehouse_url: str, app_db_url_unique: str
) -> None:
    """Issue 32, item 10: bidi isolates, U+061C, soft hyphens and tag characters in the names, labels
    and case titles the feed is made of never reach Home's keyword or case titles."""
    hidden = "\u2066\u061c\u00ad\U000e0041\u2069"
    upstream = upstream_day(DAY)
    for theme in upstream.rows["daily_themes"]:
        theme["label_ko"] = f"{hidden}{theme['label_ko']}"
        theme["stocks"][0]["name"] = (
            f"{theme['stocks'][0]['name'][:1]}{hidden}{theme['stocks'][0]['name'][1:]}"
        )
    upstream.market["name"] = [f"{n[:1]}\u00ad{n[1:]}" for n in upstream.market["name"]]
    for case in upstream.rows["historical_cases"]:
        case["title"] = f"{case['title'][:3]}{hidden}{case['title'][3:]}"
    publish(pg_warehouse_url, app_db_url_unique, upstream)
    engine = connect(app_db_url_unique)
    with engine.connect() as conn:
        home = app_reads.home(conn, DAY)
        shown = [k["title"] for k in home["keywords"]] + [k["case"]["title"] for k in home["keywords"]]
        shown += [s["stock_name"] for k in home["keywords"] for s in k["stocks"]]
    engine.dispose()
    assert [t for t in shown if any(unicodedata.category(c) == "Cf" for c in t)] == []
    assert [k["case"]["title"] for k in home["keywords"]] == [
        upstream_day(DAY).case(rank)["title"] for rank in range(1, 6)
    ]
