"""The `historical_cases` warehouse table: its column schema, rows from results, the UI preview.

Every fact of a row (event date and year, sync rate, outcomes, related tickers, comparison values)
is copied from the chosen analog by code; only the text comes from the model.
"""

from typing import Any

import pandas as pd
from dagster import TableColumn, TableSchema

from adelie_assets import markdown
from adelie_assets.defs.cases.fallback import FALLBACK_VERSION
from adelie_assets.defs.cases.generate import CaseResult
from adelie_assets.defs.cases.prompt import DISCLAIMER

HISTORICAL_CASES_SCHEMA = TableSchema(
    columns=[
        TableColumn("trade_date", "date", description="KRX trading day (partition key)."),
        TableColumn("theme_rank", "int", description="1 = the day's first theme."),
        TableColumn("theme_key", "string", description="e.g. 'kospi_gainers'."),
        TableColumn("theme_label", "string", description="In the case language, e.g. '코스피 급등주'."),
        TableColumn("theme_tickers", "json", description="The theme's tickers given to the model."),
        TableColumn("title", "string"),
        TableColumn("summary", "string"),
        TableColumn("analog_id", "string", description="The chosen market_analogs.analog_id."),
        TableColumn("event_date", "date", description="= the analog's analog_date (copied by code)."),
        TableColumn("event_year", "int", description="Year of event_date (copied by code)."),
        TableColumn("sync_rate", "int", description="= round(similarity) of the analog (copied by code)."),
        TableColumn("related_tickers", "json", description="Theme tickers the analog is about (by code)."),
        TableColumn("outcome", "json", description="after_5/20/60_pct and index_after_* of the analog."),
        TableColumn("narrative", "json", description="7 sections {bullets, content}; devil's advocate: 3."),
        TableColumn("comparison", "json", description="Past vs. present 20-day change (by code)."),
        TableColumn("key_insight", "string"),
        TableColumn("glossary", "json"),
        TableColumn("language", "string", description="'ko' (default) or 'en' (ADELIE_CASE_LANGUAGE)."),
        TableColumn("model", "string"),
        TableColumn("prompt_version", "string", description="historical_case_v4_ko; fallback_v1: by code."),
        TableColumn("request_hash", "string", description="Cache key: inputs + prompt version + model."),
        TableColumn("input_tokens", "int"),
        TableColumn("output_tokens", "int"),
        TableColumn("created_at", "timestamp"),
    ]
)

OUTCOME_KEYS = tuple(f"{p}after_{n}_pct" for p in ("", "index_") for n in (5, 20, 60))
METRIC = {"ko": "20일 누적 등락률(%)", "en": "20-day change (%)"}


def _comparison(analog: dict[str, Any], language: str, year: int, trade_year: int) -> dict[str, Any]:
    past = analog["features"]["analog"].get("change_20d_pct")
    present = analog["features"]["today"].get("change_20d_pct")
    if language == "ko":
        past_label, present_label = (
            f"{year}년 {analog['analog_name']}",
            f"{trade_year}년 {analog['subject_name']}",
        )
    else:
        past_label, present_label = (
            f"{analog['analog_name']} ({year})",
            f"{analog['subject_name']} ({trade_year})",
        )
    return {
        "past_label": past_label,
        "present_label": present_label,
        "past_metric": {
            "value": None if past is None else round(past, 2),
            "company": analog["analog_name"],
            "metric_name": METRIC[language],
            "year": year,
        },
        "present_metric": {
            "value": None if present is None else round(present, 2),
            "metric_name": METRIC[language],
        },
    }


def narrative_with_disclaimer(r: CaseResult) -> dict[str, Any]:
    """The case's narrative with the fixed line that it is education, not investment advice, at the end
    of its last section (`action`): added by code to every case, the model's and code's alike (the
    prompt tells the model not to write one)."""
    narrative = r.case.narrative.model_dump()
    action = narrative["action"]
    action["content"] = f"{action['content'].rstrip()} {DISCLAIMER[r.request.language]}"
    return narrative


def case_row(r: CaseResult) -> dict[str, Any]:
    request = r.request
    analog = request.offered[r.case.analog_id]
    event_date = pd.Timestamp(analog["analog_date"]).date()
    related = [analog["subject"]] if analog["subject_kind"] == "stock" else request.theme.tickers
    return {
        "trade_date": r.day,
        "theme_rank": r.theme.rank,
        "theme_key": r.theme.key,
        "theme_label": request.label,
        "theme_tickers": r.theme.tickers,
        "title": r.case.title,
        "summary": r.case.summary,
        "analog_id": r.case.analog_id,
        "event_date": event_date,
        "event_year": event_date.year,
        "sync_rate": round(float(analog["similarity"])),
        "related_tickers": related,
        "outcome": {key: analog[key] for key in OUTCOME_KEYS},
        "narrative": narrative_with_disclaimer(r),
        "comparison": _comparison(analog, request.language, event_date.year, r.day.year),
        "key_insight": r.case.key_insight,
        "glossary": [g.model_dump() for g in r.case.glossary],
        "language": request.language,
        "model": r.model,
        "prompt_version": FALLBACK_VERSION if r.by_code else request.prompt_version,
        "request_hash": r.request_hash,
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
    }


def case_rows(results: list[CaseResult]) -> pd.DataFrame:
    return pd.DataFrame([case_row(r) for r in sorted(results, key=lambda r: (r.day, r.theme.rank))])


def preview(results: list[CaseResult]) -> str:
    rows = []
    for r in sorted(results, key=lambda r: (r.day, r.theme.rank)):
        row = case_row(r)
        rows.append(
            [r.day, r.theme.rank, row["theme_label"], r.case.title, row["event_date"], row["sync_rate"]]
        )
    return markdown.table(["day", "#", "theme", "title", "event date", "sync rate"], rows[-30:])
