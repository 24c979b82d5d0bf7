"""Cases through OpenAI's Batch API: half the price for big backfills, validated like the sync path.

Every line of the output is judged exactly as a synchronous answer (schema, refusal, truncation,
grounding); lines that fail go into another batch round as a repair turn naming their problem, up
to `max_attempts` rounds.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from adelie_assets.defs.cases.generate import (
    CaseResult,
    StandIns,
    first_error,
    from_cache,
    give_up_message,
    judge_answer,
    repair_messages,
    request_key,
)
from adelie_assets.defs.cases.prompt import CaseRequest
from adelie_assets.defs.cases.schema import HistoricalCase
from adelie_assets.resources.llm import LLM


def _answer_text(line: dict[str, Any] | None) -> str | None:
    """The answer's text of an output line, when it arrived whole (for the repair turn)."""
    try:
        choice = line["response"]["body"]["choices"][0]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return None
    return (choice.get("message") or {}).get("content") if choice.get("finish_reason") != "length" else None


def _judge_line(line: dict[str, Any] | None, result: CaseResult) -> str | None:
    """Fill `result` from one batch output line; return the problem, or None when the case is good."""
    if line is None:
        return "missing from the batch output"
    response = line.get("response") or {}
    if line.get("error") or response.get("status_code") != 200:
        error = line.get("error") or (response.get("body") or {}).get("error") or {}
        return (
            f"HTTP {response.get('status_code', '?')} in the batch ({str(error.get('message', error))[:120]})"
        )
    body = response["body"]
    usage = body.get("usage") or {}
    result.input_tokens += int(usage.get("prompt_tokens", 0))
    result.output_tokens += int(usage.get("completion_tokens", 0))
    result.model = body.get("model") or result.model
    if response.get("request_id"):
        result.request_ids.append(response["request_id"])
    choice = body["choices"][0]
    message = choice.get("message") or {}
    if choice.get("finish_reason") == "length":
        return "answer truncated (finish_reason=length)"
    if message.get("refusal"):
        return judge_answer(None, message["refusal"], result.request)
    try:
        parsed = HistoricalCase.model_validate_json(message.get("content") or "")
    except ValidationError as exc:
        return f"answer is not a valid case ({first_error(exc)})"
    problem = judge_answer(parsed, None, result.request)
    if problem is None:
        result.case = parsed
    return problem


def generate_cases_batch(
    llm: LLM,
    work: list[CaseRequest],
    cached: dict[str, dict[str, Any] | None],
    max_attempts: int,
    poll_seconds: float,
    timeout_seconds: float,
    themes_written_by_code: int = 0,
) -> tuple[list[CaseResult], list[str]]:
    """Cases for every request, by cache (request hash -> response) or batch; returns the results
    and the give-up messages. A theme that failed every round gets a stand-in written by code while
    its day has allowance left."""
    results: list[CaseResult] = []
    pending: dict[str, CaseResult] = {}
    for request in work:
        hit, key = from_cache(llm, request, cached.get(request_key(llm, request)))
        if hit is not None:
            results.append(hit)
        else:
            result = CaseResult(request, case=None, request_hash=key, model=llm.model, cached=False)  # type: ignore[arg-type]
            pending[f"{request.day.isoformat()}#{request.theme.rank}"] = result
    messages = {cid: r.request.messages for cid, r in pending.items()}
    for attempt in range(1, max_attempts + 1):
        if not pending:
            break
        lines = llm.run_batch(
            {cid: llm.chat_body(messages[cid], HistoricalCase) for cid in pending},
            poll_seconds=poll_seconds,
            timeout_seconds=timeout_seconds,
        )
        still_pending = {}
        for cid, result in pending.items():
            result.calls += 1
            problem = _judge_line(lines.get(cid), result)
            if problem is None:
                results.append(result)
            else:
                result.rejected.append(f"attempt {attempt}: {problem}")
                # A line the batch never answered (it expired first) is asked again as it was: there
                # is no answer to repair.
                if cid in lines:
                    messages[cid] = repair_messages(
                        result.request, messages[cid], _answer_text(lines[cid]), problem
                    )
                still_pending[cid] = result
        pending = still_pending
    failures = []
    stand_ins = StandIns(themes_written_by_code)
    for result in pending.values():
        stand_in = stand_ins.take(result)
        if stand_in is None:
            failures.append(give_up_message(result.request, max_attempts, result.rejected))
        else:
            results.append(stand_in)
    return results, failures
