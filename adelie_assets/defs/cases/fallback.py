"""A plain case written by code, for a theme whose answers were all rejected (docs/cases.md, "One
stubborn theme"): about the nearest analog of the theme's first stock, stating only its facts, so
that the day keeps its five cases and the app's Home its five keywords. It is judged like an answer,
never cached, and a re-run of the day asks the model again for that theme."""

from __future__ import annotations

from typing import Any

from adelie_assets.defs.cases.prompt import EXAMPLE_KRW, INDEX_LABELS, CaseRequest, regime_of
from adelie_assets.defs.cases.schema import HistoricalCase

FALLBACK_MODEL = "code"  # the `model` of a case written here
FALLBACK_VERSION = "fallback_v1"  # its `prompt_version`


def _pct(value: Any) -> str | None:
    return None if value is None or value != value else f"{round(float(value), 2):g}%"


def _date_ko(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{year}년 {int(month)}월 {int(day)}일"


def _section(bullets: list[str | None], content: list[str | None], spare: str = "") -> dict[str, Any]:
    """A section of the bullets and sentences whose figures are known (`spare` when none is)."""
    return {"bullets": [b for b in bullets if b] or [spare], "content": " ".join(c for c in content if c)}


def _figures(request: CaseRequest) -> dict[str, Any]:
    analog = next(iter(request.offered.values()))
    past = analog["features"]["analog"]
    of_stock = analog["subject_kind"] == "stock"
    after = {n: analog[f"after_{n}_pct"] for n in (5, 20, 60)}
    after60 = after[60]
    value60 = None if after60 is None else round(EXAMPLE_KRW * (1 + round(float(after60), 2) / 100))
    return {
        "id": analog["analog_id"],
        "iso": str(analog["analog_date"])[:10],
        "who": INDEX_LABELS[request.language].get(analog["analog_name"], analog["analog_name"]),
        "today": analog["subject_name"],
        "sync": round(float(analog["similarity"])),
        "day": _pct(past.get("change_1d_pct")),
        "d20": _pct(past.get("change_20d_pct")),
        "after": {n: _pct(v) for n, v in after.items()},
        "index60": _pct(analog["index_after_60_pct"]) if of_stock else None,
        "value60": value60,
        "episode": regime_of(analog).get("episode"),
    }


def _korean(f: dict[str, Any], label: str) -> dict[str, Any]:
    when, year = _date_ko(f["iso"]), f["iso"][:4]
    a5, a20, a60 = f["after"][5], f["after"][20], f["after"][60]
    return {
        "title": f"{label} - {year}년 {f['who']}의 닮은 국면",
        "summary": f"{when} {f['who']}의 움직임은 오늘의 {f['today']}와 유사도 {f['sync']}로 닮았습니다."
        + (f" 그 뒤 20거래일 동안 주가는 {a20} 움직였습니다." if a20 else ""),
        "narrative": {
            "background": _section(
                [
                    f"당일 등락률 {f['day']}" if f["day"] else None,
                    f"직전 20거래일 누적 {f['d20']}" if f["d20"] else None,
                ],
                [
                    f"{when}, {f['who']}의 주가는 크게 움직였습니다.",
                    f"그날 등락률은 {f['day']}였습니다." if f["day"] else None,
                    f"그때는 {e['episode_name_ko']}({_date_ko(e['episode_start'])}~"
                    f"{_date_ko(e['episode_end'])}) 시기였습니다."
                    if (e := f["episode"])
                    else None,
                ],
                "과거의 한 거래일",
            ),
            "mirroring": _section(
                ["가격과 거래의 모양이 닮았습니다"],
                [f"오늘의 {f['today']}처럼 당시에도 짧은 기간에 가격이 크게 움직였습니다."],
            ),
            "difference": _section(
                ["시장 환경과 업종 구성이 다릅니다"],
                ["같은 모양의 움직임이라도 그 배경이 되는 시장 환경은 매번 다릅니다."],
            ),
            "devils_advocate": _section(
                [
                    "가격 움직임이 닮았다고 원인까지 같은 것은 아닙니다",
                    "과거 한 번의 결과로 미래를 단정할 수 없습니다",
                    "지수의 흐름이 다르면 같은 종목도 다르게 움직입니다",
                ],
                ["유사도는 숫자의 모양이 닮았다는 뜻일 뿐, 같은 결과를 보장하지 않습니다."],
            ),
            "simulation": _section(
                [f"5거래일 뒤 {a5}" if a5 else None, f"20거래일 뒤 {a20}" if a20 else None],
                [
                    "그날 종가에 샀다면 그 뒤의 등락을 그대로 겪었습니다.",
                    f"100만 원이었다면 60거래일 뒤 평가액은 {f['value60']:,}원이었습니다."
                    if f["value60"]
                    else None,
                ],
                "그 뒤의 흐름",
            ),
            "result": _section(
                [f"60거래일 뒤 {a60}" if a60 else "그 뒤의 결과"],
                [
                    f"60거래일 뒤 주가는 {a60} 움직였습니다."
                    if a60
                    else "그 뒤의 결과는 표에서 확인할 수 있습니다.",
                    f"같은 기간 지수는 {f['index60']} 움직였습니다." if f["index60"] else None,
                ],
            ),
            "action": _section(
                ["분할 매수와 손절 기준을 미리 정합니다"],
                ["급변동 뒤에는 추격 매수보다 계획을 세우고 나누어 대응하는 편이 안전합니다."],
            ),
        },
        "key_insight": "닮은 국면이라도 결과는 매번 다르므로, 데이터로 확인하고 계획을 세워 대응해야 합니다.",
        "glossary": [
            {
                "term": "유사도",
                "definition": "오늘과 과거 국면의 지표가 얼마나 닮았는지 0에서 100으로 나타낸 값.",
            },
            {"term": "분할 매수", "definition": "한 번에 사지 않고 여러 번에 나누어 사는 방법."},
        ],
    }


def _english(f: dict[str, Any], label: str) -> dict[str, Any]:
    year = f["iso"][:4]
    a5, a20, a60 = f["after"][5], f["after"][20], f["after"][60]
    return {
        "title": f"{label} - {f['who']} in {year}: a similar setup",
        "summary": f"On {f['iso']} {f['who']} moved like today's {f['today']} (similarity {f['sync']})."
        + (f" Over the next 20 trading days the stock moved {a20}." if a20 else ""),
        "narrative": {
            "background": _section(
                [f"Day change {f['day']}" if f["day"] else "One past trading day"],
                [
                    f"On {f['iso']} the price of {f['who']} moved sharply.",
                    f"It was during the {e['episode_name_en']} ({e['episode_start']} to {e['episode_end']})."
                    if (e := f["episode"])
                    else None,
                ],
            ),
            "mirroring": _section(
                ["Price and trading took a similar shape"],
                [f"Like {f['today']} today, the price moved a lot in a short time."],
            ),
            "difference": _section(
                ["The market backdrop differs"],
                ["The same shape of move happens against a different market backdrop every time."],
            ),
            "devils_advocate": _section(
                [
                    "Similar price moves need not share a cause",
                    "One past outcome cannot settle the future",
                    "A different index trend changes how a stock moves",
                ],
                ["Similarity says the numbers look alike; it does not promise the same outcome."],
            ),
            "simulation": _section(
                [f"After 5 trading days {a5}" if a5 else "What followed"],
                [
                    "Buying at that close meant living through the moves that followed.",
                    f"KRW 1,000,000 would have been worth KRW {f['value60']:,} after 60 trading days."
                    if f["value60"]
                    else None,
                ],
            ),
            "result": _section(
                [f"After 60 trading days {a60}" if a60 else "The outcome"],
                [
                    f"After 60 trading days the stock had moved {a60}."
                    if a60
                    else "The outcome is in the table.",
                    f"Its index moved {f['index60']} over the same span." if f["index60"] else None,
                ],
            ),
            "action": _section(
                ["Plan entries and exits in advance"],
                ["After a sharp move, a plan and staged orders beat chasing the price."],
            ),
        },
        "key_insight": "Even in a similar setup the outcome differs each time: check the data, plan ahead.",
        "glossary": [
            {
                "term": "similarity",
                "definition": "How alike today's and the past setup's measures are, 0 to 100.",
            },
            {"term": "staged buying", "definition": "Buying in several smaller orders instead of one."},
        ],
    }


def fallback_case(request: CaseRequest) -> HistoricalCase:
    """The plain case of `request`'s theme, from its first offered analog's facts."""
    figures = _figures(request)
    write = _korean if request.language == "ko" else _english
    return HistoricalCase.model_validate({**write(figures, request.label), "analog_id": figures["id"]})
