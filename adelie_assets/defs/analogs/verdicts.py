"""Verdicts on one day's daily_themes, analog_features and market_analogs rows (pure).

The assets run them on their new rows before replacing anything; the checks (checks.py) run them on
the stored rows, as the record in the UI.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from adelie_assets.calendar import trading_days
from adelie_assets.defs.analogs.features import FEATURES
from adelie_assets.defs.analogs.search import MIN_GAP_DAYS
from adelie_assets.lib.partitioned_checks import Verdict, examples

CATEGORIES = ("급등주", "급락주", "거래량", "대형주")
SELECTION_REASONS = ("top_gainer", "top_loser", "high_volume")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def themes_verdict(themes: pd.DataFrame, market: pd.DataFrame) -> Verdict:
    if themes.empty:
        return Verdict(False, "No theme stored for this day: materialize daily_themes.", {"themes": 0})
    known = set(market["ticker"]) if not market.empty else set()
    problems = []
    for row in themes.itertuples():
        stocks = _json(row.stocks) or []
        if not stocks:
            problems.append(f"theme {row.theme_rank} has no stocks")
        unknown = [s["ticker"] for s in stocks if s["ticker"] not in known]
        if unknown:
            problems.append(f"theme {row.theme_rank}: {', '.join(unknown)} not in the day's market_data")
        if row.category not in CATEGORIES:
            problems.append(f"theme {row.theme_rank}: category {row.category!r} is not one of {CATEGORIES}")
        if row.selection_reason not in SELECTION_REASONS:
            problems.append(f"theme {row.theme_rank}: selection_reason {row.selection_reason!r}")
    metadata: dict[str, object] = {"themes": len(themes), "problems": len(problems)}
    if problems:
        return Verdict(False, "; ".join(problems[:10]), metadata)
    return Verdict(True, f"{len(themes)} themes, each of the day's stocks, with app categories.", metadata)


def features_verdict(features: pd.DataFrame, market: pd.DataFrame) -> Verdict:
    kinds = dict(zip(features["kind"], features["row_count"], strict=True)) if not features.empty else {}
    metadata: dict[str, object] = {
        "stock_vectors": int(kinds.get("stock", 0)),
        "index_vectors": int(kinds.get("index", 0)),
        "market_data_rows": len(market),
    }
    if kinds.get("stock", 0) != len(market) or len(market) == 0:
        return Verdict(
            False,
            f"analog_features holds {kinds.get('stock', 0)} stock vectors for a day of {len(market)} "
            "market_data rows: re-materialize analog_features for the day.",
            metadata,
        )
    if kinds.get("index", 0) != 2:
        return Verdict(False, "analog_features lacks the KOSPI and KOSDAQ vectors of the day.", metadata)
    return Verdict(True, f"One vector per ticker ({len(market)}) and both indices.", metadata)


def analogs_verdict(analogs: pd.DataFrame) -> Verdict:
    """Analogs at least 60 trading days back, similarity within 0-100, both indices present."""
    if analogs.empty:
        return Verdict(False, "No analog stored for this day: materialize market_analogs.", {"analogs": 0})
    day = analogs["trade_date"].iloc[0]
    earliest_allowed = trading_days(date(day.year - 1, 1, 1), day)
    latest = earliest_allowed[-1 - MIN_GAP_DAYS] if len(earliest_allowed) > MIN_GAP_DAYS else None
    dates = pd.to_datetime(analogs["analog_date"]).dt.date
    too_recent = analogs.loc[[latest is None or d > latest for d in dates], "analog_id"]
    similarity = analogs["similarity"].astype(float)
    out_of_range = analogs.loc[(similarity < 0) | (similarity > 100) | similarity.isna(), "analog_id"]
    indices = set(analogs.loc[analogs["subject_kind"] == "index", "subject"])
    incomplete = [
        row.analog_id
        for row in analogs.itertuples()
        if row.subject_kind == "stock" and set(_json(row.features)["today"]) != set(FEATURES)
    ]
    metadata: dict[str, object] = {
        "analogs": len(analogs),
        "subjects": analogs["subject"].nunique(),
        "too_recent": len(too_recent),
        "similarity_out_of_range": len(out_of_range),
    }
    problems = []
    if len(too_recent):
        problems.append(f"analogs less than {MIN_GAP_DAYS} trading days back: {examples(too_recent)}")
    if len(out_of_range):
        problems.append(f"similarity outside 0-100: {examples(out_of_range)}")
    if indices != {"KOSPI", "KOSDAQ"}:
        problems.append(f"index analogs for {sorted(indices) or 'no index'}; both KOSPI and KOSDAQ expected")
    if incomplete:
        problems.append(f"analogs without every feature: {examples(pd.Series(incomplete))}")
    if any(np.isnan(float(v)) for v in analogs["after_60_pct"].astype(float)):
        problems.append("an analog has no +60 outcome")
    if problems:
        return Verdict(False, "; ".join(problems), metadata)
    return Verdict(
        True, f"{len(analogs)} analogs of {metadata['subjects']} subjects, all well formed.", metadata
    )
