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

import json
import math
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from adelie_assets.defs.analogs.regime import YEAR_DAYS
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
            "종목(코드)", "시장", "종가", "등락률", "지수대비", "5일", "20일", "배수", "거래대금", "시총",
        ),
        "analogs": (
            "id", "과거 종목(코드)", "날짜", "국면", "시총", "유사도", "당일", "5일", "20일", "배수", "지수",
            "지수당일", "1년", "고점", "이후5", "이후20", "이후60", "저60", "고60", "지수60", "지수대비60",
            "100만원→60",
        ),
    },
    "en": {
        "stocks": (
            "stock(code)", "market", "close", "change", "vs index", "5d", "20d", "vol x", "value", "cap",
        ),
        "analogs": (
            "id", "past stock(code)", "date", "episode", "cap", "similarity", "day", "5d", "20d", "vol x",
            "index", "index day", "1y", "from high", "after 5", "after 20", "after 60", "low 60", "high 60",
            "index 60", "vs index 60", "1M→60",
        ),
    },
}  # fmt: skip
# The episode column's key of the n-th episode a request names (its name and dates on a line below).
EPISODE_KEYS = "ABCDEFGHIJ"
# The fixed line code adds to every case (the model is told not to write one): education, not advice.
DISCLAIMER = {
    "ko": "이 사례는 과거 데이터로 만든 투자 교육 자료이며, 투자 권유나 조언이 아닙니다.",
    "en": "This case is educational material built from past market data, not investment advice.",
}


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


# The words of the regime facts: today's index line ("1년 12.4% 고점대비 -3.1%") and the episode lines.
REGIME_WORDS = {"ko": ("1년", "고점", "국면"), "en": ("1y", "from high", "episode")}


def regime_of(analog: dict[str, Any]) -> dict[str, Any]:
    """market_analogs' regime (docs/analogs.md, "Regime facts"); {} for a row stored before it."""
    value = analog.get("regime")
    return (json.loads(value) if isinstance(value, str) else value) or {}


def _won(value: object) -> int | None:
    return None if value is None or value != value else int(value)  # type: ignore[call-overload]


def _extreme(fact: dict[str, Any], name: str) -> str | None:
    """A lowest or highest close after the analog as its cell: `-8.5(7)`, % on trading day 7."""
    pct, day = fact[f"{name}_pct"], fact[f"{name}_day"]
    return None if pct is None or day is None else f"{_cell(pct)}({day})"


def _analog_fact(a: dict[str, Any], language: str) -> dict[str, Any]:
    """One candidate's facts, as its row of the candidates table shows them."""
    past = a["features"]["analog"]
    regime = regime_of(a)
    # An index's own market is itself: its index columns would repeat its own numbers.
    of_stock = a["subject_kind"] == "stock"
    market_cap, market_cap_krw = _amount(_won(a.get("analog_market_cap")), language)
    after = regime.get("after_60") or {}
    fact: dict[str, Any] = {
        "analog_id": a["analog_id"],
        "subject_name": a["subject_name"],
        "analog_name": a["analog_name"],
        "analog_ticker": a["analog_ticker"] if of_stock else None,
        "analog_date": str(a["analog_date"]),
        "episode": regime.get("episode"),
        "market_cap": market_cap,
        "market_cap_krw": market_cap_krw,
        "sync_rate": round(a["similarity"]),
        "change_pct": _num(past.get("change_1d_pct")),
        "change_5d_pct": _num(past.get("change_5d_pct")),
        "change_20d_pct": _num(past.get("change_20d_pct")),
        "volume_ratio": _volume_ratio(past),
        "index": (regime.get("analog") or {}).get("index") if of_stock else None,
        "index_change_pct": _num(past.get("index_change_pct")) if of_stock else None,
        "index_1y_pct": _num((regime.get("analog") or {}).get("change_1y_pct")),
        "index_from_high_pct": _num((regime.get("analog") or {}).get("from_250d_high_pct")),
        **{f"after_{n}_pct": _num(a[f"after_{n}_pct"]) for n in OUTCOME_SPANS},
        "index_after_60_pct": _num(a["index_after_60_pct"]) if of_stock else None,
    }
    # The index's own extremes are stored (regime.after_60.index) but not shown: tokens (docs/cases.md).
    extremes = after.get("analog") or {}
    for end in ("low", "high"):
        fact[f"{end}_60_pct"] = _num(extremes.get(f"{end}est_pct"))
        fact[f"{end}_60_day"] = extremes.get(f"{end}est_day")
    fact["gap_60_pctp"] = _gap(fact["after_60_pct"], fact["index_after_60_pct"])
    won = example_value(fact["after_60_pct"])
    # Shown, in won, and the gain: every way a reader would state the example.
    fact["example_60"] = _example_shown(won, language)
    fact["example_60_krw"] = won
    fact["example_60_gain_krw"] = None if won is None else won - EXAMPLE_KRW
    return fact


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
    analog_facts = [_analog_fact(a, language) for a in offered]
    regimes = {r["today"]["index"]: r["today"] for a in analogs if (r := regime_of(a)).get("today")}
    for name, facts_of_index in index_facts.items():
        today = regimes.get(name) or {}
        facts_of_index["change_1y_pct"] = _num(today.get("change_1y_pct"))
        facts_of_index["from_250d_high_pct"] = _num(today.get("from_250d_high_pct"))
    episodes = list({f["episode"]["episode_id"]: f["episode"] for f in analog_facts if f["episode"]}.values())
    keys = {e["episode_id"]: EPISODE_KEYS[i] for i, e in enumerate(episodes)}
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
            f["analog_date"], keys[f["episode"]["episode_id"]] if f["episode"] else None, f["market_cap"],
            f["sync_rate"], f["change_pct"], f["change_5d_pct"], f["change_20d_pct"], f["volume_ratio"],
            f["index"], f["index_change_pct"], f["index_1y_pct"],
            f["index_from_high_pct"], *(f[f"after_{n}_pct"] for n in OUTCOME_SPANS),
            _extreme(f, "low_60"), _extreme(f, "high_60"), f["index_after_60_pct"], f["gap_60_pctp"],
            f["example_60"],
        )
        for f in analog_facts
    ]  # fmt: skip
    # A one-market theme names its market in its label: the column would repeat it on every row.
    stocks_table = _table(columns["stocks"], stock_rows, frozenset({1}) if theme.market else frozenset())
    analogs_table = _table(columns["analogs"], analog_rows)
    index_line = ", ".join(
        f"{names[n]} {_cell(v['close'])} ({_cell(v['change_pct'])}%)"
        + (
            ""
            if v["change_1y_pct"] is None
            else f" {REGIME_WORDS[language][0]} {_cell(v['change_1y_pct'])}%"
            f" {REGIME_WORDS[language][1]} {_cell(v['from_250d_high_pct'])}%"
        )
        for n, v in index_facts.items()
    )
    episode_lines = "".join(
        f"\n{REGIME_WORDS[language][2]} {keys[e['episode_id']]}: "
        f"{e['episode_name_ko' if language == 'ko' else 'episode_name_en']} "
        f"{e['episode_start']}~{e['episode_end']}"
        for e in episodes
    )
    sections = prompt_sections(version)
    user = sections["user"].format(
        trade_date=day.isoformat(),
        theme_label=theme.label_ko if language == "ko" else theme.label,
        stocks_table=stocks_table,
        index_line=index_line or "-",
        analogs_table=analogs_table + episode_lines,
        price_limit_pct=PRICE_LIMIT_PCT,
        year_days=YEAR_DAYS,
    )
    facts = Facts.collect(
        {
            "trade_date": day.isoformat(),
            "spans": list(OUTCOME_SPANS),
            "similarity_scale": [0, 100],
            "price_limit_pct": PRICE_LIMIT_PCT,
            "example_krw": EXAMPLE_KRW,
            "regime_days": YEAR_DAYS,
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
