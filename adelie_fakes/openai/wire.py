"""The OpenAI wire format: error bodies, fault replies and the fabricated chat completion."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from adelie_fakes.openai.cases import is_case_request, write_case
from adelie_fakes.openai.content import _THEME_RE, _SchemaFaker, extract_tickers
from adelie_fakes.openai.realistic import write_realistic

FaultName = Literal[
    "rate_limit",
    "server_error",
    "bad_key",
    "hang",
    "refusal",
    "length",
    "invalid_json",
    "schema_violation",
    "hallucinated_ticker",
    "invented_number",
    "unknown_analog_id",
    "english_text",
    "realistic",
]
FAULTS: Final[tuple[str, ...]] = get_args(FaultName)

DEFAULT_API_KEY: Final = "sk-fake-test-key"
REFUSAL_TEXT: Final = "I'm sorry, I can't help with that."

_HTTP_FAULTS: Final = frozenset({"rate_limit", "server_error", "bad_key"})


def _rand_id(prefix: str, length: int = 24) -> str:
    return prefix + uuid.uuid4().hex[:length]


def _error_body(message: str, *, type_: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _mask_key(key: str) -> str:
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}"


def _invalid_key_body(presented: str | None) -> dict:
    if not presented:
        return _error_body(
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            type_="invalid_request_error",
        )
    return _error_body(
        f"Incorrect API key provided: {_mask_key(presented)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        type_="invalid_request_error",
        code="invalid_api_key",
    )


def _message_texts(messages: Any, *, roles: Iterable[str] | None = None) -> list[str]:
    wanted = set(roles) if roles is not None else None
    texts: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, Mapping):
            continue
        if wanted is not None and message.get("role") not in wanted:
            continue
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, Mapping) and isinstance(part.get("text"), str)
            )
    return texts


def _canonical_seed(body: Mapping[str, Any]) -> int:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass
class RecordedRequest:
    """One request as the fake saw it; ``headers`` carry no Authorization value."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    authorized: bool
    fault: str | None = None
    status: int | None = None
    received_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class _Reply:
    """One fabricated HTTP answer: what the handler writes, or what a batch line records."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _http_fault_reply(fault: str, *, model: str, presented_key: str | None) -> _Reply:
    if fault == "rate_limit":
        return _Reply(
            429,
            _error_body(
                f"Rate limit reached for {model} in organization org-fake on requests per min (RPM): "
                "Limit 500, Used 500, Requested 1. Please try again in 10ms. "
                "Visit https://platform.openai.com/account/rate-limits to learn more.",
                type_="rate_limit_exceeded",
                code="rate_limit_exceeded",
            ),
            # retry-after-ms wins in the SDK; retry-after is there for clients that only read that one.
            {
                "retry-after-ms": "10",
                "retry-after": "1",
                "x-ratelimit-limit-requests": "500",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "10ms",
            },
        )
    if fault == "server_error":
        return _Reply(
            500,
            _error_body(
                "The server had an error while processing your request. Sorry about that!",
                type_="server_error",
            ),
        )
    return _Reply(401, _invalid_key_body(presented_key or "sk-revoked-key"))


def _bad_request(message: str, *, param: str | None = None) -> _Reply:
    return _Reply(400, _error_body(message, type_="invalid_request_error", param=param))


def _json_schema_of(body: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None]:
    """Return (response kind, schema) where kind is ``json_schema``, ``json_object`` or ``text``."""
    response_format = body.get("response_format")
    if not isinstance(response_format, Mapping):
        return "text", None
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        return "json_schema", schema if isinstance(schema, Mapping) else {}
    if kind == "json_object":
        return "json_object", None
    return "text", None


def _violate(value: Any, schema: Mapping[str, Any]) -> Any:
    """Break an otherwise valid answer: drop a required field, else give the first one a wrong type."""
    if isinstance(value, dict) and value:
        required = [k for k in schema.get("required") or [] if k in value]
        broken = dict(value)
        if required:
            broken.pop(required[0])
        else:
            first = next(iter(broken))
            broken[first] = [] if not isinstance(broken[first], list) else "not-a-list"
        return broken
    return [] if not isinstance(value, list) else {"unexpected": True}


def _complete(body: Any, fault: str | None, *, presented_key: str | None) -> _Reply:
    """Fabricate the answer to one chat.completions request body (shared by HTTP and batch)."""
    if not isinstance(body, Mapping):
        return _bad_request("The request body must be a JSON object.")
    model = body.get("model")
    if fault in _HTTP_FAULTS:
        return _http_fault_reply(fault or "", model=str(model or "gpt-4o-mini"), presented_key=presented_key)
    if not isinstance(model, str) or not model:
        return _bad_request("you must provide a model parameter", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _bad_request("'messages' must be a non-empty array.", param="messages")
    if body.get("stream"):
        return _bad_request("stream=true is not supported by the fake OpenAI server.", param="stream")

    seed = _canonical_seed(body)
    tickers = extract_tickers(_message_texts(messages, roles=("user",)))
    theme_match = next(
        (m for m in (_THEME_RE.search(t) for t in _message_texts(messages)) if m is not None), None
    )
    theme = theme_match.group(1)[:60] if theme_match else None
    kind, schema = _json_schema_of(body)

    finish_reason = "stop"
    refusal: str | None = None
    content: str | None
    if fault == "refusal":
        content, refusal = None, REFUSAL_TEXT
    elif kind == "json_schema" and is_case_request(schema, _message_texts(messages, roles=("user",))):
        # A historical case (prompt v2 to v4): about one offered analog, with only the numbers given;
        # or, fault "realistic", as a small model writes it (realistic.py).
        value = (write_realistic(messages, seed) if fault == "realistic" else None) or write_case(
            _message_texts(messages, roles=("user",)),
            _message_texts(messages, roles=("system",)),
            seed,
            None if fault == "realistic" else fault,
        )
        if fault == "schema_violation":
            value = _violate(value, _SchemaFaker(schema or {}, seed=seed)._resolve(schema or {}))
        content = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    elif kind == "json_schema":
        faker = _SchemaFaker(
            schema or {},
            seed=seed,
            tickers=tickers,
            theme=theme,
            hallucinate_ticker=fault == "hallucinated_ticker",
        )
        value = faker.generate()
        if fault == "schema_violation":
            value = _violate(value, faker._resolve(schema or {}))
        content = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    elif kind == "json_object":
        faker = _SchemaFaker({}, seed=seed, tickers=tickers, theme=theme)
        content = json.dumps({"answer": faker.generate(), "tickers": tickers}, ensure_ascii=False)
    else:
        faker = _SchemaFaker({"type": "string"}, seed=seed, tickers=tickers, theme=theme)
        content = faker.generate()

    if content is not None and fault == "invalid_json":
        # The classic failure: the model chats around the JSON instead of emitting only JSON.
        content = f"Sure! Here is the JSON you asked for:\n{content}\nLet me know if you need anything else."
    elif content is not None and fault == "length":
        finish_reason = "length"
        content = content[: max(1, len(content) // 2)]

    prompt_tokens = max(1, len(json.dumps(messages, ensure_ascii=False)) // 4)
    completion_tokens = max(1, len(content if content is not None else refusal or "") // 4)
    if finish_reason == "length":
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        completion_tokens = int(limit) if isinstance(limit, int) and limit > 0 else completion_tokens
    completion = {
        "id": "chatcmpl-" + uuid.uuid4().hex[:29],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fake00000",
    }
    return _Reply(200, completion, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


def _parse_multipart(content_type: str, data: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Minimal multipart/form-data parser: field name -> (filename, raw bytes)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        return {}
    delimiter = b"--" + match.group(1).encode()
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in data.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, sep, payload = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            continue
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        header_text = head.decode("utf-8", "replace")
        name = re.search(r'\bname="([^"]*)"', header_text)
        filename = re.search(r'\bfilename="([^"]*)"', header_text)
        if name:
            fields[name.group(1)] = (filename.group(1) if filename else None, payload)
    return fields


def _list_body(data: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": False,
    }


_MODELS: Final = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "gpt-5-mini")
