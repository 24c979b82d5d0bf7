"""Prompt size: the Korean grounded prompt (today's default) vs the old English one (historical_case_v1).

One trading day's five themes (select_themes over the fake KRX's quotes of the day), each with k=3
analogs per theme stock and per index shaped as market_analogs stores them (tests/case_inputs.py), the
requests built by `build_request` as `historical_cases` does (candidates_per_subject = 1, the default);
the old prompt rendered as it was before issue 12 (v1 template, today's stocks as JSON). Tokens are
counted three ways, none of them a real tokenizer (tiktoken is not installed here and would need its
encoding files from the network):
- `fake`: the fake OpenAI's usage count, len(json.dumps(messages, ensure_ascii=False)) // 4, i.e.
  what bench_daily / bench_backfill see;
- `utf8/4`: UTF-8 bytes / 4: a pessimistic proxy for byte-level BPE on Hangul (3 bytes a syllable);
- `cl100k-ish`: 1 token per Hangul syllable + (other characters) / 4, the rule of thumb for OpenAI's
  cl100k/o200k encodings on Korean (about one token per syllable).

    python bench/bench_prompt_tokens.py
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adelie_assets.defs.cases.prompt import PROMPT_VERSIONS, build_request, prompt_sections  # noqa: E402
from adelie_assets.defs.cases.themes import Theme, select_themes  # noqa: E402
from adelie_assets.resources.llm import DEFAULT_MODEL, LLM  # noqa: E402
from tests.case_inputs import INDICES, analog_row  # noqa: E402

TARGET_RATIO = 1.5
OLD_VERSION = "historical_case_v1"


def old_messages(theme: Theme, day: date) -> list[dict[str, str]]:
    """The English prompt as rendered before issue 12 (git 8070a8b^, cases/generate.py)."""
    sections = prompt_sections(OLD_VERSION)
    stocks = [
        {
            "ticker": s.ticker,
            "name": s.name,
            "market": s.market,
            "close_krw": s.close,
            "change_pct": round(s.change_pct, 2),
            "trading_value_krw": s.trading_value,
            "market_cap_krw": s.market_cap,
        }
        for s in theme.stocks
    ]
    user = sections["user"].format(
        trade_date=day.isoformat(),
        theme_label=theme.label,
        stocks_json=json.dumps(stocks, ensure_ascii=False, indent=2),
    )
    return [{"role": "system", "content": sections["system"]}, {"role": "user", "content": user}]


def counts(messages: list[dict[str, str]]) -> dict[str, int]:
    text = json.dumps(messages, ensure_ascii=False)
    hangul = sum(1 for ch in text if "\uac00" <= ch <= "\ud7a3")
    return {
        "fake": max(1, len(text) // 4),
        "utf8/4": len(text.encode()) // 4,
        "cl100k-ish": hangul + (len(text) - hangul) // 4,
    }


def main() -> int:
    from tests.builders import market_frame

    day = date(2026, 11, 27)
    market = market_frame(day, per_market=1194)
    themes = select_themes(market, 5, 3, 5_000_000_000)
    analogs = []
    for theme in themes:
        for stock in theme.stocks:
            analogs += [{**analog_row(stock.ticker, r), "subject_name": stock.name} for r in (1, 2, 3)]
    analogs += [analog_row(i, r, "index") for i in ("KOSPI", "KOSDAQ") for r in (1, 2, 3)]
    totals: dict[str, dict[str, int]] = {}
    for label, render in (
        ("old English (v1)", lambda t: old_messages(t, day)),
        *(
            (f"grounded {lang} ({PROMPT_VERSIONS[lang]})", lambda t, lang=lang: build_request(
                day, t, analogs, INDICES, lang, 1
            ).messages)
            for lang in ("ko", "en")
        ),
    ):  # fmt: skip
        per = [counts(render(t)) for t in themes]
        totals[label] = {k: sum(p[k] for p in per) for k in per[0]}
    old = totals["old English (v1)"]
    print(f"bench_prompt_tokens: {len(themes)} themes of {day} (input tokens of the day's prompts)")
    for label, total in totals.items():
        ratios = ", ".join(f"{k} {v:,} ({v / old[k]:.2f}x)" for k, v in total.items())
        print(f"  {label:40} {ratios}")
    ko = totals[f"grounded ko ({PROMPT_VERSIONS['ko']})"]
    for key in ko:
        ratio = ko[key] / old[key]
        print(
            f"Korean grounded / old English, {key}: {ratio:.2f}x "
            f"(target <= {TARGET_RATIO}x: {'MET' if ratio <= TARGET_RATIO else 'MISSED'})"
        )
    llm = LLM(model=DEFAULT_MODEL)
    print(
        f"input USD per day at {DEFAULT_MODEL}'s list price (${llm.input_usd_per_million_tokens}/M in), "
        f"cl100k-ish: ko {llm.estimated_cost_usd(ko['cl100k-ish'], 0):.5f}, "
        f"old {llm.estimated_cost_usd(old['cl100k-ish'], 0):.5f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
