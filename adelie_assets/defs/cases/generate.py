"""Turning one theme's request into one validated case: cache key, bounded retries, judging.

An answer is stored only when it picks an offered analog, is in the requested language and states
no number outside the facts it was given (docs/analogs.md, "Grounding rule"); otherwise it is asked
again, up to `max_attempts`, and never cached. The next attempt is a repair turn: the request, the
rejected answer and a message naming what was wrong (the prompt's `repair` section), so that a
model fixes its answer instead of drawing a new one (docs/cases.md, "Repair turn").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from typing import Any

from pydantic import ValidationError

from adelie_assets.defs.cases.fallback import FALLBACK_MODEL, fallback_case
from adelie_assets.defs.cases.grounding import GroundingError, check_analog_id, check_texts
from adelie_assets.defs.cases.prompt import CaseRequest, prompt_sections
from adelie_assets.defs.cases.repetition import hollow_parts
from adelie_assets.defs.cases.schema import HistoricalCase
from adelie_assets.defs.cases.themes import Theme
from adelie_assets.resources.llm import LLM

KOREAN_SHARE = 0.5  # of a Korean case's letters, at least this share must be Hangul


class CaseGenerationError(Exception):
    """No valid case for a theme after the allowed attempts; the message lists each attempt's problem,
    `result` what they cost."""

    def __init__(self, message: str, result: CaseResult) -> None:
        super().__init__(message)
        self.result = result


@cache
def _case_schema() -> dict[str, Any]:
    return HistoricalCase.model_json_schema()


def request_hash(model: str, version: str, messages: list[dict[str, str]]) -> str:
    payload = json.dumps(
        {"model": model, "prompt_version": version, "schema": _case_schema(), "messages": messages},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def request_key(llm: LLM, request: CaseRequest) -> str:
    return request_hash(llm.model, request.prompt_version, request.messages)


@dataclass
class CaseResult:
    request: CaseRequest
    case: HistoricalCase
    request_hash: str
    model: str
    cached: bool
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    request_ids: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # "attempt N: why", for the run's metadata
    by_code: bool = False  # a stand-in written by code (fallback.py): never cached

    @property
    def day(self) -> date:
        return self.request.day

    @property
    def theme(self) -> Theme:
        return self.request.theme


def first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ())) or "answer"
    return f"{where}: {error.get('msg', 'invalid')}"


def hangul_share(texts: list[str]) -> float:
    letters = [c for text in texts for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum("\uac00" <= c <= "\ud7a3" for c in letters) / len(letters)


def judge_answer(parsed: HistoricalCase | None, refusal: str | None, request: CaseRequest) -> str | None:
    """Why a parsed answer cannot be stored, or None when it can. Shared by the sync and batch paths."""
    if refusal or parsed is None:
        return f"the model refused ({(refusal or 'no content')[:120]})"
    try:
        check_analog_id(parsed.analog_id, request.facts)
        if hollow := hollow_parts(parsed):
            return f"hollow answer ({'; '.join(hollow)[:400]})"
        texts = parsed.texts()
        if request.language == "ko" and hangul_share(texts) < KOREAN_SHARE:
            raise GroundingError(
                f"the case is not in Korean ({hangul_share(texts):.0%} of its letters are Hangul)"
            )
        check_texts(texts, request.facts)
    except GroundingError as exc:
        return f"ungrounded answer ({exc})"
    return None


# For a prompt version without a repair section (v3 and before).
_REPAIR = "This answer cannot be stored:\n{problems}\nFix only what is named and give the whole answer again."


def repair_messages(
    request: CaseRequest, messages: list[dict[str, str]], content: str | None, problem: str
) -> list[dict[str, str]]:
    """The conversation so far, the rejected answer (when it arrived whole) and a turn naming what
    was wrong. The conversation grows with each attempt: a model that repeats a rejected answer is
    asked about it again with that history, not with the very request it already answered."""
    template = prompt_sections(request.prompt_version).get("repair", _REPAIR)
    named = "\n".join(f"- {item}" for item in _problem_items(problem))
    answer = [{"role": "assistant", "content": content}] if content else []
    return [*messages, *answer, {"role": "user", "content": template.format(problems=named)}]


def _problem_items(problem: str) -> list[str]:
    """'ungrounded answer (a; b)' -> ['a', 'b']: each problem on its own line of the repair turn."""
    head, _, inner = problem.partition(" (")
    if head in ("ungrounded answer", "hollow answer") and inner.endswith(")"):
        return inner[:-1].split("; ")
    return [problem]


def from_cache(
    llm: LLM, request: CaseRequest, cached_response: dict[str, Any] | None
) -> tuple[CaseResult | None, str]:
    """The cached case for this exact request, if any and still valid, plus the request's hash."""
    key = request_key(llm, request)
    if cached_response is not None:
        try:
            case = HistoricalCase.model_validate(cached_response)
            if judge_answer(case, None, request) is None:
                return CaseResult(request, case, key, llm.model, cached=True), key
        except ValidationError:
            pass  # a cache entry from looser rules: ask again
    return None, key


def generate_case(
    llm: LLM, request: CaseRequest, max_attempts: int, cached_response: dict[str, Any] | None = None
) -> CaseResult:
    """A case for the request, from the cache when the same request was answered before, else the LLM.

    Refusals, truncation, bad JSON and ungrounded answers are retried up to `max_attempts` times,
    each retry a repair turn naming the problem; HTTP-level retries (429/5xx/timeouts) are the SDK's.
    Tokens of failed attempts are counted too.
    """
    import openai

    cached, key = from_cache(llm, request, cached_response)
    if cached is not None:
        return cached
    result = CaseResult(request, case=None, request_hash=key, model=llm.model, cached=False)  # type: ignore[arg-type]
    messages = request.messages
    for attempt in range(1, max_attempts + 1):
        result.calls += 1
        content = None
        try:
            answer = llm.parse(messages, HistoricalCase)
        except openai.LengthFinishReasonError as exc:
            usage = getattr(exc.completion, "usage", None)
            if usage:
                result.input_tokens += usage.prompt_tokens
                result.output_tokens += usage.completion_tokens
            problem = "answer truncated (finish_reason=length): write a shorter answer"
        except ValidationError as exc:
            problem = f"answer is not a valid case ({first_error(exc)})"
        else:
            result.input_tokens += answer.input_tokens
            result.output_tokens += answer.output_tokens
            result.model = answer.model
            if answer.request_id:
                result.request_ids.append(answer.request_id)
            problem = judge_answer(answer.parsed, answer.refusal, request)
            if problem is None:
                result.case = answer.parsed
                return result
            content = answer.content
        result.rejected.append(f"attempt {attempt}: {problem}")
        messages = repair_messages(request, messages, content, problem)
    raise CaseGenerationError(give_up_message(request, max_attempts, result.rejected), result)


class StandIns:
    """The themes that lost all their attempts and get a case written by code instead: at most
    `allowed` a day, so that one stubborn theme does not lose the day (docs/cases.md)."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.used: dict[date, int] = {}

    def take(self, failed: CaseResult) -> CaseResult | None:
        """The stand-in for `failed`'s theme, or None when its day has used its allowance."""
        if self.used.get(failed.day, 0) >= self.allowed:
            return None
        case = fallback_case(failed.request)
        if judge_answer(case, None, failed.request) is not None:
            return None  # written from the facts, so it always passes; if not, the day is lost
        self.used[failed.day] = self.used.get(failed.day, 0) + 1
        return replace(failed, case=case, model=FALLBACK_MODEL, by_code=True)


def give_up_message(request: CaseRequest, attempts: int, problems: list[str]) -> str:
    return (
        f"{request.day} theme {request.theme.rank} '{request.theme.label}': no valid case after "
        f"{attempts} attempts: " + "; ".join(problems)
    )
