"""Verdicts on one day's historical_cases rows (pure), the asset's checks (checks.py): evaluated on
the new rows before the write, so that a day that would fail them is neither written nor cached."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from adelie_assets.defs.cases.fallback import FALLBACK_MODEL
from adelie_assets.lib.partitioned_checks import Verdict, examples

REQUIRED_TEXT = (
    "theme_label", "title", "summary", "analog_id", "key_insight", "language", "model", "prompt_version",
    "request_hash",
)  # fmt: skip
REQUIRED_LISTS = ("theme_tickers", "related_tickers", "glossary")
NARRATIVE_PARTS = (
    "background",
    "mirroring",
    "difference",
    "devils_advocate",
    "simulation",
    "result",
    "action",
)
OUTCOME_KEYS = tuple(f"{p}after_{n}_pct" for p in ("", "index_") for n in (5, 20, 60))


def _json(value: Any) -> Any:
    # SQLite hands JSON columns back as text when written by other clients.
    return json.loads(value) if isinstance(value, str) else value


def _date(value: Any) -> Any:
    return pd.Timestamp(value).date() if value is not None else None


def case_count_verdict(cases: pd.DataFrame, themes: pd.DataFrame) -> Verdict:
    metadata: dict[str, object] = {"cases": len(cases), "expected": len(themes)}
    if themes.empty:
        return Verdict(
            False, "daily_themes has no rows for this day: the cases have nothing to stand on.", metadata
        )
    if len(cases) != len(themes) or set(cases["theme_rank"]) != set(themes["theme_rank"]):
        return Verdict(
            False,
            f"{len(cases)} cases stored for {len(themes)} themes in daily_themes: the stored cases do not "
            "match the day's themes. Re-materialize historical_cases.",
            metadata,
        )
    return Verdict(True, f"{len(cases)} cases, one per theme of daily_themes.", metadata)


def related_tickers_verdict(cases: pd.DataFrame, market: pd.DataFrame) -> Verdict:
    known = set(market["ticker"]) if not market.empty else set()
    referenced = {str(t) for tickers in cases["related_tickers"] for t in (_json(tickers) or [])}
    unknown = pd.Series(sorted(referenced - known), dtype=str)
    metadata: dict[str, object] = {
        "cases": len(cases),
        "related_tickers": len(referenced),
        "unknown_tickers": len(unknown),
    }
    if len(unknown):
        metadata["examples"] = examples(unknown)
        return Verdict(
            False,
            f"{len(unknown)} related tickers are not in the day's market_data: {examples(unknown)}.",
            metadata,
        )
    return Verdict(True, f"All {len(referenced)} related tickers are in the day's market_data.", metadata)


def unique_titles_verdict(cases: pd.DataFrame) -> Verdict:
    titles = cases["title"].astype(str).str.strip().str.casefold()
    repeated = cases.loc[titles.duplicated(keep=False), "title"].drop_duplicates()
    metadata: dict[str, object] = {"cases": len(cases), "repeated_titles": len(repeated)}
    if len(repeated):
        metadata["examples"] = examples(repeated)
        return Verdict(False, f"Several cases of the day share a title: {examples(repeated)}.", metadata)
    return Verdict(True, f"{len(cases)} distinct titles.", metadata)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or not str(value).strip()


def _missing_fields(case: pd.Series) -> list[str]:
    missing = [name for name in REQUIRED_TEXT if _blank(case.get(name))]
    missing += [name for name in REQUIRED_LISTS if not _json(case.get(name))]
    narrative = _json(case.get("narrative")) or {}
    missing += [
        f"narrative.{part}"
        for part in NARRATIVE_PARTS
        if not (narrative.get(part) or {}).get("content") or not (narrative.get(part) or {}).get("bullets")
    ]
    return missing


def required_fields_verdict(cases: pd.DataFrame) -> Verdict:
    problems = {
        f"#{int(case['theme_rank'])}": missing
        for _, case in cases.iterrows()
        if (missing := _missing_fields(case))
    }
    metadata: dict[str, object] = {"cases": len(cases), "incomplete_cases": len(problems)}
    if problems:
        detail = "; ".join(f"case {rank}: {', '.join(fields)}" for rank, fields in problems.items())
        metadata["missing"] = detail
        return Verdict(False, f"{len(problems)} cases have empty required fields ({detail}).", metadata)
    return Verdict(True, f"All {len(cases)} cases have every required field.", metadata)


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None or (isinstance(a, float) and a != a) or (isinstance(b, float) and b != b):
        return (a is None or a != a) and (b is None or b != b)
    return abs(float(a) - float(b)) < 1e-9


def facts_verdict(cases: pd.DataFrame, analogs: pd.DataFrame) -> Verdict:
    """Each case's facts are its analog's: the id exists that day, event date = analog date (before the
    trade date), sync rate = round(similarity), outcome = the analog's."""
    by_id = {row["analog_id"]: row for row in analogs.to_dict("records")} if not analogs.empty else {}
    problems = []
    for case in cases.to_dict("records"):
        rank, analog = case["theme_rank"], by_id.get(case["analog_id"])
        if analog is None:
            problems.append(
                f"case {rank}: analog_id {case['analog_id']!r} is not in the day's market_analogs"
            )
            continue
        if _date(case["event_date"]) != _date(analog["analog_date"]):
            problems.append(
                f"case {rank}: event_date {case['event_date']} is not the analog's {analog['analog_date']}"
            )
        if _date(case["event_date"]) >= _date(case["trade_date"]):
            problems.append(f"case {rank}: event_date {case['event_date']} is not before the trade date")
        if int(case["event_year"]) != _date(analog["analog_date"]).year:
            problems.append(f"case {rank}: event_year {case['event_year']} is not the analog's year")
        if int(case["sync_rate"]) != round(float(analog["similarity"])):
            problems.append(
                f"case {rank}: sync_rate {case['sync_rate']} is not round({analog['similarity']})"
            )
        outcome = _json(case["outcome"]) or {}
        wrong = [k for k in OUTCOME_KEYS if not _same(outcome.get(k), analog.get(k))]
        if wrong:
            problems.append(f"case {rank}: outcome {', '.join(wrong)} differ from the analog's")
    metadata: dict[str, object] = {"cases": len(cases), "problems": len(problems)}
    if problems:
        return Verdict(False, "; ".join(problems[:10]), metadata)
    return Verdict(
        True, f"All {len(cases)} cases carry their analog's date, sync rate and outcomes.", metadata
    )


def model_written_verdict(cases: pd.DataFrame) -> Verdict:
    """WARN: every case of the day was written by the model, none by code (a stubborn theme's stand-in,
    fallback.py)."""
    by_code = cases[cases["model"] == FALLBACK_MODEL]
    metadata: dict[str, object] = {"cases": len(cases), "written_by_code": len(by_code)}
    if len(by_code):
        themes = ", ".join(f"#{int(c['theme_rank'])} '{c['theme_label']}'" for _, c in by_code.iterrows())
        metadata["themes"] = themes
        return Verdict(
            False,
            f"{len(by_code)} case(s) of the day were written by code, not by the model: theme {themes} "
            "(every answer was rejected). Re-run the partition to ask the model again.",
            metadata,
        )
    return Verdict(True, f"All {len(cases)} cases were written by the model.", metadata)
