"""One app case from a day's historical_cases row: its values (comparison, narrative with charts,
glossary), the companies related to it, and the keywords of the day it matches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adelie_assets.defs.app.charts import build_charts
from adelie_assets.defs.app.inputs import AppFeedError, DayInputs
from adelie_assets.defs.app.markup import glossary_terms, plain_text
from adelie_assets.defs.app.narrative import build_narrative, full_content
from adelie_assets.defs.app.tables import DIFFICULTY
from adelie_assets.defs.app.wording import krw, pct, stock_name

FEED_KEY = "feed_key"


@dataclass
class CaseFeed:
    """One app case: its row, the companies related to it, and the day's keywords it matches."""

    title: str
    event_year: int | None
    values: dict[str, Any]
    relations: list[dict[str, Any]]
    matches: list[dict[str, Any]] = field(default_factory=list)


def _metric(raw: Any, *fields: str) -> dict[str, Any]:
    metric = raw if isinstance(raw, dict) else {}
    out: dict[str, Any] = {}
    for name in fields:
        value = metric.get(name)
        out[name] = value if value is None or isinstance(value, int | float) else plain_text(value, 100)
    return out


def _relations(inputs: DayInputs, case: dict[str, Any], analog: dict[str, Any]) -> list[dict[str, Any]]:
    # The case's own tickers first, then the rest of its theme: the companies moving with it today.
    related = list(
        dict.fromkeys(
            str(t) for t in [*(case.get("related_tickers") or []), *(case.get("theme_tickers") or [])]
        )
    )
    main = str(analog["subject"]) if analog.get("subject_kind") == "stock" else (related[:1] or [None])[0]
    relations: list[dict[str, Any]] = []
    for ticker in ([main] if main else []) + [t for t in related if t != main]:
        row = inputs.market.get(ticker) or {}
        relations.append(
            {
                "stock_code": ticker[:10],
                "stock_name": stock_name(inputs, ticker),
                "relation_type": "main_subject" if ticker == main else "related",
                "impact_description": f"{inputs.day} {pct(row.get('change_pct'))}, "
                f"거래대금 {krw(row.get('trading_value'))}",
            }
        )
    past = str(analog.get("analog_ticker") or "")
    if analog.get("subject_kind") == "stock" and past and past not in {r["stock_code"] for r in relations}:
        relations.append(
            {
                "stock_code": past[:10],
                "stock_name": plain_text(analog.get("analog_name") or past, 100) or past,
                "relation_type": "related",
                "impact_description": f"{analog['analog_date']} 과거 사례의 주인공, 이후 20거래일 "
                f"{pct(analog.get('after_20_pct'))}",
            }
        )
    return relations


def episode_name(analog: dict[str, Any], language: object) -> str | None:
    """The name of the market episode the analog's day falls in (market_analogs' regime), or None."""
    episode = (analog.get("regime") or {}).get("episode") or {}
    name = episode.get("episode_name_en" if language == "en" else "episode_name_ko")
    return plain_text(name, 60) or None if name else None


def case_title(case: dict[str, Any], analog: dict[str, Any]) -> str:
    """The case's title as the app shows it (Home's `past_event.title`): the model's, led by the name
    of the market episode its analog sat in, which code adds from the calendar when the title lacks it."""
    title = plain_text(case.get("title"), 200).replace("\n", " ")
    name = episode_name(analog, case.get("language"))
    if not title or not name or name in title:
        return title
    return plain_text(f"[{name}] {title}", 200)


def build_case(inputs: DayInputs, theme_rank: int) -> CaseFeed:
    case = inputs.cases[theme_rank]
    where = f"historical_cases {inputs.day} theme {theme_rank}"
    analog = inputs.analogs[str(case["analog_id"])]
    title = case_title(case, analog)
    summary = plain_text(case.get("summary"))
    if not title or not summary:
        raise AppFeedError(
            f"{where}: the title or summary is empty once markup is removed; re-materialize it."
        )
    glossary = [
        {"term": term, "definition": plain_text(g.get("definition"), 500)}
        for g in case.get("glossary") or []
        if isinstance(g, dict)
        for term in glossary_terms([g.get("term")])
    ]
    terms = [g["term"] for g in glossary]
    subject = str(analog["subject"])
    subject_close = (
        (inputs.indices if analog.get("subject_kind") == "index" else inputs.market)
        .get(subject, {})
        .get("close")
    )
    comparison_raw = case.get("comparison") or {}
    comparison = {
        "sync_rate": int(case["sync_rate"]),
        "past_label": plain_text(comparison_raw.get("past_label"), 100),
        "present_label": plain_text(comparison_raw.get("present_label"), 100),
        "past_metric": _metric(comparison_raw.get("past_metric"), "value", "company", "metric_name", "year"),
        "present_metric": _metric(comparison_raw.get("present_metric"), "value", "metric_name"),
    }
    event_year = None if case.get("event_year") is None else int(case["event_year"])
    keywords = {
        "comparison": comparison,
        "narrative": build_narrative(
            case.get("narrative") or {}, terms, build_charts(analog, subject_close), where
        ),
        "glossary_terms": glossary,
        "key_insight": plain_text(case.get("key_insight"), 500),
        # The case's key as the feed wrote it: found again after the app's team edits the title or year.
        FEED_KEY: {"title": title, "event_year": event_year},
    }
    values = {
        "title": title,
        "event_date": case.get("event_date"),
        "event_year": event_year,
        "summary": summary,
        "full_content": full_content(summary, case.get("narrative") or {}),
        "keywords": keywords,
        "source_urls": [],
        "difficulty": DIFFICULTY,
    }
    return CaseFeed(title, event_year, values, _relations(inputs, case, analog))
