"""One theme's request: the facts shown to the model (today's stocks and indices, the candidate
analogs), rendered into the versioned prompt, and kept for the grounding check of the answer.

Prompt v4 (`historical_case_v4_ko` / `_en`, issue 34; issue 33 builds on it) adds the figures a case
naturally needs, computed here and shown as facts, so that a model writing as models do stays
grounded:
- `지수대비` / `vs index` of each stock: its change minus its market index's change that day (%p);
- `지수대비60` / `vs index 60` of each stock analog: its 60-day outcome minus its index's (%p);
- `100만원→60` / `1M→60` of each candidate: KRW 1,000,000 (`EXAMPLE_KRW`) bought at the analog's
  close, its value 60 trading days later (shown in 만 원 / KRW thousand; the facts hold it in won
  too, and the gain), the worked example of the simulation section;
- KRX's daily price limit (`PRICE_LIMIT_PCT`, ±30 % since 2015-06-15) and the holding periods in
  words (5 trading days "약 일주일", 20 "약 한 달", 60 "약 석 달"), which state no other number;
- a `repair` section: the turn that follows a rejected answer and names its problems.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from adelie_assets.defs.cases.grounding import Facts
from adelie_assets.defs.cases.themes import Theme

PROMPT_VERSIONS = {"ko": "historical_case_v4_ko", "en": "historical_case_v4_en"}
OUTCOME_SPANS = (5, 20, 60)
PRICE_LIMIT_PCT = 30  # KRX's daily price limit, ±30 % of the previous close since 2015-06-15
EXAMPLE_KRW = 1_000_000  # the worked example of the simulation section
INDEX_LABELS = {"ko": {"KOSPI": "코스피", "KOSDAQ": "코스닥"}, "en": {"KOSPI": "KOSPI", "KOSDAQ": "KOSDAQ"}}
# KRW amounts as the prompt shows them: (won per unit, decimals). Shown as 6112 (억원) rather than
# 611161089136, they cost half the tokens; the facts hold the rounded amount in won as well.
AMOUNT_UNITS = {"ko": (100_000_000, 0), "en": (1_000_000_000, 1)}
_COLUMNS = {
    "ko": {
        "stocks": (
            "종목(코드)", "시장", "종가", "등락률", "지수대비", "5일", "20일", "거래량배수", "거래대금",
            "시가총액",
        ),
        "analogs": (
            "id", "과거 종목(코드)", "날짜", "유사도", "당일", "5일", "20일", "거래량배수", "지수당일",
            "이후5", "이후20", "이후60", "지수60", "지수대비60", "100만원→60",
        ),
    },
    "en": {
        "stocks": (
            "stock(code)", "market", "close", "change", "vs index", "5d", "20d", "volume ratio",
            "trading value", "market cap",
        ),
        "analogs": (
            "id", "past stock(code)", "date", "similarity", "day", "5d", "20d", "volume ratio", "index day",
            "after 5", "after 20", "after 60", "index 60", "vs index 60", "1M→60",
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


def _gap(a: float | None, b: float | None) -> float | None:
    """The difference of two shown figures in %p, as a reader would compute it from them."""
    return None if a is None or b is None else round(a - b, 2)


# The worked example as the prompt shows it: (won per unit, decimals), 126.1 (만 원) for 1,261,000.
EXAMPLE_UNITS = {"ko": (10_000, 1), "en": (1_000, 0)}


def example_value(after_pct: float | None) -> int | None:
    """EXAMPLE_KRW bought at the analog's close, in won, `after_pct` later."""
    return None if after_pct is None else round(EXAMPLE_KRW * (1 + after_pct / 100))


def _example_shown(won: int | None, language: str) -> float | int | None:
    unit, decimals = EXAMPLE_UNITS[language]
    return None if won is None else (round(won / unit, decimals) if decimals else round(won / unit))


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
    index_change = {name: _num(row.get("change_pct")) for name, row in indices.items()}
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
                "index_gap_pctp": _gap(_num(s.change_pct), index_change.get(s.market)),
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
        fact = analog_facts[-1]
        fact["gap_60_pctp"] = _gap(fact["after_60_pct"], fact["index_after_60_pct"])
        won = example_value(fact["after_60_pct"])
        # Shown, in won, and the gain: every way a reader would state the example.
        fact["example_60"] = _example_shown(won, language)
        fact["example_60_krw"] = won
        fact["example_60_gain_krw"] = None if won is None else won - EXAMPLE_KRW
    columns = _COLUMNS[language]
    stock_rows = [
        (
            f"{f['name']}({f['ticker']})", f["market"], f["close"], f["change_pct"], f["index_gap_pctp"],
            f["change_5d_pct"], f["change_20d_pct"], f["volume_ratio"], f["trading_value"], f["market_cap"],
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
            f["index_after_60_pct"], f["gap_60_pctp"], f["example_60"],
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
        price_limit_pct=PRICE_LIMIT_PCT,
    )
    facts = Facts.collect(
        {
            "trade_date": day.isoformat(),
            "spans": list(OUTCOME_SPANS),
            "similarity_scale": [0, 100],
            "price_limit_pct": PRICE_LIMIT_PCT,
            "example_krw": EXAMPLE_KRW,
        },
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
