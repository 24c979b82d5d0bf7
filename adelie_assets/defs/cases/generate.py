"""Turning one theme into one validated historical case: prompt, cache key, bounded retries."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from pydantic import ValidationError

from adelie_assets.defs.cases.schema import GroundingError, HistoricalCase, check_grounding
from adelie_assets.defs.cases.themes import Theme
from adelie_assets.resources.llm import LLM

PROMPT_VERSION = "historical_case_v1"


class CaseGenerationError(Exception):
    """No valid case for a theme after the allowed attempts; the message lists each attempt's problem."""


# A prompt version and the schema never change within a process; both are needed twice per theme
# (cache lookup, then the call), so read and build each once.
@cache
def _prompt_sections(version: str) -> dict[str, str]:
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


def render_messages(theme: Theme, day: date, version: str = PROMPT_VERSION) -> list[dict[str, str]]:
    sections = _prompt_sections(version)
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


@cache
def _case_schema() -> dict[str, Any]:
    return HistoricalCase.model_json_schema()


def request_hash(model: str, version: str, messages: list[dict[str, str]]) -> str:
    payload = json.dumps(
        {
            "model": model,
            "prompt_version": version,
            "schema": _case_schema(),
            "messages": messages,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class CaseResult:
    day: date
    theme: Theme
    case: HistoricalCase
    request_hash: str
    model: str
    cached: bool
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    request_ids: list[str] = field(default_factory=list)


def first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ())) or "answer"
    return f"{where}: {error.get('msg', 'invalid')}"


def judge_answer(parsed: HistoricalCase | None, refusal: str | None, allowed: set[str]) -> str | None:
    """Why a parsed answer cannot be stored, or None when it can. Shared by the sync and batch paths."""
    if refusal or parsed is None:
        return f"the model refused ({(refusal or 'no content')[:120]})"
    try:
        check_grounding(parsed, allowed)
    except GroundingError as exc:
        return f"ungrounded answer ({exc})"
    return None


def from_cache(
    llm: LLM, day: date, theme: Theme, cached_response: dict[str, Any] | None
) -> tuple[CaseResult | None, str, list[dict[str, str]]]:
    """The cached case for this exact request, if any, plus the request's hash and messages."""
    messages = render_messages(theme, day)
    key = request_hash(llm.model, PROMPT_VERSION, messages)
    if cached_response is not None:
        try:
            case = HistoricalCase.model_validate(cached_response)
            if judge_answer(case, None, set(theme.tickers)) is None:
                return CaseResult(day, theme, case, key, llm.model, cached=True), key, messages
        except ValidationError:
            pass  # a cache entry from looser rules: ask again
    return None, key, messages


def generate_case(
    llm: LLM,
    day: date,
    theme: Theme,
    max_attempts: int,
    cached_response: dict[str, Any] | None = None,
) -> CaseResult:
    """A case for `theme`, from the cache when the same request was answered before, else from the LLM.

    Refusals, truncation, bad JSON and ungrounded answers are retried up to `max_attempts` times;
    HTTP-level retries (429/5xx/timeouts) are the SDK's. Tokens of failed attempts are counted too.
    """
    import openai

    cached, key, messages = from_cache(llm, day, theme, cached_response)
    if cached is not None:
        return cached
    allowed = set(theme.tickers)
    result = CaseResult(day, theme, case=None, request_hash=key, model=llm.model, cached=False)  # type: ignore[arg-type]
    problems: list[str] = []
    for attempt in range(1, max_attempts + 1):
        result.calls += 1
        try:
            answer = llm.parse(messages, HistoricalCase)
        except openai.LengthFinishReasonError as exc:
            usage = getattr(exc.completion, "usage", None)
            if usage:
                result.input_tokens += usage.prompt_tokens
                result.output_tokens += usage.completion_tokens
            problems.append(f"attempt {attempt}: answer truncated (finish_reason=length)")
            continue
        except ValidationError as exc:
            problems.append(f"attempt {attempt}: answer is not a valid case ({first_error(exc)})")
            continue
        result.input_tokens += answer.input_tokens
        result.output_tokens += answer.output_tokens
        result.model = answer.model
        if answer.request_id:
            result.request_ids.append(answer.request_id)
        problem = judge_answer(answer.parsed, answer.refusal, allowed)
        if problem:
            problems.append(f"attempt {attempt}: {problem}")
            continue
        result.case = answer.parsed
        return result
    raise CaseGenerationError(give_up_message(day, theme, max_attempts, problems))


def give_up_message(day: date, theme: Theme, attempts: int, problems: list[str]) -> str:
    return f"{day} theme {theme.rank} '{theme.label}': no valid case after {attempts} attempts: " + "; ".join(
        problems
    )
