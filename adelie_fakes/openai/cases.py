"""The fake's historical-case writer: reads the candidate analogs from the prompt and writes a case
about one of them that states only the numbers it was given (contract: issue 12, docs/analogs.md).

A request is a case request when its JSON schema has an ``analog_id`` property and its user message
holds the candidates table (a header line starting ``id|``). Korean when the system prompt is Korean.
Faults: ``invented_number`` (a percentage that is in no fact), ``unknown_analog_id`` (an id that was
not offered), ``english_text`` (English although Korean was asked).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

INVENTED_NUMBER: Final = "37.77"
UNKNOWN_ANALOG_ID: Final = "999999-9"
CASE_FAULTS: Final = ("invented_number", "unknown_analog_id", "english_text")

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
# The candidates table's columns by their header names (prompt v2 to v4, both languages); v3 has
# no subject column (the id's prefix names it) and of the index's outcomes only the 60-day one.
_HEADER_KEYS: Final = {
    "id": "id", "오늘의 종목": "subject", "today's stock": "subject",
    "과거 종목(코드)": "analog", "past stock(code)": "analog", "날짜": "date", "date": "date",
    "유사도": "sync", "similarity": "sync", "당일": "day", "day": "day", "5일": "d5", "5d": "d5",
    "20일": "d20", "20d": "d20", "거래량배수": "volume", "volume ratio": "volume",
    "지수당일": "index_day", "index day": "index_day", "이후5일": "after5", "이후5": "after5",
    "after 5": "after5", "이후20일": "after20", "이후20": "after20", "after 20": "after20",
    "이후60일": "after60", "이후60": "after60", "after 60": "after60", "지수5일": "index5",
    "index 5": "index5", "지수20일": "index20", "index 20": "index20", "지수60일": "index60",
    "지수60": "index60", "index 60": "index60",
    # v4 (issue 33): the size, the regime, the episode's key and the path's extremes.
    "배수": "volume", "vol x": "volume", "국면": "episode", "episode": "episode", "시총": "cap",
    "cap": "cap", "지수": "index", "index": "index", "1년": "index1y", "1y": "index1y", "고점": "from_high",
    "from high": "from_high", "저60": "low60", "low 60": "low60", "고60": "high60", "high 60": "high60",
}  # fmt: skip
# v4's episode lines under the candidates: "국면 A: 코로나19 폭락 2020-01-22~2020-03-19".
_EPISODE_LINE = re.compile(
    r"^(?:국면|episode) ([A-J]): (.+) (\d{4}-\d{2}-\d{2})~(\d{4}-\d{2}-\d{2})$", re.MULTILINE
)
_EXTREME = re.compile(r"^(-?[\d.]+)\((\d+)\)$")
_STOCK_CELL = re.compile(r"^(.+)\((\d{6}|\d{5}[A-Z])\)\|", re.MULTILINE)


def is_case_request(schema: Mapping[str, Any] | None, user_texts: Sequence[str]) -> bool:
    properties = (schema or {}).get("properties") or {}
    return "analog_id" in properties and any(_table(t) for t in user_texts)


def _table(text: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("id|"):
            columns = [_HEADER_KEYS.get(name, name) for name in line.split("|")]
            rows = []
            for row in lines[i + 1 :]:
                cells = row.split("|")
                if len(cells) != len(columns):
                    break
                rows.append(dict(zip(columns, cells, strict=True)))
            episodes = {m.group(1): m.groups()[1:] for m in _EPISODE_LINE.finditer(text)}
            for row in rows:
                # A model names the episode its candidate sat in, with the dates it was given.
                row["episode_name"], row["episode_start"], row["episode_end"] = episodes.get(
                    row.get("episode", "-"), ("", "", "")
                )
            if "subject" not in columns:
                names = {ticker: name for name, ticker in _STOCK_CELL.findall(text)}
                for row in rows:
                    # "005930-1" is 삼성전자's; an index's candidate ("KOSPI-1") is the index itself.
                    row["subject"] = names.get(row["id"].rsplit("-", 1)[0], row["analog"])
            return rows
    return []


def _date_ko(iso: str) -> tuple[str, str]:
    year, month, day = iso.split("-")
    return f"{year}년 {int(month)}월 {int(day)}일", f"{year}년"


def _date_en(iso: str) -> tuple[str, str]:
    months = "January February March April May June July August September October November December".split()
    year, month, day = iso.split("-")
    return f"{months[int(month) - 1]} {int(day)}, {year}", year


def _pct(value: str) -> str:
    return "-" if value == "-" else f"{value}%"


_THEME = re.compile(r"(?:테마|Theme): (.+)$", re.MULTILINE)


def write_case(user_texts: Sequence[str], system_texts: Sequence[str], seed: int, fault: str | None) -> dict:
    rows = next(t for t in (_table(x) for x in user_texts) if t)
    row = rows[seed % len(rows)]
    korean = any(_HANGUL.search(t) for t in system_texts) and fault != "english_text"
    case = _korean(row) if korean else _english(row)
    theme = next((m.group(1).strip() for m in map(_THEME.search, user_texts) if m), None)
    if theme:  # a day's titles differ by theme
        case["title"] = f"{theme} - {case['title']}"[:200]
    case["analog_id"] = UNKNOWN_ANALOG_ID if fault == "unknown_analog_id" else row["id"]
    if fault == "invented_number":
        case["summary"] += (
            f" 당시 거래대금은 {INVENTED_NUMBER}% 늘었다."
            if korean
            else f" Turnover rose {INVENTED_NUMBER}%."
        )
    return case


def _section(bullets: list[str], content: str) -> dict[str, Any]:
    return {"bullets": bullets, "content": content}


def _extremes(r: Mapping[str, str]) -> tuple[tuple[str, str], tuple[str, str]] | None:
    """((lowest %, its day), (highest %, its day)) within 60 trading days, when the prompt gives them."""
    low, high = (_EXTREME.match(r.get(k, "-")) for k in ("low60", "high60"))
    return None if low is None or high is None else ((low[1], low[2]), (high[1], high[2]))


def _setting(r: Mapping[str, str], written: Callable[[str], tuple[str, str]], sentence: str) -> str:
    """The sentence naming the candidate's market episode with its dates, or "" without one."""
    if not r.get("episode_name"):
        return ""
    start, end = written(r["episode_start"])[0], written(r["episode_end"])[0]
    return sentence.format(name=r["episode_name"], start=start, end=end)


def _korean(r: Mapping[str, str]) -> dict[str, Any]:
    when, year = _date_ko(r["date"])
    who, episode = r["analog"], r.get("episode_name")
    setting = _setting(r, _date_ko, "그때는 {name}({start}~{end})의 한가운데였다. ")
    path = _extremes(r)
    return {
        # An episode's name may start with its year ("2025년 코스피 4000 돌파 랠리"): not said twice.
        "title": f"{'' if episode.startswith(year) else year + ' '}{episode}, {who}의 교훈"
        if episode
        else f"{year} {who}: 닮은 꼴 국면의 교훈",
        "summary": (
            f"{when} {who}의 움직임은 오늘의 {r['subject']}와 유사도 {r['sync']}로 닮았다. "
            f"그 뒤 20거래일 동안 주가는 {_pct(r['after20'])} 움직였다."
        ),
        "narrative": {
            "background": _section(
                [f"{when} 당일 등락률 {_pct(r['day'])}", f"직전 20거래일 누적 {_pct(r['d20'])}"],
                setting
                + f"{when}, {who}는 하루에 {_pct(r['day'])} 움직였다."
                + ("" if r["index_day"] == "-" else f" 그날 지수는 {_pct(r['index_day'])} 변했다."),
            ),
            "mirroring": _section(
                [f"거래량은 20일 평균의 {r['volume']}배", f"5거래일 누적 {_pct(r['d5'])}"],
                f"오늘의 {r['subject']}처럼 당시에도 거래가 몰리며 가격이 크게 움직였다.",
            ),
            "difference": _section(
                ["시장 환경과 업종 구성이 다르다"],
                "같은 모양의 움직임이라도 그 배경이 되는 시장 환경은 매번 다르다는 점을 기억해야 한다.",
            ),
            "devils_advocate": _section(
                [
                    "가격 움직임이 닮았다고 원인까지 같은 것은 아니다",
                    "과거 한 번의 결과로 미래를 단정할 수 없다",
                    "지수 흐름이 다르면 같은 종목도 다르게 움직인다",
                ],
                "유사도는 숫자의 모양이 닮았다는 뜻일 뿐, 같은 결과를 보장하지 않는다.",
            ),
            "simulation": _section(
                [f"5거래일 뒤 {_pct(r['after5'])}", f"20거래일 뒤 {_pct(r['after20'])}"],
                f"그날 종가에 샀다면 5거래일 뒤 {_pct(r['after5'])}, "
                f"20거래일 뒤 {_pct(r['after20'])}를 겪었다."
                + (
                    f" 60거래일 안에 {path[0][1]}거래일째 {_pct(path[0][0])}까지 밀렸고, "
                    f"{path[1][1]}거래일째 {_pct(path[1][0])}까지 올랐다."
                    if path
                    else ""
                ),
            ),
            "result": _section(
                [f"60거래일 뒤 {_pct(r['after60'])}", f"같은 기간 지수 {_pct(r['index60'])}"],
                f"60거래일 뒤 주가는 {_pct(r['after60'])}, 지수는 {_pct(r['index60'])} 움직였다.",
            ),
            "action": _section(
                ["분할 매수와 손절 기준을 미리 정한다"],
                "급변동 뒤에는 추격 매수보다 계획을 세우고 나누어 대응하는 편이 안전하다.",
            ),
        },
        "key_insight": f"닮은 국면에서도 결과는 {_pct(r['after60'])}처럼 데이터로 확인해야 한다.",
        "glossary": [
            {"term": "거래량배수", "definition": "그날 거래량을 직전 20거래일 평균 거래량으로 나눈 값."},
            {
                "term": "유사도",
                "definition": "오늘과 과거 국면의 지표가 얼마나 닮았는지 0에서 100으로 나타낸 값.",
            },
        ],
    }


def _english(r: Mapping[str, str]) -> dict[str, Any]:
    when, year = _date_en(r["date"])
    who, episode = r["analog"], r.get("episode_name")
    setting = _setting(r, _date_en, "It was in the middle of the {name} ({start} to {end}). ")
    path = _extremes(r)
    return {
        "title": f"{episode}: {who} in {year}"
        if episode
        else f"{who} in {year}: lessons from a similar setup",
        "summary": (
            f"On {when} {who} moved like today's {r['subject']} (similarity {r['sync']}). "
            f"Over the next 20 trading days the stock moved {_pct(r['after20'])}."
        ),
        "narrative": {
            "background": _section(
                [f"Day change {_pct(r['day'])}", f"20-day change before it {_pct(r['d20'])}"],
                setting
                + f"On {when} {who} moved {_pct(r['day'])}."
                + ("" if r["index_day"] == "-" else f" Its index moved {_pct(r['index_day'])} that day."),
            ),
            "mirroring": _section(
                [f"Volume {r['volume']} times its 20-day average", f"5-day change {_pct(r['d5'])}"],
                f"Like {r['subject']} today, trading crowded in and the price moved sharply.",
            ),
            "difference": _section(
                ["The market backdrop differs"],
                "The same shape of move happens against a different market backdrop every time.",
            ),
            "devils_advocate": _section(
                [
                    "Similar price moves need not share a cause",
                    "One past outcome cannot settle the future",
                    "A different index trend changes how a stock moves",
                ],
                "Similarity says the numbers look alike; it does not promise the same outcome.",
            ),
            "simulation": _section(
                [f"After 5 trading days {_pct(r['after5'])}", f"After 20 trading days {_pct(r['after20'])}"],
                f"Buying at that close meant {_pct(r['after5'])} after 5 days, "
                f"{_pct(r['after20'])} after 20."
                + (
                    f" Within 60 trading days it fell to {_pct(path[0][0])} on day {path[0][1]} "
                    f"and rose to {_pct(path[1][0])} on day {path[1][1]}."
                    if path
                    else ""
                ),
            ),
            "result": _section(
                [
                    f"After 60 trading days {_pct(r['after60'])}",
                    f"Index over the same span {_pct(r['index60'])}",
                ],
                f"After 60 trading days the stock had moved {_pct(r['after60'])}, "
                f"the index {_pct(r['index60'])}.",
            ),
            "action": _section(
                ["Plan entries and exits in advance"],
                "After a sharp move, a plan and staged orders beat chasing the price.",
            ),
        },
        "key_insight": f"Even in a similar setup the outcome ({_pct(r['after60'])} here) must be checked.",
        "glossary": [
            {
                "term": "volume ratio",
                "definition": "The day's volume divided by the average of the 20 days before.",
            },
            {
                "term": "similarity",
                "definition": "How alike today's and the past setup's measures are, 0 to 100.",
            },
        ],
    }
