"""A trading day's feed, as the rows of the app's tables: the briefing with its five keywords, the day's
movers, and one case per keyword with its match and related companies.

Numbers and charts come from the warehouse (market_data, market_indices, market_analogs), never from
model output; model text goes through `markup` (plain text, or escaped text with glossary marks placed
by code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from adelie_assets.defs.app.case import CaseFeed, build_case
from adelie_assets.defs.app.inputs import AppFeedError, DayInputs
from adelie_assets.defs.app.markup import plain_text
from adelie_assets.defs.app.narrative import DEVILS_ADVOCATE_BULLETS, SECTIONS
from adelie_assets.defs.app.tables import INDEX_CODES, KEYWORD_CHARS, SELECTION_REASONS
from adelie_assets.defs.app.wording import krw, pct, stock_name

# The names the app's other modules import from here; the parts live in case/charts/narrative/wording.
__all__ = [
    "DEVILS_ADVOCATE_BULLETS",
    "SECTIONS",
    "CaseFeed",
    "DayFeed",
    "build_case",
    "build_day",
    "keyword_title",
    "market_summary",
]


@dataclass
class DayFeed:
    day: date
    briefing: dict[str, Any]
    stocks: list[dict[str, Any]]
    cases: list[CaseFeed]
    market_history: list[dict[str, Any]]  # the day's market_daily_history rows (none without indices)
    warnings: list[str] = field(default_factory=list)

    @property
    def matched_at(self) -> datetime:
        # The app finds a keyword's case by `matched_at >= briefing_date`: the trading day, never the clock.
        return datetime(self.day.year, self.day.month, self.day.day)


def market_summary(indices: dict[str, dict[str, Any]]) -> str | None:
    """`KOSPI 2,501.23 (+0.52%), KOSDAQ 712.40 (-0.31%)`; None without both indices."""
    if not all(name in indices for name in ("KOSPI", "KOSDAQ")):
        return None
    return ", ".join(
        f"{name} {float(indices[name]['close']):,.2f} ({pct(indices[name]['change_pct'])})"
        for name in ("KOSPI", "KOSDAQ")
    )


def _stock_reason(stock: dict[str, Any], selection_reason: str) -> str:
    move, value = pct(stock.get("change_pct")), krw(stock.get("trading_value"))
    return f"거래대금 {value}, {move}" if selection_reason == "high_volume" else f"{move}, 거래대금 {value}"


def keyword_title(theme: dict[str, Any], day: date, rank: int | None = None) -> str:
    """e.g. `에코프로 등 코스닥 급등주 (2026.11.26)`.

    The app's Home finds a keyword's case by its title alone (the latest `case_matches` row with that
    title on or after the day), so a title of one day must never be another day's: the same stocks
    lead the same themes day after day, and days are published in any order. The trading day in the
    title makes it unique and still reads naturally; `rank` tells two themes of one day apart."""
    label = plain_text(theme.get("label_ko"), 60)
    stocks = theme.get("stocks") or []
    lead = plain_text(stocks[0].get("name") or stocks[0].get("ticker"), 40) if stocks else ""
    name = f"{lead} 등 {label}" if len(stocks) > 1 else f"{lead} {label}"
    suffix = f" ({day:%Y.%m.%d}{f' #{rank}' if rank is not None else ''})"
    return " ".join(name.split())[: KEYWORD_CHARS - len(suffix)] + suffix


def build_day(inputs: DayInputs) -> DayFeed:
    """The whole day's feed, validated: an AppFeedError names the first thing the app could not show."""
    keywords: list[dict[str, Any]] = []
    stocks: dict[tuple[str, str], dict[str, Any]] = {}
    cases: dict[tuple[str, int | None], CaseFeed] = {}
    titles: set[str] = set()
    for theme in inputs.themes:
        rank = int(theme["theme_rank"])
        reason = str(theme["selection_reason"])
        if reason not in SELECTION_REASONS:
            raise AppFeedError(
                f"daily_themes {inputs.day} theme {rank} has selection_reason {reason!r}; the app "
                f"accepts only {', '.join(SELECTION_REASONS)}. Fix daily_themes and re-materialize it."
            )
        title = keyword_title(theme, inputs.day)
        if title in titles:
            title = keyword_title(theme, inputs.day, rank)
        titles.add(title)
        case = build_case(inputs, rank)
        feed_case = cases.setdefault((case.title, case.event_year), case)
        sync_rate = int(inputs.cases[rank]["sync_rate"])
        if not 0 <= sync_rate <= 100:
            raise AppFeedError(
                f"historical_cases {inputs.day} theme {rank}: sync_rate {sync_rate} is not 0-100."
            )
        analog = inputs.analogs[str(inputs.cases[rank]["analog_id"])]
        theme_stocks = theme.get("stocks") or []
        feed_case.matches.append(
            {
                "current_keyword": title,
                "current_stock_code": str(theme_stocks[0]["ticker"])[:10] if theme_stocks else None,
                "similarity_score": (Decimal(sync_rate) / 100).quantize(Decimal("0.0001")),
                "match_reason": f"{plain_text(analog.get('analog_name'), 100)}의 {analog['analog_date']} "
                f"국면과 주가 흐름 유사도 {sync_rate}%",
            }
        )
        keywords.append(
            {
                "title": title,
                "category": plain_text(theme.get("category"), 20),
                "description": f"{plain_text(theme.get('label_ko'), 60)}: "
                + ", ".join(
                    f"{stock_name(inputs, str(s['ticker']), s.get('name'))} {pct(s.get('change_pct'))}"
                    for s in theme_stocks
                ),
                "stocks": [
                    {
                        "stock_code": str(s["ticker"])[:10],
                        "stock_name": stock_name(inputs, str(s["ticker"]), s.get("name")),
                        "reason": _stock_reason(s, reason),
                    }
                    for s in theme_stocks
                ],
                "tagline": f"과거 사례 '{case.title}' · 유사도 {sync_rate}%",
            }
        )
        for s in theme_stocks:
            ticker = str(s["ticker"])[:10]
            row = stocks.setdefault(
                (ticker, reason),
                {
                    "stock_code": ticker,
                    "stock_name": stock_name(inputs, str(s["ticker"]), s.get("name")),
                    "change_rate": _cents(s.get("change_pct")),
                    "volume": None if s.get("volume") is None else int(s["volume"]),
                    "selection_reason": reason,
                    # The briefing page reads the titles as the list under "keywords" of an object.
                    "keywords": {"keywords": []},
                },
            )
            row["keywords"]["keywords"].append(title)
    briefing = {
        "briefing_date": inputs.day,
        "market_summary": market_summary(inputs.indices),
        "top_keywords": {"keywords": keywords},
    }
    warnings = [f"No market summary: {inputs.missing_indices}."] if inputs.missing_indices else []
    return DayFeed(
        inputs.day, briefing, list(stocks.values()), list(cases.values()), market_history(inputs), warnings
    )


def _cents(value: float | None) -> Decimal | None:
    """A Numeric(_, 2) column's value."""
    return None if value is None else Decimal(str(round(float(value), 2)))


def market_history(inputs: DayInputs) -> list[dict[str, Any]]:
    """The day's KOSPI and KOSDAQ bars for the narrative's market chart, from market_indices."""
    return [
        {
            "date": inputs.day,
            "index_code": code,
            **{k: _cents(inputs.indices[name].get(k)) for k in ("open", "high", "low", "close")},
            "volume": None
            if inputs.indices[name].get("volume") is None
            else int(inputs.indices[name]["volume"]),
        }
        for name, code in INDEX_CODES.items()
        if name in inputs.indices
    ]
