"""The day's feed built from warehouse rows (no database): numbers and charts from the data, never from
the model; the app's vocabularies; one case per (title, event_year)."""

from __future__ import annotations

from datetime import date

import pytest

from adelie_assets.defs.app.content import build_day, market_summary
from adelie_assets.defs.app.inputs import AppFeedError, DayInputs
from tests.app.upstream import UpstreamDay, upstream_day

DAY = date(2026, 11, 26)


def inputs_of(u: UpstreamDay) -> DayInputs:
    r = u.rows
    return DayInputs(
        u.day,
        r["daily_themes"],
        {c["theme_rank"]: c for c in r["historical_cases"]},
        {a["analog_id"]: a for a in r["market_analogs"]},
        {m["ticker"]: m for m in u.market.to_dict("records")},
        {i["index_name"]: i for i in r["market_indices"]},
    )


def test_the_market_summary_is_one_line_of_both_indices() -> None:
    indices = {
        "KOSPI": {"close": 2501.234, "change_pct": 0.52},
        "KOSDAQ": {"close": 712.4, "change_pct": -0.314},
    }
    assert market_summary(indices) == "KOSPI 2,501.23 (+0.52%), KOSDAQ 712.40 (-0.31%)"
    assert market_summary({"KOSPI": indices["KOSPI"]}) is None


def test_charts_come_from_the_data_even_when_the_model_sends_its_own() -> None:
    u = upstream_day(DAY)
    for section in u.case(1)["narrative"].values():
        section["chart"] = {"data": [{"type": "scatter", "y": [1e9], "name": "<script>x</script>"}]}
    feed = build_day(inputs_of(u))
    narrative = feed.cases[0].values["keywords"]["narrative"]
    assert "chart" not in narrative["action"]
    analog = u.analog(1)
    assert narrative["background"]["chart"]["data"][0]["y"] == [
        p["close"] for p in analog["path_analog"] if p["offset"] <= 0
    ]
    assert all(
        1e9 not in (t.get("y") or []) for s in narrative.values() for t in s.get("chart", {}).get("data", [])
    )


def test_two_themes_with_the_same_case_share_one_row_with_two_matches() -> None:
    u = upstream_day(DAY)
    for rank in (1, 2):
        u.case(rank)["title"], u.case(rank)["event_year"] = "2020년 코로나 급락과 반등", 2020
    feed = build_day(inputs_of(u))
    shared = [c for c in feed.cases if c.title == "2020년 코로나 급락과 반등"]
    assert len(feed.cases) == 4 and len(shared) == 1 and len(shared[0].matches) == 2
    assert len(feed.briefing["top_keywords"]["keywords"]) == 5


def test_a_selection_reason_the_app_does_not_know_is_refused() -> None:
    u = upstream_day(DAY)
    u.rows["daily_themes"][0]["selection_reason"] = "gainer"
    with pytest.raises(
        AppFeedError, match=r"selection_reason 'gainer'; the app accepts only top_gainer, top_loser"
    ):
        build_day(inputs_of(u))


def test_similarity_is_the_sync_rate_over_100_and_dates_are_the_trading_day() -> None:
    u = upstream_day(DAY)
    feed = build_day(inputs_of(u))
    assert feed.briefing["briefing_date"] == DAY and feed.matched_at.isoformat() == "2026-11-26T00:00:00"
    scores = [m["similarity_score"] for c in feed.cases for m in c.matches]
    assert [float(s) for s in scores] == [u.case(r)["sync_rate"] / 100 for r in range(1, 6)]
    assert {s["selection_reason"] for s in feed.stocks} == {"top_gainer", "top_loser", "high_volume"}


def test_a_case_whose_analog_sat_in_a_market_episode_is_titled_with_the_episodes_name() -> None:
    from adelie_assets.defs.episodes import episode_on

    u = upstream_day(DAY)
    covid = episode_on(date(2020, 3, 10))
    assert covid is not None
    u.analog(1)["regime"] = {"episode": covid.facts()}
    u.analog(2)["regime"] = {"episode": covid.facts()}
    u.case(2)["title"] = "코로나19 폭락 속 급등주의 교훈"  # the model named it already: not repeated
    u.analog(3)["regime"] = {"episode": None}
    feed = build_day(inputs_of(u))
    titles = [c.title for c in feed.cases]
    assert titles[0] == f"[코로나19 폭락] {u.case(1)['title']}"
    assert titles[1] == "코로나19 폭락 속 급등주의 교훈"
    assert titles[2:] == [u.case(rank)["title"] for rank in (3, 4, 5)]
    assert feed.cases[0].values["keywords"]["feed_key"]["title"] == titles[0]
    u.case(1)["language"] = "en"
    assert build_day(inputs_of(u)).cases[0].title == f"[COVID-19 crash] {u.case(1)['title']}"
