"""The `historical_cases` warehouse table: its column schema, rows from results, the UI preview."""

import pandas as pd
from dagster import TableColumn, TableSchema

from adelie_assets import markdown
from adelie_assets.defs.cases.generate import PROMPT_VERSION, CaseResult

HISTORICAL_CASES_SCHEMA = TableSchema(
    columns=[
        TableColumn("trade_date", "date", description="KRX trading day (partition key)."),
        TableColumn("theme_rank", "int", description="1 = the day's first theme."),
        TableColumn("theme", "string", description="e.g. 'Top gainers on KOSDAQ'."),
        TableColumn("theme_tickers", "json", description="The theme's tickers given to the model."),
        TableColumn("title", "string"),
        TableColumn("event_year", "int", description="Year of the past episode."),
        TableColumn("summary", "string"),
        TableColumn("narrative", "json", description="background, mirrors/differs, devil's advocate (3)…"),
        TableColumn("related_tickers", "json", description="Subset of theme_tickers."),
        TableColumn("sync_rate", "int", description="0-100 resemblance."),
        TableColumn("key_insight", "string"),
        TableColumn("glossary", "json"),
        TableColumn("model", "string"),
        TableColumn("prompt_version", "string"),
        TableColumn("request_hash", "string", description="Cache key: inputs + prompt version + model."),
        TableColumn("input_tokens", "int"),
        TableColumn("output_tokens", "int"),
        TableColumn("created_at", "timestamp"),
    ]
)


def case_rows(results: list[CaseResult]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "trade_date": r.day,
                "theme_rank": r.theme.rank,
                "theme": r.theme.label,
                "theme_tickers": r.theme.tickers,
                "title": r.case.title,
                "event_year": r.case.event_year,
                "summary": r.case.summary,
                "narrative": r.case.narrative.model_dump(),
                "related_tickers": r.case.related_tickers,
                "sync_rate": r.case.sync_rate,
                "key_insight": r.case.key_insight,
                "glossary": [g.model_dump() for g in r.case.glossary],
                "model": r.model,
                "prompt_version": PROMPT_VERSION,
                "request_hash": r.request_hash,
                "input_tokens": r.input_tokens,
                "output_tokens": r.output_tokens,
            }
            for r in sorted(results, key=lambda r: (r.day, r.theme.rank))
        ]
    )


def preview(results: list[CaseResult]) -> str:
    rows = [
        [
            r.day,
            r.theme.rank,
            r.theme.label,
            r.case.title,
            r.case.event_year,
            ", ".join(r.case.related_tickers),
        ]
        for r in sorted(results, key=lambda r: (r.day, r.theme.rank))
    ]
    return markdown.table(["day", "#", "theme", "title", "year", "tickers"], rows[-30:])
