"""Prompt size: the Korean grounded prompt (today's default, v4) vs prompt v3 and the old English one (v1).

Issue 33's target: today's prompt at most 1.5x the tokens of prompt v3 (the default before issues 33
and 34), which is rendered by v3's own `build_request`, loaded from git (commit V3_COMMIT; the v3
template files are still in the package).

One trading day's five themes (select_themes over the fake KRX's quotes of the day), each with k=3
analogs per theme stock and per index shaped as market_analogs stores them (tests/case_inputs.py), the
requests built by `build_request` as `historical_cases` does (candidates_per_subject = 1, the default);
the old prompt rendered as it was before issue 12 (v1 template, today's stocks as JSON). Tokens are
counted three ways without a tokenizer (Python's tiktoken would need its encoding files from the
network), and with `--tiktoken-js DIR` by OpenAI's real encodings too: `DIR` is a node_modules holding
npm's js-tiktoken (the port of tiktoken that ships its ranks: `npm install js-tiktoken` in DIR/..),
counted with Node.js as the chat format is (each message's content + 3, + 3 for the reply):
- `fake`: the fake OpenAI's usage count, len(json.dumps(messages, ensure_ascii=False)) // 4, i.e.
  what bench_daily / bench_backfill see;
- `utf8/4`: UTF-8 bytes / 4: a pessimistic proxy for byte-level BPE on Hangul (3 bytes a syllable);
- `cl100k-ish`: 1 token per Hangul syllable + (other characters) / 4, the rule of thumb for OpenAI's
  cl100k/o200k encodings on Korean (about one token per syllable);
- `o200k` (gpt-4o and gpt-4o-mini, the default model) and `cl100k` (gpt-4, gpt-3.5): with --tiktoken-js.

    python bench/bench_prompt_tokens.py
    (cd /tmp/tok && npm install js-tiktoken@1)
    python bench/bench_prompt_tokens.py --tiktoken-js /tmp/tok/node_modules
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adelie_assets.defs.cases.prompt import PROMPT_VERSIONS, build_request, prompt_sections  # noqa: E402
from adelie_assets.defs.cases.themes import Theme, select_themes  # noqa: E402
from adelie_assets.resources.llm import DEFAULT_MODEL, LLM  # noqa: E402
from tests.case_inputs import INDICES, analog_row  # noqa: E402

TARGET_RATIO = 1.5
OLD_VERSION = "historical_case_v1"
V3_COMMIT = "abbeed4"  # "Prompt v3 (ko/en)": prompt.py as it rendered v3
ROOT = Path(__file__).resolve().parents[1]


def v3_build_request() -> Callable[..., object]:
    """`build_request` of prompt v3, from git: what a day cost before issues 33 and 34."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{V3_COMMIT}:adelie_assets/defs/cases/prompt.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spec = importlib.util.spec_from_loader("prompt_v3", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["prompt_v3"] = module  # dataclasses look their module up
    exec(compile(source, f"{V3_COMMIT}:prompt.py", "exec"), module.__dict__)  # noqa: S102
    return module.build_request  # type: ignore[no-any-return]


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


# Reads [[messages, ...], ...] (JSON, argv[2]); prints, per list of messages, its tokens per encoding.
NODE_COUNT = """
const fs = require("fs");
const load = (name) => require(require.resolve(name, { paths: [process.argv[1]] }));
const { Tiktoken } = load("js-tiktoken/lite");
const ranks = { o200k: load("js-tiktoken/ranks/o200k_base"), cl100k: load("js-tiktoken/ranks/cl100k_base") };
const prompts = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = {};
for (const [name, rank] of Object.entries(ranks)) {
  const enc = new Tiktoken(rank.default || rank);
  out[name] = prompts.map((messages) =>
    messages.reduce((n, m) => n + 3 + enc.encode(m.content).length + enc.encode(m.role).length, 3));
}
console.log(JSON.stringify(out));
"""


def tiktoken_counts(node_modules: Path, prompts: list[list[dict[str, str]]]) -> list[dict[str, int]]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as file:
        json.dump(prompts, file, ensure_ascii=False)
        file.flush()
        found = subprocess.run(
            ["node", "-e", NODE_COUNT, str(node_modules.parent), file.name],
            capture_output=True,
            text=True,
            check=True,
        )
    by_encoding = json.loads(found.stdout)
    return [{name: counts[i] for name, counts in by_encoding.items()} for i in range(len(prompts))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiktoken-js", type=Path, default=None, help="node_modules with js-tiktoken")
    args = parser.parse_args()
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
    build_v3 = v3_build_request()
    for label, render in (
        ("old English (v1)", lambda t: old_messages(t, day)),
        *(
            (f"v3 {lang} (historical_case_v3_{lang})", lambda t, lang=lang: build_v3(  # type: ignore[attr-defined]
                day, t, analogs, INDICES, lang, 1
            ).messages)
            for lang in ("ko", "en")
        ),
        *(
            (f"grounded {lang} ({PROMPT_VERSIONS[lang]})", lambda t, lang=lang: build_request(
                day, t, analogs, INDICES, lang, 1
            ).messages)
            for lang in ("ko", "en")
        ),
    ):  # fmt: skip
        prompts = [render(t) for t in themes]
        per = [counts(messages) for messages in prompts]
        if args.tiktoken_js:
            per = [
                {**p, **real} for p, real in zip(per, tiktoken_counts(args.tiktoken_js, prompts), strict=True)
            ]
        totals[label] = {k: sum(p[k] for p in per) for k in per[0]}
    old = totals["old English (v1)"]
    print(f"bench_prompt_tokens: {len(themes)} themes of {day} (input tokens of the day's prompts)")
    for label, total in totals.items():
        ratios = ", ".join(f"{k} {v:,} ({v / old[k]:.2f}x)" for k, v in total.items())
        print(f"  {label:40} {ratios}")
    ko = totals[f"grounded ko ({PROMPT_VERSIONS['ko']})"]
    for base_label in ("v3 ko (historical_case_v3_ko)", "old English (v1)"):
        base = totals[base_label]
        for key in ko:
            ratio = ko[key] / base[key]
            print(
                f"Korean {PROMPT_VERSIONS['ko']} / {base_label}, {key}: {ratio:.2f}x "
                f"(target <= {TARGET_RATIO}x: {'MET' if ratio <= TARGET_RATIO else 'MISSED'})"
            )
    llm = LLM(model=DEFAULT_MODEL)
    v3 = totals["v3 ko (historical_case_v3_ko)"]
    key = "o200k" if "o200k" in ko else "cl100k-ish"  # the default model's own encoding when counted
    print(
        f"input USD per day at {DEFAULT_MODEL}'s list price (${llm.input_usd_per_million_tokens}/M in), "
        f"{key}: ko v4 {llm.estimated_cost_usd(ko[key], 0):.5f}, "
        f"ko v3 {llm.estimated_cost_usd(v3[key], 0):.5f}, "
        f"old {llm.estimated_cost_usd(old[key], 0):.5f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
