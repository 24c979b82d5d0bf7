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

from adelie_assets.defs.app.inputs import AppFeedError, DayInputs
from adelie_assets.defs.app.markup import glossary_terms, marked_html, plain_text
from adelie_assets.defs.app.tables import DIFFICULTY, SELECTION_REASONS

SECTIONS: dict[str, str] = {
    "background": "배경",
    "mirroring": "닮은 점",
    "difference": "다른 점",
    "devils_advocate": "반대 시각",
    "simulation": "시뮬레이션",
    "result": "그 후의 결과",
    "action": "투자 포인트",
}
DEVILS_ADVOCATE_BULLETS = 3
_HORIZONS = (5, 20, 60)
_TODAY_COLOR = "#e4572e"
_PAST_COLOR = "#4c6ef5"
_INDEX_COLOR = "#adb5bd"


@dataclass
class CaseFeed:
    """One app case: its row, the companies related to it, and the day's keywords it matches."""

    title: str
    event_year: int | None
    values: dict[str, Any]
    relations: list[dict[str, Any]]
    matches: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DayFeed:
    day: date
    briefing: dict[str, Any]
    stocks: list[dict[str, Any]]
    cases: list[CaseFeed]
    warnings: list[str] = field(default_factory=list)

    @property
    def matched_at(self) -> datetime:
        # The app finds a keyword's case by `matched_at >= briefing_date`: the trading day, never the clock.
        return datetime(self.day.year, self.day.month, self.day.day)


# --- numbers as Korean readers expect them ----------------------------------------------------------


def _krw(value: float | int | None) -> str:
    if value is None:
        return "-"
    amount = float(value)
    if abs(amount) >= 1e12:
        return f"{amount / 1e12:,.1f}조원"
    if abs(amount) >= 1e8:
        return f"{amount / 1e8:,.0f}억원"
    return f"{amount:,.0f}원"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{float(value):+.2f}%"


def market_summary(indices: dict[str, dict[str, Any]]) -> str | None:
    """`KOSPI 2,501.23 (+0.52%), KOSDAQ 712.40 (-0.31%)`; None without both indices."""
    if not all(name in indices for name in ("KOSPI", "KOSDAQ")):
        return None
    return ", ".join(
        f"{name} {float(indices[name]['close']):,.2f} ({_pct(indices[name]['change_pct'])})"
        for name in ("KOSPI", "KOSDAQ")
    )


# --- charts (Plotly figures) from market_analogs and market_data ------------------------------------


def _line(name: str, x: list[Any], y: list[Any], color: str, dash: str | None = None) -> dict[str, Any]:
    trace: dict[str, Any] = {"type": "scatter", "mode": "lines", "name": name, "x": x, "y": y}
    trace["line"] = {"color": color, **({"dash": dash} if dash else {})}
    return trace


def _layout(title: str, x_title: str, y_title: str) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": y_title}},
        "showlegend": True,
    }


def _points(path: list[dict[str, Any]] | None, low: int, high: int) -> list[dict[str, Any]]:
    return sorted(
        (p for p in path or [] if low <= int(p["offset"]) <= high and p.get("close") is not None),
        key=lambda p: int(p["offset"]),
    )


def _round(value: Any, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


# The analog search's features (defs/analogs/features.py), as the app's readers know them.
FEATURE_LABELS = {
    "change_1d_pct": "당일 등락률(%)",
    "change_5d_pct": "5일 등락률(%)",
    "change_20d_pct": "20일 등락률(%)",
    "log_volume_ratio": "거래량 배율(로그)",
    "index_change_pct": "지수 등락률(%)",
}


def _feature_label(key: str) -> str:
    return FEATURE_LABELS.get(key) or plain_text(key.replace("_", " "), 40)


def build_charts(analog: dict[str, Any], subject_close: float | None) -> dict[str, dict[str, Any]]:
    """One chart per narrative section except `action`."""
    today_name = plain_text(analog.get("subject_name") or analog["subject"], 100)
    past_name = plain_text(analog.get("analog_name") or analog.get("analog_ticker") or "", 100)
    past_day = str(analog["analog_date"])
    past_label = f"{past_name} ({past_day})"
    before = _points(analog.get("path_analog"), -60, 0)
    after = _points(analog.get("path_analog"), 0, 60)
    today = _points(analog.get("path_today"), -60, 0)

    background = {
        "data": [_line(past_label, [p["date"] for p in before], [p["close"] for p in before], _PAST_COLOR)],
        "layout": _layout(f"{past_name}: {past_day}까지의 주가", "날짜", "종가"),
    }
    mirroring = {
        "data": [
            _line(
                f"{today_name} (오늘까지)",
                [p["offset"] for p in today],
                [_round(p["pct"]) for p in today],
                _TODAY_COLOR,
            ),
            _line(past_label, [p["offset"] for p in before], [_round(p["pct"]) for p in before], _PAST_COLOR),
        ],
        "layout": _layout("오늘과 과거 사례의 주가 흐름 (기준일 대비 %)", "기준일로부터 거래일", "%"),
    }
    features = analog.get("features") or {}
    today_features = features.get("today") or {}
    past_features = features.get("analog") or {}
    keys = [k for k in today_features if k in past_features]
    difference = {
        "data": [
            {
                "type": "bar",
                "name": "오늘",
                "x": [_feature_label(k) for k in keys],
                "y": [_round(today_features[k], 4) for k in keys],
                "marker": {"color": _TODAY_COLOR},
            },
            {
                "type": "bar",
                "name": past_label,
                "x": [_feature_label(k) for k in keys],
                "y": [_round(past_features[k], 4) for k in keys],
                "marker": {"color": _PAST_COLOR},
            },
        ],
        "layout": {**_layout("오늘과 과거 사례의 지표 비교", "지표", "값"), "barmode": "group"},
    }
    worst = min(after, key=lambda p: float(p["pct"]), default=None)
    devils_advocate = {
        "data": [
            _line(
                f"{past_name} 이후 흐름",
                [p["offset"] for p in after],
                [_round(p["pct"]) for p in after],
                _PAST_COLOR,
            ),
            *(
                [
                    {
                        "type": "scatter",
                        "mode": "markers",
                        "name": "최대 하락 지점",
                        "x": [worst["offset"]],
                        "y": [_round(worst["pct"])],
                        "marker": {"color": _TODAY_COLOR, "size": 10},
                    }
                ]
                if worst is not None
                else []
            ),
        ],
        "layout": _layout("같은 패턴에서도 이렇게 흔들렸습니다 (기준일 대비 %)", "기준일 이후 거래일", "%"),
    }
    simulated = (
        [round(float(subject_close) * (1 + float(p["pct"]) / 100), 2) for p in after]
        if subject_close is not None
        else []
    )
    simulation = {
        "data": [
            _line(
                f"{today_name} 실제", [p["offset"] for p in today], [p["close"] for p in today], _TODAY_COLOR
            ),
            _line(
                "과거 흐름을 그대로 따른다면",
                [p["offset"] for p in after] if simulated else [],
                simulated,
                _TODAY_COLOR,
                dash="dot",
            ),
        ],
        "layout": _layout(
            f"{today_name}: 과거 사례의 흐름을 오늘 종가에 적용하면", "오늘로부터 거래일", "가격"
        ),
    }
    horizons = [f"{h}거래일 후" for h in _HORIZONS]
    result = {
        "data": [
            {
                "type": "bar",
                "name": past_name,
                "x": horizons,
                "y": [_round(analog.get(f"after_{h}_pct")) for h in _HORIZONS],
                "marker": {"color": _PAST_COLOR},
            },
            {
                "type": "bar",
                "name": "같은 기간 지수",
                "x": horizons,
                "y": [_round(analog.get(f"index_after_{h}_pct")) for h in _HORIZONS],
                "marker": {"color": _INDEX_COLOR},
            },
        ],
        "layout": {**_layout(f"{past_day} 이후 {past_name}의 수익률", "기간", "%"), "barmode": "group"},
    }
    return {
        "background": background,
        "mirroring": mirroring,
        "difference": difference,
        "devils_advocate": devils_advocate,
        "simulation": simulation,
        "result": result,
    }


# --- one case --------------------------------------------------------------------------------------


def _narrative(
    raw: dict[str, Any], terms: list[str], charts: dict[str, dict[str, Any]], where: str
) -> dict[str, Any]:
    narrative: dict[str, Any] = {}
    for key in SECTIONS:
        section = raw.get(key)
        if not isinstance(section, dict):
            raise AppFeedError(
                f"{where}: the narrative has no section {key!r}; re-materialize historical_cases."
            )
        bullets = [marked_html(b, terms) for b in section.get("bullets") or []]
        bullets = [b for b in bullets if b]
        narrative[key] = {"bullets": bullets, "content": marked_html(section.get("content"), terms)}
        if key in charts:
            narrative[key]["chart"] = charts[key]
    count = len(narrative["devils_advocate"]["bullets"])
    if count != DEVILS_ADVOCATE_BULLETS:
        raise AppFeedError(
            f"{where}: devils_advocate has {count} non-empty bullet(s) after removing markup, the app needs "
            f"exactly {DEVILS_ADVOCATE_BULLETS}; re-materialize historical_cases for the day."
        )
    return narrative


def _metric(raw: Any, *fields: str) -> dict[str, Any]:
    metric = raw if isinstance(raw, dict) else {}
    out: dict[str, Any] = {}
    for name in fields:
        value = metric.get(name)
        out[name] = value if value is None or isinstance(value, int | float) else plain_text(value, 100)
    return out


def _full_content(summary: str, raw: dict[str, Any]) -> str:
    parts = [summary]
    for key, heading in SECTIONS.items():
        section = raw.get(key) or {}
        text = plain_text(section.get("content"))
        bullets = [plain_text(b) for b in section.get("bullets") or []]
        body = "\n".join([*(f"- {b}" for b in bullets if b), *([text] if text else [])])
        if body:
            parts.append(f"{heading}\n{body}")
    return "\n\n".join(parts)


def _stock_name(inputs: DayInputs, ticker: str, fallback: str | None = None) -> str:
    row = inputs.market.get(ticker)
    return plain_text((row or {}).get("name") or fallback or ticker, 100) or ticker


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
                "stock_name": _stock_name(inputs, ticker),
                "relation_type": "main_subject" if ticker == main else "related",
                "impact_description": f"{inputs.day} {_pct(row.get('change_pct'))}, "
                f"거래대금 {_krw(row.get('trading_value'))}",
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
                f"{_pct(analog.get('after_20_pct'))}",
            }
        )
    return relations


def build_case(inputs: DayInputs, theme_rank: int) -> CaseFeed:
    case = inputs.cases[theme_rank]
    where = f"historical_cases {inputs.day} theme {theme_rank}"
    analog = inputs.analogs[str(case["analog_id"])]
    title = plain_text(case.get("title"), 200).replace("\n", " ")
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
        "narrative": _narrative(
            case.get("narrative") or {}, terms, build_charts(analog, subject_close), where
        ),
        "glossary_terms": glossary,
        "key_insight": plain_text(case.get("key_insight"), 500),
    }
    values = {
        "title": title,
        "event_date": case.get("event_date"),
        "event_year": event_year,
        "summary": summary,
        "full_content": _full_content(summary, case.get("narrative") or {}),
        "keywords": keywords,
        "source_urls": [],
        "difficulty": DIFFICULTY,
    }
    return CaseFeed(title, event_year, values, _relations(inputs, case, analog))


# --- the briefing ----------------------------------------------------------------------------------


def _stock_reason(stock: dict[str, Any], selection_reason: str) -> str:
    move, value = _pct(stock.get("change_pct")), _krw(stock.get("trading_value"))
    return f"거래대금 {value}, {move}" if selection_reason == "high_volume" else f"{move}, 거래대금 {value}"


def keyword_title(theme: dict[str, Any]) -> str:
    """e.g. `에코프로 등 코스닥 급등주`: the lead stock makes a day's keyword distinct from other days'."""
    label = plain_text(theme.get("label_ko"), 60)
    stocks = theme.get("stocks") or []
    lead = plain_text(stocks[0].get("name") or stocks[0].get("ticker"), 40) if stocks else ""
    title = f"{lead} 등 {label}" if len(stocks) > 1 else f"{lead} {label}"
    return title.strip()[:100]


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
        title = keyword_title(theme)
        if title in titles:
            title = f"{title} ({rank})"[:100]
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
                    f"{_stock_name(inputs, str(s['ticker']), s.get('name'))} {_pct(s.get('change_pct'))}"
                    for s in theme_stocks
                ),
                "stocks": [
                    {
                        "stock_code": str(s["ticker"])[:10],
                        "stock_name": _stock_name(inputs, str(s["ticker"]), s.get("name")),
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
                    "stock_name": _stock_name(inputs, str(s["ticker"]), s.get("name")),
                    "change_rate": None
                    if s.get("change_pct") is None
                    else Decimal(str(round(float(s["change_pct"]), 2))),
                    "volume": None if s.get("volume") is None else int(s["volume"]),
                    "selection_reason": reason,
                    "keywords": [],
                },
            )
            row["keywords"].append(title)
    briefing = {
        "briefing_date": inputs.day,
        "market_summary": market_summary(inputs.indices),
        "top_keywords": {"keywords": keywords},
    }
    warnings = [f"No market summary: {inputs.missing_indices}."] if inputs.missing_indices else []
    return DayFeed(inputs.day, briefing, list(stocks.values()), list(cases.values()), warnings)
