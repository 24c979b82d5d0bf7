"""A case writer that writes as a small, fast model does on a busy day (issue 34): fluent Korean,
rounded figures, "약 한 달", a comparison with the index in %p, KRX's price limit, an example amount
of 100만 원, a word on what the company does, and now and then a mistake real models make.

This is the replay corpus: the sentences below are the answers' style, and `MISTAKES` the slips
(a wrong year, an arbitrary example amount, a gap between figures that are not both given, a
rounding that is not one). Fault ``realistic``: the first answer to a request holds one slip when
its seed says so (``FIRST_ANSWER_SLIPS`` of 100: half of the first answers); an answer to a repair
turn (the request, the rejected answer, then a user turn quoting the problems) rewrites each
sentence that holds a quoted token without it, as a model does, and slips again
``REPAIR_SLIPS`` times in 100. Korean prompts only; an English request gets the plain writer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from adelie_fakes.openai.cases import _date_ko, _table

FIRST_ANSWER_SLIPS: Final = 50
REPAIR_SLIPS: Final = 10
MISTAKES: Final = ("wrong_year", "example_amount", "underived_gap", "bad_rounding")

_STOCK_HEADER = re.compile(r"^종목\(코드\)\|.*$", re.MULTILINE)
_INDEX_LINE = re.compile(r"^지수: \S+ [-\d.]+ \(([-\d.]+)%\)", re.MULTILINE)
_QUOTED = re.compile(r"'([^']+)'")


def _stock_rows(text: str) -> list[dict[str, str]]:
    match = _STOCK_HEADER.search(text)
    if not match:
        return []
    header = match.group(0).split("|")
    rows = []
    for line in text[match.end() :].strip("\n").splitlines():
        cells = line.split("|")
        if len(cells) != len(header):
            break
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def _num(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _round(value: float, decimals: int = 0) -> str:
    return f"{value:.{decimals}f}" if decimals else f"{round(value)}"


def _subject(row: Mapping[str, str]) -> str:
    return row["subject"].split("(")[0]


def _write(row: Mapping[str, str], stocks: Sequence[Mapping[str, str]], index_day_today: str | None) -> dict:
    when, year = _date_ko(row["date"])
    who, subject = row["analog"].split("(")[0], _subject(row)
    day, after5, after20, after60 = (_num(row[k]) or 0.0 for k in ("day", "after5", "after20", "after60"))
    index60 = _num(row.get("index60", "-"))
    stock = next((s for s in stocks if s["종목(코드)"].startswith(subject)), stocks[0] if stocks else None)
    mirroring = [f"거래량이 평소의 약 {_round(_num(row['volume']) or 1)}배로 늘었다"]
    if stock is not None and index_day_today is not None:
        # The model's own arithmetic: today's change minus the index's, in %p.
        gap = (_num(stock["등락률"]) or 0.0) - float(index_day_today)
        mirroring.append(f"오늘 {subject}는 지수보다 {gap:.2f}%p 더 움직였다")
    value60 = round(1_000_000 * (1 + after60 / 100) / 10_000)
    result = f"약 석 달 뒤 주가는 {row['after60']}% 움직였다."
    if index60 is not None:
        result += (
            f" 같은 기간 지수는 {row['index60']}%로, 주가가 지수보다 약 {_round(after60 - index60)}%p 앞섰다."
        )
    background = f"{when}, {who}는 하루에 {_round(day, 1)}% 움직이며 시장의 눈길을 끌었다."
    if row.get("index_day", "-") != "-":
        background += f" 같은 날 지수는 {row['index_day']}% 변했다."
    return {
        "title": f"{year} {who}의 급변동, 약 한 달의 교훈",
        "summary": (
            f"{when} {who}의 움직임은 오늘의 {subject}와 유사도 {row['sync']}로 닮았다. "
            f"그 뒤 약 한 달 동안 주가는 약 {_round(after20)}% 움직였다."
        ),
        "narrative": {
            "background": {
                "bullets": [f"당일 약 {_round(day)}% 변동", f"직전 20거래일 누적 {row['d20']}%"],
                "content": background + " 회사는 본업의 실적 기대가 커지던 때였다.",
            },
            "mirroring": {
                "bullets": mirroring,
                "content": f"오늘의 {subject}처럼 당시에도 거래가 몰리며 가격이 하루 만에 크게 움직였다.",
            },
            "difference": {
                "bullets": ["회사가 하는 일과 업종의 위치가 다르다", "금리와 환율 환경이 다르다"],
                "content": "닮은 것은 가격의 모양이지 회사의 사업과 시장의 분위기까지 같은 것은 아니다.",
            },
            "devils_advocate": {
                "bullets": [
                    "가격 움직임이 닮았다고 원인까지 같지는 않다",
                    "과거 한 번의 결과로 앞날을 단정할 수 없다",
                    "KRX 가격제한폭(±30%) 안에서도 하루 변동은 얼마든지 달라진다",
                ],
                "content": "유사도는 숫자의 모양이 닮았다는 뜻일 뿐, 같은 결과를 약속하지 않는다.",
            },
            "simulation": {
                "bullets": [f"약 일주일 뒤 {row['after5']}%", f"약 한 달 뒤 {row['after20']}%"],
                "content": (
                    f"그날 종가에 100만 원을 넣었다면 약 석 달 뒤 평가액은 약 {value60}만 원이었다. "
                    f"그 사이 약 일주일 뒤에는 {_round(after5, 1)}%를 겪었다."
                ),
            },
            "result": {"bullets": [f"약 석 달 뒤 {row['after60']}%"], "content": result},
            "action": {
                "bullets": ["분할 매수와 손절 기준을 미리 정한다"],
                "content": "급변동 뒤에는 추격 매수보다 계획을 세우고 나누어 대응하는 편이 안전하다.",
            },
        },
        "key_insight": "닮은 국면에서도 결과는 그때그때 달랐으니 데이터로 확인해야 한다.",
        "glossary": [
            {"term": "%p", "definition": "두 비율의 차이를 나타내는 단위, 퍼센트포인트."},
            {"term": "상한가", "definition": "하루에 오를 수 있는 가장 높은 가격, 전날 종가의 +30%."},
        ],
    }


def _slip(case: dict, row: Mapping[str, str], kind: str) -> None:
    """One mistake a real model makes, in a sentence of its own."""
    year = 2011 if row["date"].startswith("2008") else 2008
    narrative = case["narrative"]
    if kind == "wrong_year":
        case["summary"] += f" {year}년 금융위기 때와도 비슷한 흐름이다."
    elif kind == "example_amount":
        narrative["simulation"]["content"] += " 1000원어치를 샀어도 같은 비율로 움직였다."
    elif kind == "underived_gap":
        gap = (_num(row["d5"]) or 0.0) - (_num(row.get("index_day", "-")) or 0.37)
        narrative["mirroring"]["content"] += f" 5일 수익률은 지수보다 {gap + 0.07:.2f}%p 높았다."
    else:  # a rounding that is not one
        narrative["result"]["content"] += f" 한 달 수익률은 {(_num(row['after20']) or 0.0) + 0.3:.1f}%였다."


def _repair(previous: dict, problems: str) -> dict:
    """The previous answer with every sentence (or bullet) that states a quoted token said without it."""
    tokens = _QUOTED.findall(problems)

    def fix(text: str, filler: str) -> str:
        sentences = re.split(r"(?<=[.!?])\s+", text)
        kept = [s for s in sentences if not any(t in s for t in tokens)]
        fixed = " ".join(kept)
        return fixed if len(fixed) >= 20 or fixed == text else (fixed + " " + filler).strip()

    case = json.loads(json.dumps(previous))
    case["title"] = fix(case["title"], "과거의 닮은 국면")
    case["summary"] = fix(case["summary"], "그때와 지금은 닮은 점이 많지만 결과는 따로 확인해야 한다.")
    case["key_insight"] = fix(case["key_insight"], "결과는 언제나 데이터로 확인해야 한다.")
    for name, section in case["narrative"].items():
        section["content"] = fix(
            section["content"], f"이 부분은 표의 수치로 직접 확인하는 편이 낫다({name})."
        )
        section["bullets"] = [
            b if not any(t in b for t in tokens) else f"수치보다 흐름을 보자 ({name} {i + 1})"
            for i, b in enumerate(section["bullets"])
        ]
    return case


def write_realistic(messages: Sequence[Mapping[str, Any]], seed: int) -> dict | None:
    """The realistic answer to a case request, or None when it is not a Korean one."""
    users = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    rows = _table(users[0]) if users else []
    if not rows or not re.search(r"[\uac00-\ud7a3]", users[0]):
        return None
    theme = re.search(r"테마: (.+)$", users[0], re.MULTILINE)
    repaired = (
        len(messages) >= 2 and messages[-1].get("role") == "user" and messages[-2].get("role") == "assistant"
    )
    if repaired:
        previous = json.loads(str(messages[-2].get("content")))
        case = _repair(previous, users[-1])
        row = next((r for r in rows if r["id"] == previous.get("analog_id")), rows[0])
        slips = seed % 100 < REPAIR_SLIPS
    else:
        row = rows[seed % len(rows)]
        index_today = _INDEX_LINE.search(users[0])
        case = _write(row, _stock_rows(users[0]), index_today.group(1) if index_today else None)
        if theme:
            case["title"] = f"{theme.group(1).strip()} - {case['title']}"[:200]
        slips = seed % 100 < FIRST_ANSWER_SLIPS
    case["analog_id"] = row["id"]
    if slips:
        _slip(case, row, MISTAKES[(seed // 100) % len(MISTAKES)])
    return case
