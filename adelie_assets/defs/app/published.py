"""What the app would read for one day, read back from its tables (the checks' input), and the verdicts
on it: the conditions under which the app's pages break."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from adelie_assets.defs.app.content import DEVILS_ADVOCATE_BULLETS
from adelie_assets.defs.app.tables import SELECTION_REASONS, AppTables
from adelie_assets.lib.partitioned_checks import Verdict

KEYWORDS_PER_DAY = 5


@dataclass(frozen=True)
class PublishedDay:
    day: date
    briefings: int
    market_summary: str | None
    keywords: list[str]
    unmatched_keywords: list[str]  # keywords the app's Home query finds no case for
    selection_reasons: list[str | None]
    similarity_scores: list[Decimal | None]
    devils_advocate_bullets: dict[str, int]  # case title -> bullets


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def read_published(conn: Connection, t: AppTables, day: date) -> PublishedDay:
    start = datetime(day.year, day.month, day.day)
    end = start + timedelta(days=1)
    briefings = conn.execute(
        sa.select(
            t.daily_briefings.c.id, t.daily_briefings.c.top_keywords, t.daily_briefings.c.market_summary
        ).where(t.daily_briefings.c.briefing_date == day)
    ).all()
    keywords = [
        str(k.get("title"))
        for b in briefings[:1]
        for k in (_json(b.top_keywords) or {}).get("keywords", [])
        if isinstance(k, dict)
    ]
    m = t.case_matches
    # The app's Home query: the latest match of the keyword on or after the briefing date. Found on a
    # later day, it is that day's case: Home would show it, so the keyword counts as unmatched.
    unmatched = [
        title
        for title in keywords
        if (
            conn.execute(
                sa.select(m.c.matched_at)
                .join(t.historical_cases, t.historical_cases.c.id == m.c.matched_case_id)
                .where(m.c.current_keyword == title, m.c.matched_at >= start)
                .order_by(m.c.matched_at.desc(), m.c.id.desc())
                .limit(1)
            ).scalar()
            or end
        )
        >= end
    ]
    reasons = list(
        conn.execute(
            sa.select(t.briefing_stocks.c.selection_reason).where(
                t.briefing_stocks.c.briefing_id.in_([b.id for b in briefings])
            )
        ).scalars()
    )
    on_day = sa.and_(m.c.matched_at >= start, m.c.matched_at < end)
    scores = list(conn.execute(sa.select(m.c.similarity_score).where(on_day)).scalars())
    case_ids = sa.select(m.c.matched_case_id).where(on_day)
    bullets = {}
    for row in conn.execute(
        sa.select(t.historical_cases.c.title, t.historical_cases.c.keywords).where(
            t.historical_cases.c.id.in_(case_ids)
        )
    ):
        narrative = (_json(row.keywords) or {}).get("narrative") or {}
        bullets[str(row.title)] = len((narrative.get("devils_advocate") or {}).get("bullets") or [])
    summary = briefings[0].market_summary if briefings else None
    return PublishedDay(day, len(briefings), summary, keywords, unmatched, reasons, scores, bullets)


# --- verdicts -------------------------------------------------------


def one_briefing(p: PublishedDay) -> Verdict:
    passed = p.briefings == 1
    text = f"{p.day}: {p.briefings} briefing(s) in daily_briefings" + (
        "" if passed else "; the app needs exactly 1"
    )
    return Verdict(passed, text, {"briefings": p.briefings})


def keywords_with_cases(p: PublishedDay) -> Verdict:
    passed = len(p.keywords) == KEYWORDS_PER_DAY and not p.unmatched_keywords
    text = f"{p.day}: {len(p.keywords)} keyword(s), {len(p.unmatched_keywords)} without a matched case"
    if not passed:
        text += f"; Home needs {KEYWORDS_PER_DAY}, each with a case"
        if p.unmatched_keywords:
            text += f" (unmatched: {', '.join(p.unmatched_keywords[:5])})"
    return Verdict(passed, text, {"keywords": len(p.keywords), "unmatched": len(p.unmatched_keywords)})


def selection_reasons(p: PublishedDay) -> Verdict:
    bad = sorted({str(r) for r in p.selection_reasons if r not in SELECTION_REASONS})
    passed = bool(p.selection_reasons) and not bad
    text = f"{p.day}: {len(p.selection_reasons)} mover(s)"
    if bad:
        text += f", selection_reason {', '.join(bad)} not among {', '.join(SELECTION_REASONS)}"
    elif not p.selection_reasons:
        text += "; the movers page would be empty"
    return Verdict(passed, text, {"movers": len(p.selection_reasons), "invalid_reasons": bad})


def similarity_in_range(p: PublishedDay) -> Verdict:
    bad = [s for s in p.similarity_scores if s is None or not 0 <= s <= 1]
    passed = bool(p.similarity_scores) and not bad
    text = f"{p.day}: {len(p.similarity_scores)} match(es), {len(bad)} with similarity_score outside 0-1"
    return Verdict(passed, text, {"matches": len(p.similarity_scores), "out_of_range": len(bad)})


def three_devils_advocate_bullets(p: PublishedDay) -> Verdict:
    bad = {title: n for title, n in p.devils_advocate_bullets.items() if n != DEVILS_ADVOCATE_BULLETS}
    passed = bool(p.devils_advocate_bullets) and not bad
    text = (
        f"{p.day}: {len(p.devils_advocate_bullets)} case(s), {len(bad)} without exactly "
        f"{DEVILS_ADVOCATE_BULLETS} devil's-advocate bullets"
    )
    if bad:
        text += " (" + ", ".join(f"{title}: {n}" for title, n in list(bad.items())[:5]) + ")"
    return Verdict(passed, text, {"cases": len(p.devils_advocate_bullets), "wrong": len(bad)})


def market_summary_present(p: PublishedDay) -> Verdict:
    passed = bool(p.market_summary)
    text = (
        f"{p.day}: market summary {p.market_summary!r}"
        if passed
        else f"{p.day}: no market summary (market_indices missing for the day); the app shows no index line"
    )
    return Verdict(passed, text, {"market_summary": p.market_summary or ""})
