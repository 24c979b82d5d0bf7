"""One theme's request: the facts shown to the model (today's stocks and indices, the candidate
analogs), rendered into the versioned prompt, and kept for the grounding check of the answer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from adelie_assets.defs.cases.grounding import Facts
from adelie_assets.defs.cases.themes import Theme

PROMPT_VERSIONS = {"ko": "historical_case_v3_ko", "en": "historical_case_v3_en"}
OUTCOME_SPANS = (5, 20, 60)
INDEX_LABELS = {"ko": {"KOSPI": "코스피", "KOSDAQ": "코스닥"}, "en": {"KOSPI": "KOSPI", "KOSDAQ": "KOSDAQ"}}
# KRW amounts as the prompt shows them: (won per unit, decimals). Shown as 6112 (억원) rather than
# 611161089136, they cost half the tokens; the facts hold the rounded amount in won as well.
AMOUNT_UNITS = {"ko": (100_000_000, 0), "en": (1_000_000_000, 1)}
_COLUMNS = {
    "ko": {
        "stocks": (
            "종목(코드)", "시장", "종가", "등락률", "5일", "20일", "거래량배수", "거래대금", "시가총액",
        ),
        "analogs": (
            "id", "과거 종목(코드)", "날짜", "유사도", "당일", "5일", "20일", "거래량배수", "지수당일",
            "이후5", "이후20", "이후60", "지수60",
        ),
    },
    "en": {
        "stocks": (
            "stock(code)", "market", "close", "change", "5d", "20d", "volume ratio", "trading value",
            "market cap",
        ),
        "analogs": (
            "id", "past stock(code)", "date", "similarity", "day", "5d", "20d", "volume ratio", "index day",
            "after 5", "after 20", "after 60", "index 60",
        ),
    },
}  # fmt: skip


@cache
def prompt_sections(version: str) -> dict[str, str]:
    text = resources.files("adelie_assets.defs.cases").joinpath(f"prompts/{version}.md").read_text("utf-8")
    sections: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = ""
        elif current:
            sections[current] += line + "\n"
    return {name: body.strip() for name, body in sections.items()}


@dataclass
class CaseRequest:
    """Everything one theme's case is made from; `facts` is exactly what `messages` shows."""

    day: date
    theme: Theme
    language: str
    prompt_version: str
    offered: dict[str, dict[str, Any]]  # analog_id -> its market_analogs row
    facts: Facts
    messages: list[dict[str, str]]

    @property
    def label(self) -> str:
        return self.theme.label_ko if self.language == "ko" else self.theme.label


def _num(value: float | None, decimals: int = 2) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), decimals)


_TABLE_BREAKERS = str.maketrans({"|": "/", "\n": " ", "\r": " ", "\t": " "})


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else f"{value:.0f}"
    # A name is data: it must not end its cell or row (a KRX name can hold anything).
    return str(value).translate(_TABLE_BREAKERS)


def _volume_ratio(features: dict[str, Any]) -> float | None:
    log_ratio = features.get("log_volume_ratio")
    return None if log_ratio is None else round(math.exp(log_ratio), 1)


def offered_analogs(theme: Theme, analogs: list[dict[str, Any]], per_subject: int) -> list[dict[str, Any]]:
    """The candidates of one theme: the nearest `per_subject` analogs of each of its stocks, then of
    its market's index (both indices for a theme across markets)."""
    subjects = theme.tickers + ([theme.market] if theme.market else ["KOSPI", "KOSDAQ"])
    chosen = []
    for subject in subjects:
        rows = sorted((a for a in analogs if a["subject"] == subject), key=lambda a: a["analog_rank"])
        chosen += rows[:per_subject]
    return chosen


def _amount(won: int | None, language: str) -> tuple[float | int | None, int | None]:
    """A KRW amount in the prompt's unit, and the won that figure stands for (both are facts)."""
    if won is None:
        return None, None
    unit, decimals = AMOUNT_UNITS[language]
    shown = round(won / unit, decimals) if decimals else round(won / unit)
    return shown, round(shown * unit)


def _table(
    header: tuple[str, ...], rows: list[tuple[object, ...]], drop: frozenset[int] = frozenset()
) -> str:
    keep = [i for i in range(len(header)) if i not in drop]
    return "\n".join("|".join(_cell(row[i]) for i in keep) for row in [header, *rows])


def build_request(
    day: date,
    theme: Theme,
    analogs: list[dict[str, Any]],
    indices: dict[str, dict[str, Any]],
    language: str,
    per_subject: int = 1,
) -> CaseRequest:
    """`analogs`: the day's market_analogs rows; `indices`: index name -> today's market_indices row."""
    version = PROMPT_VERSIONS[language]
    offered = offered_analogs(theme, analogs, per_subject)
    today_features = {a["subject"]: a["features"]["today"] for a in analogs}
    names = INDEX_LABELS[language]
    stock_facts = []
    for s in theme.stocks:
        features = today_features.get(s.ticker, {})
        trading_value, trading_value_krw = _amount(s.trading_value, language)
        market_cap, market_cap_krw = _amount(s.market_cap, language)
        stock_facts.append(
            {
                "name": s.name,
                "ticker": s.ticker,
                "market": s.market,
                "close": s.close,
                "change_pct": _num(s.change_pct),
                "change_5d_pct": _num(features.get("change_5d_pct")),
                "change_20d_pct": _num(features.get("change_20d_pct")),
                "volume_ratio": _volume_ratio(features),
                "trading_value": trading_value,
                "trading_value_krw": trading_value_krw,
                "market_cap": market_cap,
                "market_cap_krw": market_cap_krw,
            }
        )
    index_facts = {
        name: {"close": _num(row.get("close")), "change_pct": _num(row.get("change_pct"))}
        for name, row in sorted(indices.items())
        if theme.market in (None, name)
    }
    analog_facts = []
    for a in offered:
        past = a["features"]["analog"]
        # An index's own market is itself: its index columns would repeat its own numbers.
        of_stock = a["subject_kind"] == "stock"
        analog_facts.append(
            {
                "analog_id": a["analog_id"],
                "subject_name": a["subject_name"],
                "analog_name": a["analog_name"],
                "analog_ticker": a["analog_ticker"] if of_stock else None,
                "analog_date": str(a["analog_date"]),
                "sync_rate": round(a["similarity"]),
                "change_pct": _num(past.get("change_1d_pct")),
                "change_5d_pct": _num(past.get("change_5d_pct")),
                "change_20d_pct": _num(past.get("change_20d_pct")),
                "volume_ratio": _volume_ratio(past),
                "index_change_pct": _num(past.get("index_change_pct")) if of_stock else None,
                **{f"after_{n}_pct": _num(a[f"after_{n}_pct"]) for n in OUTCOME_SPANS},
                "index_after_60_pct": _num(a["index_after_60_pct"]) if of_stock else None,
            }
        )
    columns = _COLUMNS[language]
    stock_rows = [
        (
            f"{f['name']}({f['ticker']})", f["market"], f["close"], f["change_pct"], f["change_5d_pct"],
            f["change_20d_pct"], f["volume_ratio"], f["trading_value"], f["market_cap"],
        )
        for f in stock_facts
    ]  # fmt: skip
    analog_rows = [
        (
            f["analog_id"],
            names.get(f["analog_name"], f["analog_name"]) + (f"({t})" if (t := f["analog_ticker"]) else ""),
            f["analog_date"], f["sync_rate"], f["change_pct"], f["change_5d_pct"], f["change_20d_pct"],
            f["volume_ratio"], f["index_change_pct"],
            *(f[f"after_{n}_pct"] for n in OUTCOME_SPANS),
            f["index_after_60_pct"],
        )
        for f in analog_facts
    ]  # fmt: skip
    # A one-market theme names its market in its label: the column would repeat it on every row.
    stocks_table = _table(columns["stocks"], stock_rows, frozenset({1}) if theme.market else frozenset())
    analogs_table = _table(columns["analogs"], analog_rows)
    index_line = ", ".join(
        f"{names[n]} {_cell(v['close'])} ({_cell(v['change_pct'])}%)" for n, v in index_facts.items()
    )
    sections = prompt_sections(version)
    user = sections["user"].format(
        trade_date=day.isoformat(),
        theme_label=theme.label_ko if language == "ko" else theme.label,
        stocks_table=stocks_table,
        index_line=index_line or "-",
        analogs_table=analogs_table,
    )
    facts = Facts.collect(
        {"trade_date": day.isoformat(), "spans": list(OUTCOME_SPANS), "similarity_scale": [0, 100]},
        stock_facts,
        index_facts,
        analog_facts,
    )
    return CaseRequest(
        day=day,
        theme=theme,
        language=language,
        prompt_version=version,
        offered={a["analog_id"]: a for a in offered},
        facts=facts,
        messages=[{"role": "system", "content": sections["system"]}, {"role": "user", "content": user}],
    )
