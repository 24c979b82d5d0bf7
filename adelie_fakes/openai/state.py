"""A fake, OpenAI-compatible HTTP server for tests, benchmarks and offline runs.

It imitates the slice of the OpenAI REST API that ``adelie_assets`` uses, closely enough that the real
``openai`` SDK talks to it unmodified (the SDK's HTTP layer cannot be mocked in-process, hence a real
socket on 127.0.0.1):

* ``POST /v1/chat/completions`` with Structured Outputs (``client.chat.completions.parse(...,
  response_format=SomeModel)``). The answer is generated from the JSON schema in the request, is
  deterministic per request body, and is *grounded*: any array-of-strings property whose name contains
  ``ticker`` is filled with the 6-digit KRX codes found in the user messages.
* The Files and Batch APIs (``files.create/retrieve/content/delete/list``,
  ``batches.create/retrieve/cancel/list``) for ``/v1/chat/completions`` batches.
* ``GET /v1/models`` (a short static list).
* Real-looking errors: 401 ``invalid_api_key``, 429 with ``retry-after-ms``, 500, 404 for unknown ids.

Faults are injected per request, from the same process (thread-safe) or over HTTP from another one::

    with FakeOpenAI() as fake:
        client = OpenAI(api_key=fake.api_key, base_url=fake.base_url)
        fake.push_faults("rate_limit", "rate_limit")  # the next two completions fail, then normal
        fake.set_fault("server_error")                # every completion fails ...
        fake.set_fault(None)                          # ... until cleared
        fake.latency = 0.5                            # seconds added to each completion
        fake.completion_count, fake.max_concurrent, fake.total_tokens, fake.requests

Fault names (see ``FAULTS``): ``rate_limit``, ``server_error``, ``bad_key``, ``hang``, ``refusal``,
``length``, ``invalid_json``, ``schema_violation``, ``hallucinated_ticker``. Queued faults are consumed
before the sticky one. In a batch, each input line consumes one fault; HTTP-level faults become error
lines (in the batch's error file) and ``hang`` has no effect.

Standalone, for a fake shared by several processes::

    python -m adelie_assets.fakes.openai_server --port 8124
    curl -X POST localhost:8124/_fake/fault -d '{"push": ["rate_limit"]}'   # or {"fault": "server_error"},
                                                                           # {"fault": null}, {"latency": 1.0}

This module imports only the standard library (never ``openai``) and has no import-time side effects.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import random
import re
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Final, Literal, Self, cast, get_args
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_API_KEY",
    "FAULTS",
    "HALLUCINATED_TICKER",
    "REFUSAL_TEXT",
    "FakeOpenAI",
    "FaultName",
    "RecordedRequest",
    "extract_tickers",
    "fake_value_for_schema",
    "main",
]

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
]
FAULTS: Final[tuple[str, ...]] = get_args(FaultName)

DEFAULT_API_KEY: Final = "sk-fake-test-key"
REFUSAL_TEXT: Final = "I'm sorry, I can't help with that."
HALLUCINATED_TICKER: Final = "999999"
# Used only when a schema demands tickers but the prompt has none; Samsung Electronics is the one
# code every KRX prompt is most likely to be about.
FALLBACK_TICKER: Final = "005930"

_HTTP_FAULTS: Final = frozenset({"rate_limit", "server_error", "bad_key"})
_TICKER_RE: Final = re.compile(r"(?<!\d)\d{6}(?!\d)")
# Prompts that list stocks as JSON name their codes in "ticker" fields; a 6-digit price is not a code.
_TICKER_FIELD_RE: Final = re.compile(r'"ticker"\s*:\s*"(\d{6})"')
_THEME_RE: Final = re.compile(r"(?im)^\s*(?:theme|topic|테마)\s*[:=]\s*(.+?)\s*$")
_MAX_DEPTH: Final = 24

# --------------------------------------------------------------------------------------------------
# Schema-driven content
# --------------------------------------------------------------------------------------------------

_SUBJECTS: Final = (
    "the KOSPI",
    "the KOSDAQ",
    "chipmakers",
    "shipbuilders",
    "battery makers",
    "bio stocks",
    "brokerage shares",
    "exporters",
    "large-cap tech names",
    "steelmakers",
    "defense contractors",
    "internet platforms",
)
_ACTORS: Final = (
    "foreign investors",
    "retail investors",
    "the national pension fund",
    "institutional desks",
    "short sellers",
    "margin traders",
)
_MOVES: Final = (
    "rallied sharply",
    "slid for weeks",
    "swung wildly",
    "climbed to record highs",
    "broke below key support",
    "rebounded from deep losses",
    "doubled within a few months",
    "gave back a year of gains",
)
_CAUSES: Final = (
    "export data beat expectations",
    "the Bank of Korea surprised the market with a rate move",
    "foreign money rushed back into Seoul",
    "the global memory-chip cycle turned",
    "the won weakened sharply against the dollar",
    "regulators changed the short-selling rules",
    "government policy support lifted sentiment",
    "earnings revisions finally turned positive",
    "a wave of new listings drained liquidity",
    "China's demand outlook shifted almost overnight",
)
_LESSONS: Final = (
    "momentum can run far ahead of fundamentals",
    "policy headlines fade faster than earnings trends",
    "crowded trades tend to unwind abruptly",
    "liquidity matters more than narratives in the short run",
    "patient investors were rewarded once earnings caught up",
    "valuation discipline protects capital when sentiment turns",
    "the first sharp drop is rarely the last one",
)
_TITLE_ADJECTIVES: Final = (
    "Semiconductor",
    "Export",
    "Liquidity",
    "Policy",
    "Foreign-Flow",
    "Bio",
    "Battery",
    "Shipbuilding",
    "Won",
)
_TITLE_NOUNS: Final = ("Rally", "Squeeze", "Shakeout", "Boom", "Correction", "Rebound", "Mania", "Selloff")
_TERMS: Final = {
    "Short covering": "Buying back borrowed shares to close a short position, which can amplify a rally.",
    "Foreign net buying": "The value of shares foreign investors bought minus the value they sold that day.",
    "Circuit breaker": "A market-wide trading halt triggered when the index falls by a set percentage.",
    "Price limit": "The maximum daily move allowed for a single stock, currently 30% either way in Korea.",
    "Program trading": "Computer-driven basket orders, often arbitrage between futures and the cash market.",
    "Credit balance": "Money retail investors have borrowed from brokers to buy shares on margin.",
    "Sidecar": "A five-minute pause of program trading when index futures move sharply.",
    "Value-up program": "A government push for listed companies to raise shareholder returns and valuations.",
    "Earnings revision": "A change in analysts' profit forecasts, often a driver of the next price trend.",
    "Sector rotation": "Money moving from one industry group to another as the economic outlook changes.",
}
_SENTENCES: Final = (
    "In {year}, {subject} {move} as {cause}.",
    "{actor} drove much of the move, and {subject} {move} once {cause}.",
    "The episode showed that {lesson}.",
    "Looking back, {lesson}, even though {cause}.",
    "Within months {subject} {move}, a reminder that {lesson}.",
    "Few expected that {subject} {move} so quickly after {cause}.",
    "Investors who stayed disciplined learned that {lesson}.",
)
_THEME_SENTENCES: Final = (
    "The setup rhymes with today's {theme} story.",
    "Much like today's {theme} move, {subject} {move}.",
)
_TICKER_SENTENCES: Final = ("Shares such as {ticker} were at the center of the move.",)


def extract_tickers(texts: Iterable[str]) -> list[str]:
    """Return the distinct 6-digit KRX codes in ``texts``, in order of first appearance."""
    texts = list(texts)
    seen: dict[str, None] = {}
    for pattern in (_TICKER_FIELD_RE, _TICKER_RE):
        for text in texts:
            for code in pattern.findall(text):
                seen.setdefault(code, None)
        if seen:
            break
    return list(seen)


def _clamp(value: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, value))


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


class _SchemaFaker:
    """Walks a JSON schema and fabricates a value that satisfies it, deterministically per seed."""

    def __init__(
        self,
        root: Mapping[str, Any],
        *,
        seed: int,
        tickers: Sequence[str] = (),
        theme: str | None = None,
        hallucinate_ticker: bool = False,
    ) -> None:
        self._root = root
        self._rng = random.Random(seed)
        self._tickers = list(tickers)
        self._theme = theme
        self._hallucinate = hallucinate_ticker
        self._last_term: str | None = None
        # One "story year" per answer keeps the title, the prose and any *year* field consistent.
        self._year = self._rng.randint(1990, 2020)

    def generate(self) -> Any:
        return self._value(self._root, name="", depth=0, in_array=False)

    # -- schema plumbing ---------------------------------------------------------------------------

    def _resolve(self, schema: Any) -> dict[str, Any]:
        if not isinstance(schema, Mapping):
            return {}
        seen: set[str] = set()
        current = dict(schema)
        while "$ref" in current:
            ref = current.pop("$ref")
            if not isinstance(ref, str) or ref in seen:
                break
            seen.add(ref)
            target = self._pointer(ref)
            # Sibling keywords next to a $ref (description, constraints) refine the target.
            current = {**target, **current}
        if "allOf" in current:
            merged: dict[str, Any] = {}
            for sub in current.pop("allOf") or []:
                part = self._resolve(sub)
                props = {**merged.get("properties", {}), **part.get("properties", {})}
                required = list(dict.fromkeys([*merged.get("required", []), *part.get("required", [])]))
                merged.update(part)
                if props:
                    merged["properties"] = props
                if required:
                    merged["required"] = required
            current = {**merged, **current}
        return current

    def _pointer(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#"):
            return {}
        node: Any = self._root
        for raw in ref[1:].split("/"):
            if not raw:
                continue
            key = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                return {}
        return dict(node) if isinstance(node, Mapping) else {}

    @staticmethod
    def _type_of(schema: Mapping[str, Any]) -> str | None:
        declared = schema.get("type")
        if isinstance(declared, list):
            non_null = [t for t in declared if t != "null"]
            return non_null[0] if non_null else "null"
        if isinstance(declared, str):
            return declared
        if "properties" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        return None

    # -- values ------------------------------------------------------------------------------------

    def _value(self, raw_schema: Any, *, name: str, depth: int, in_array: bool) -> Any:
        schema = self._resolve(raw_schema)
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return copy.deepcopy(self._rng.choice(schema["enum"]))
        for key in ("anyOf", "oneOf"):
            variants = schema.get(key)
            if isinstance(variants, list) and variants:
                resolved = [self._resolve(v) for v in variants]
                non_null = [v for v in resolved if self._type_of(v) != "null"]
                if not non_null or (depth > _MAX_DEPTH and len(non_null) < len(resolved)):
                    return None
                return self._value(non_null[0], name=name, depth=depth + 1, in_array=in_array)
        kind = self._type_of(schema)
        if kind == "object":
            return self._object(schema, depth=depth)
        if kind == "array":
            return self._array(schema, name=name, depth=depth)
        if kind == "string":
            return self._string(schema, name=name, in_array=in_array)
        if kind == "integer":
            return self._integer(schema, name=name)
        if kind == "number":
            return self._number(schema, name=name)
        if kind == "boolean":
            return self._rng.random() < 0.5
        if kind == "null":
            return None
        # An untyped schema accepts anything; a short sentence is the most useful "anything".
        return self._sentence()

    def _object(self, schema: Mapping[str, Any], *, depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        return {
            prop: self._value(sub, name=prop, depth=depth + 1, in_array=False)
            for prop, sub in properties.items()
        }

    def _array(self, schema: Mapping[str, Any], *, name: str, depth: int) -> list[Any]:
        lo = int(schema.get("minItems") or 0)
        hi_raw = schema.get("maxItems")
        hi = int(hi_raw) if hi_raw is not None else None
        items = self._resolve(schema.get("items", {}))
        if "ticker" in name.lower() and self._type_of(items) in ("string", None):
            return self._ticker_array(lo, hi)
        prefix = [self._resolve(s) for s in schema.get("prefixItems") or []]
        count = lo if depth > _MAX_DEPTH else max(lo, 2, len(prefix))
        if hi is not None:
            count = min(count, hi)
        values: list[Any] = []
        for index in range(count):
            item_schema = prefix[index] if index < len(prefix) else items
            value = self._value(item_schema, name=name, depth=depth + 1, in_array=True)
            # Distinct items even without uniqueItems: three identical devil's-advocate points read badly.
            for _ in range(5):
                if value not in values:
                    break
                value = self._value(item_schema, name=name, depth=depth + 1, in_array=True)
            values.append(value)
        return values

    def _ticker_array(self, lo: int, hi: int | None) -> list[str]:
        pool = self._tickers or [FALLBACK_TICKER]
        upper = hi if hi is not None else max(lo, len(pool), 1)
        count = min(max(len(pool), lo, 1), upper)
        values = [pool[i % len(pool)] for i in range(count)]
        if self._hallucinate and upper >= 1:
            if len(values) < upper:
                values.append(HALLUCINATED_TICKER)
            else:
                values[-1] = HALLUCINATED_TICKER
        return values

    def _integer(self, schema: Mapping[str, Any], *, name: str) -> int:
        lo, hi = self._bounds(schema, integer=True)
        if "year" in name.lower():
            lo_y = lo if lo is not None else -(10**9)
            hi_y = hi if hi is not None else 10**9
            plausible_lo, plausible_hi = max(lo_y, 1990), min(hi_y, 2020, date.today().year)
            if plausible_lo <= plausible_hi:
                return _clamp(self._year, int(plausible_lo), int(plausible_hi))
            lo = lo if lo is not None else (hi - 30 if hi is not None else 1990)
            hi = hi if hi is not None else lo + 30
            return _clamp(self._year, int(lo), int(hi))
        lo_i = int(lo) if lo is not None else (int(hi) - 100 if hi is not None else 0)
        hi_i = int(hi) if hi is not None else lo_i + 100
        if lo_i > hi_i:
            return lo_i
        multiple = schema.get("multipleOf")
        if isinstance(multiple, int) and multiple > 0:
            candidates = [v for v in range(lo_i, hi_i + 1) if v % multiple == 0][:1000]
            if candidates:
                return self._rng.choice(candidates)
        return self._rng.randint(lo_i, hi_i)

    def _number(self, schema: Mapping[str, Any], *, name: str) -> float:
        lo, hi = self._bounds(schema, integer=False)
        unit_interval = any(k in name.lower() for k in ("ratio", "probability", "confidence", "weight"))
        default_span = 1.0 if unit_interval else 100.0
        lo_f = float(lo) if lo is not None else (float(hi) - default_span if hi is not None else 0.0)
        hi_f = float(hi) if hi is not None else lo_f + default_span
        if lo_f >= hi_f:
            return lo_f
        value = round(self._rng.uniform(lo_f, hi_f), 2)
        # Rounding may land on an exclusive bound; step back inside.
        return value if lo_f <= value <= hi_f else (lo_f + hi_f) / 2

    @staticmethod
    def _bounds(schema: Mapping[str, Any], *, integer: bool) -> tuple[float | None, float | None]:
        step = 1.0 if integer else 1e-6
        lo: float | None = schema.get("minimum")
        hi: float | None = schema.get("maximum")
        ex_lo, ex_hi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        # Draft 4 spells exclusivity as a boolean next to minimum/maximum; later drafts as a number.
        if ex_lo is True and lo is not None:
            lo = lo + step
        elif isinstance(ex_lo, int | float) and not isinstance(ex_lo, bool):
            lo = max(lo, ex_lo + step) if lo is not None else ex_lo + step
        if ex_hi is True and hi is not None:
            hi = hi - step
        elif isinstance(ex_hi, int | float) and not isinstance(ex_hi, bool):
            hi = min(hi, ex_hi - step) if hi is not None else ex_hi - step
        if integer:
            lo = math.ceil(lo) if lo is not None else None
            hi = math.floor(hi) if hi is not None else None
        return lo, hi

    # -- text --------------------------------------------------------------------------------------

    def _string(self, schema: Mapping[str, Any], *, name: str, in_array: bool) -> str:
        lname = name.lower()
        fmt = schema.get("format")
        min_len = int(schema.get("minLength") or 0)
        max_raw = schema.get("maxLength")
        max_len = int(max_raw) if max_raw is not None else None
        if fmt == "date":
            text = (date(self._year, 1, 1) + timedelta(days=self._rng.randint(0, 364))).isoformat()
        elif fmt == "date-time":
            day = date(self._year, 1, 1) + timedelta(days=self._rng.randint(0, 364))
            text = f"{day.isoformat()}T09:00:00+09:00"
        elif fmt == "uuid":
            text = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        elif fmt == "email":
            text = f"analyst{self._rng.randint(1, 99)}@example.com"
        elif fmt in ("uri", "url") or lname.endswith("url"):
            text = f"https://example.com/cases/{self._year}/{self._rng.randint(1000, 9999)}"
        elif "ticker" in lname or lname in ("code", "stock_code", "symbol"):
            pool = self._tickers or [FALLBACK_TICKER]
            text = HALLUCINATED_TICKER if self._hallucinate else self._rng.choice(pool)
        elif any(k in lname for k in ("title", "headline", "name")):
            text = self._title()
        elif lname in ("term", "keyword") or lname.endswith("_term"):
            text = self._last_term = self._rng.choice(sorted(_TERMS))
        elif lname in ("definition", "meaning", "explanation") and self._last_term:
            text = _TERMS[self._last_term]
        else:
            short = in_array or (max_len is not None and max_len <= 160)
            text = self._paragraph(1 if short else self._rng.randint(2, 3))
        text = self._fit(text, min_len, max_len)
        return self._match_pattern(schema.get("pattern"), text)

    def _title(self) -> str:
        if self._theme and self._rng.random() < 0.5:
            return f"The {self._year} {self._theme} {self._rng.choice(_TITLE_NOUNS)}"
        adjective = self._rng.choice(_TITLE_ADJECTIVES)
        return f"The {self._year} {adjective} {self._rng.choice(_TITLE_NOUNS)}"

    def _paragraph(self, count: int) -> str:
        sentences: list[str] = []
        for _ in range(count * 3):
            sentence = self._sentence()
            if sentence not in sentences:
                sentences.append(sentence)
            if len(sentences) == count:
                break
        return " ".join(sentences)

    def _sentence(self) -> str:
        roll = self._rng.random()
        if self._theme and roll < 0.12:
            template = self._rng.choice(_THEME_SENTENCES)
        elif self._tickers and roll < 0.22:
            template = self._rng.choice(_TICKER_SENTENCES)
        else:
            template = self._rng.choice(_SENTENCES)
        text = template.format(
            year=self._year,
            subject=self._rng.choice(_SUBJECTS),
            actor=self._rng.choice(_ACTORS),
            move=self._rng.choice(_MOVES),
            cause=self._rng.choice(_CAUSES),
            lesson=self._rng.choice(_LESSONS),
            theme=self._theme or "",
            ticker=self._rng.choice(self._tickers) if self._tickers else FALLBACK_TICKER,
        )
        return _capitalize(text)

    def _fit(self, text: str, min_len: int, max_len: int | None) -> str:
        while len(text) < min_len:
            text = f"{text} {self._sentence()}".strip()
        if max_len is not None and len(text) > max_len:
            cut = text[:max_len]
            space = cut.rfind(" ")
            if space >= max(min_len, 1):
                cut = cut[:space].rstrip(" ,;:")
            text = cut if len(cut) >= min_len else text[:max_len]
        return text

    def _match_pattern(self, pattern: Any, text: str) -> str:
        if not isinstance(pattern, str):
            return text
        try:
            regex = re.compile(pattern)
        except re.error:
            return text
        candidates = [text, *(self._tickers or [FALLBACK_TICKER]), str(self._year), "A", "a", "0"]
        return next((c for c in candidates if regex.search(c)), text)


def fake_value_for_schema(
    schema: Mapping[str, Any],
    *,
    seed: int = 0,
    tickers: Sequence[str] = (),
    theme: str | None = None,
    hallucinate_ticker: bool = False,
) -> Any:
    """Fabricate a value valid against ``schema``; exposed so tests can build fixtures the same way."""
    return _SchemaFaker(
        schema, seed=seed, tickers=tickers, theme=theme, hallucinate_ticker=hallucinate_ticker
    ).generate()


# --------------------------------------------------------------------------------------------------
# OpenAI wire format
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Server state
# --------------------------------------------------------------------------------------------------


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


@dataclass
class _StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def as_object(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, Any] | None
    created_at: float
    delay: float
    model: str | None
    ok_lines: list[dict[str, Any]]
    error_lines: list[dict[str, Any]]
    prompt_tokens: int
    completion_tokens: int
    errors: list[dict[str, Any]] | None = None
    cancelled_at: float | None = None
    completed_at: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    viewed: bool = False


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # stop() must return promptly even while a "hang" handler is sleeping.
    block_on_close = False
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeOpenAI) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)


class FakeOpenAI:
    """A real OpenAI-compatible HTTP server on 127.0.0.1, driven from tests; see the module docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = DEFAULT_API_KEY,
        latency: float = 0.0,
        hang_seconds: float = 30.0,
        batch_delay: float = 0.0,
        verbose: bool = False,
        max_logged_requests: int = 10_000,
    ) -> None:
        self.host = host
        self.api_key = api_key
        self.latency = latency
        self.hang_seconds = hang_seconds
        self.batch_delay = batch_delay
        self.verbose = verbose
        self._requested_port = port
        self._max_logged = max_logged_requests
        self._defaults = (latency, hang_seconds, batch_delay)
        self._lock = threading.Lock()
        # Separate from _lock because finishing a batch creates files, which takes _lock.
        self._batch_lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._init_state()

    def _init_state(self) -> None:
        self._fault_queue: deque[str] = deque()
        self._sticky_fault: str | None = None
        # Bounded so a long-running CLI fake serving a big backfill doesn't grow without limit.
        self._requests: deque[RecordedRequest] = deque(maxlen=self._max_logged)
        self._completion_count = 0
        self._batch_line_count = 0
        self._in_flight = 0
        self._max_concurrent = 0
        self._prompt_tokens = 0
        self._completion_tokens = 0
        self._files: dict[str, _StoredFile] = {}
        self._batches: dict[str, _Batch] = {}

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("FakeOpenAI is already running")
        self._stopping = threading.Event()
        self._server = _HTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut down promptly; requests still sleeping in ``hang``/``latency`` are dropped unanswered."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        # Idle keep-alive connections would otherwise keep their handler threads serving after stop.
        with server.connections_lock:
            connections = list(server.connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:54321`` (the control endpoints live under ``/_fake``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as ``OpenAI(base_url=...)``, e.g. ``http://127.0.0.1:54321/v1``."""
        return f"{self.url}/v1"

    def client_kwargs(self) -> dict[str, str]:
        """``OpenAI(**fake.client_kwargs())``."""
        return {"api_key": self.api_key, "base_url": self.base_url}

    def env(self) -> dict[str, str]:
        """Environment variables that point an SDK-using process at this fake."""
        return {"OPENAI_API_KEY": self.api_key, "OPENAI_BASE_URL": self.base_url}

    # -- faults ------------------------------------------------------------------------------------

    @staticmethod
    def _check_fault(fault: str) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")

    def push_faults(self, *faults: FaultName) -> None:
        """Queue faults; each completion request (or batch line) consumes one, then behaviour is normal."""
        for fault in faults:
            self._check_fault(fault)
        with self._lock:
            self._fault_queue.extend(faults)

    def set_fault(self, fault: FaultName | None) -> None:
        """Apply ``fault`` to every completion (after the queue is drained) until ``set_fault(None)``."""
        if fault is not None:
            self._check_fault(fault)
        with self._lock:
            self._sticky_fault = fault

    def clear_faults(self) -> None:
        with self._lock:
            self._fault_queue.clear()
            self._sticky_fault = None

    @property
    def pending_faults(self) -> list[str]:
        with self._lock:
            return list(self._fault_queue)

    @property
    def sticky_fault(self) -> str | None:
        return self._sticky_fault

    def _next_fault(self) -> str | None:
        with self._lock:
            return self._fault_queue.popleft() if self._fault_queue else self._sticky_fault

    # -- observability -----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every /v1 request received so far (copies of the list, not of the records)."""
        with self._lock:
            return list(self._requests)

    @property
    def completion_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    @property
    def completion_count(self) -> int:
        """POST /v1/chat/completions requests received, whatever their outcome (batch lines excluded)."""
        return self._completion_count

    @property
    def batch_line_count(self) -> int:
        return self._batch_line_count

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def max_concurrent(self) -> int:
        """Most /v1 requests being handled at the same moment since start or reset()."""
        return self._max_concurrent

    @property
    def prompt_tokens(self) -> int:
        return self._prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return self._completion_tokens

    @property
    def total_tokens(self) -> int:
        """Tokens of all successful completions served, batch lines included."""
        return self._prompt_tokens + self._completion_tokens

    def reset(self) -> None:
        """Forget requests, counters, faults, files and batches; restore latency/hang/batch settings."""
        with self._lock:
            in_flight = self._in_flight
            self._init_state()
            self._in_flight = in_flight
            self.latency, self.hang_seconds, self.batch_delay = self._defaults

    def snapshot(self) -> dict[str, Any]:
        """Counters and settings as JSON-able data (also served at ``GET /_fake/state``)."""
        with self._lock:
            return {
                "base_url": self.base_url if self.running else None,
                "sticky_fault": self._sticky_fault,
                "pending_faults": list(self._fault_queue),
                "latency": self.latency,
                "hang_seconds": self.hang_seconds,
                "batch_delay": self.batch_delay,
                "completion_count": self._completion_count,
                "batch_line_count": self._batch_line_count,
                "requests": len(self._requests),
                "in_flight": self._in_flight,
                "max_concurrent": self._max_concurrent,
                "prompt_tokens": self._prompt_tokens,
                "completion_tokens": self._completion_tokens,
                "total_tokens": self._prompt_tokens + self._completion_tokens,
            }

    # -- internals used by the handler -------------------------------------------------------------

    def _enter(self, record: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(record)
            self._in_flight += 1
            self._max_concurrent = max(self._max_concurrent, self._in_flight)
            if record.method == "POST" and record.path == "/v1/chat/completions":
                self._completion_count += 1

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _count_tokens(self, reply: _Reply) -> None:
        if reply.status == 200:
            with self._lock:
                self._prompt_tokens += reply.prompt_tokens
                self._completion_tokens += reply.completion_tokens

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _chat_completion(
        self, body: Any, record: RecordedRequest, presented_key: str | None
    ) -> _Reply | None:
        """The completion reply, or None when stop() interrupted the wait (the connection is dropped)."""
        fault = self._next_fault()
        record.fault = fault
        if fault == "hang":
            self._sleep(self.hang_seconds)
        self._sleep(self.latency)
        if self._stopping.is_set():
            return None
        reply = _complete(body, fault, presented_key=presented_key)
        self._count_tokens(reply)
        return reply

    # -- files and batches -------------------------------------------------------------------------

    def _create_file(self, filename: str, purpose: str, data: bytes) -> _StoredFile:
        stored = _StoredFile(
            id=_rand_id("file-"), filename=filename, purpose=purpose, data=data, created_at=int(time.time())
        )
        with self._lock:
            self._files[stored.id] = stored
        return stored

    def _get_file(self, file_id: str) -> _StoredFile | None:
        with self._lock:
            return self._files.get(file_id)

    def _delete_file(self, file_id: str) -> bool:
        with self._lock:
            return self._files.pop(file_id, None) is not None

    def _create_batch(self, body: Mapping[str, Any], presented_key: str | None) -> _Reply:
        input_file_id = body.get("input_file_id")
        endpoint = body.get("endpoint")
        window = body.get("completion_window")
        if endpoint != "/v1/chat/completions":
            return _bad_request(
                f"Invalid value for 'endpoint': {endpoint!r}; the fake supports only /v1/chat/completions.",
                param="endpoint",
            )
        if window != "24h":
            return _bad_request("Invalid value for 'completion_window': only '24h' is supported.")
        source = self._get_file(str(input_file_id))
        if source is None:
            return _bad_request(f"Invalid 'input_file_id': {input_file_id!r}.", param="input_file_id")
        if source.purpose != "batch":
            return _bad_request(
                "The input file must be uploaded with purpose 'batch'.", param="input_file_id"
            )

        ok_lines: list[dict[str, Any]] = []
        error_lines: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        seen_ids: set[str] = set()
        model: str | None = None
        prompt_tokens = completion_tokens = 0
        lines = [ln for ln in source.data.decode("utf-8", "replace").splitlines() if ln.strip()]
        for number, line in enumerate(lines, start=1):
            try:
                item = json.loads(line)
            except ValueError:
                errors.append({"code": "invalid_json_line", "line": number, "message": "Invalid JSON."})
                continue
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            problem = None
            if not isinstance(custom_id, str) or not custom_id:
                problem = ("missing_custom_id", "Each line needs a non-empty 'custom_id'.")
            elif custom_id in seen_ids:
                problem = ("duplicate_custom_id", f"The custom_id {custom_id!r} is duplicated.")
            elif item.get("method") != "POST" or item.get("url") != endpoint:
                problem = ("mismatched_endpoint", f"Lines must be POST requests to {endpoint}.")
            elif not isinstance(item.get("body"), dict):
                problem = ("invalid_request", "Each line needs a JSON object 'body'.")
            if problem is not None:
                errors.append({"code": problem[0], "line": number, "message": problem[1], "param": None})
                continue
            seen_ids.add(custom_id)
            model = model or item["body"].get("model")
            fault = self._next_fault()
            # A batch has no connection to time out, so "hang" is meaningless here.
            reply = _complete(item["body"], None if fault == "hang" else fault, presented_key=presented_key)
            self._count_tokens(reply)
            with self._lock:
                self._batch_line_count += 1
            prompt_tokens += reply.prompt_tokens
            completion_tokens += reply.completion_tokens
            out = {
                "id": _rand_id("batch_req_", 32),
                "custom_id": custom_id,
                "response": {
                    "status_code": reply.status,
                    "request_id": _rand_id("req_", 32),
                    "body": reply.body,
                },
                "error": None,
            }
            (ok_lines if reply.status == 200 else error_lines).append(out)
        if not lines:
            errors.append({"code": "empty_file", "line": None, "message": "The input file is empty."})

        batch = _Batch(
            id=_rand_id("batch_", 32),
            input_file_id=source.id,
            endpoint=endpoint,
            completion_window=window,
            metadata=body.get("metadata") if isinstance(body.get("metadata"), dict) else None,
            created_at=time.time(),
            delay=float(self.batch_delay),
            model=model,
            ok_lines=ok_lines,
            error_lines=error_lines,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            errors=errors or None,
        )
        with self._lock:
            self._batches[batch.id] = batch
        return _Reply(200, self._batch_object(batch))

    def _finish_batch(self, batch: _Batch, now: float) -> None:
        batch.completed_at = now
        if batch.ok_lines:
            batch.output_file_id = self._jsonl_file(f"{batch.id}_output.jsonl", batch.ok_lines).id
        if batch.error_lines:
            batch.error_file_id = self._jsonl_file(f"{batch.id}_error.jsonl", batch.error_lines).id

    def _jsonl_file(self, filename: str, lines: list[dict[str, Any]]) -> _StoredFile:
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
        return self._create_file(filename, "batch_output", data)

    def _batch_object(self, batch: _Batch, *, cancelling: bool = False) -> dict[str, Any]:
        with self._batch_lock:
            return self._batch_object_locked(batch, cancelling=cancelling)

    def _batch_object_locked(self, batch: _Batch, *, cancelling: bool) -> dict[str, Any]:
        now = time.time()
        first_view = not batch.viewed
        batch.viewed = True
        counts = {"total": len(batch.ok_lines) + len(batch.error_lines), "completed": 0, "failed": 0}
        if batch.errors:
            status = "failed"
            counts["total"] = 0
        elif batch.completed_at is not None:
            status = "completed"
        elif batch.cancelled_at is not None:
            status = "cancelling" if cancelling else "cancelled"
        elif first_view:
            status = "validating"
        elif now - batch.created_at < batch.delay:
            status = "in_progress"
        else:
            self._finish_batch(batch, now)
            status = "completed"
        if status == "completed":
            counts["completed"], counts["failed"] = len(batch.ok_lines), len(batch.error_lines)
        done = status == "completed"
        created = int(batch.created_at)
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "model": batch.model,
            "errors": {"object": "list", "data": batch.errors} if batch.errors else None,
            "input_file_id": batch.input_file_id,
            "completion_window": batch.completion_window,
            "status": status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": created,
            "in_progress_at": None if status in ("validating", "failed") else created,
            "expires_at": created + 24 * 3600,
            "finalizing_at": int(batch.completed_at) if done and batch.completed_at else None,
            "completed_at": int(batch.completed_at) if done and batch.completed_at else None,
            "failed_at": created if status == "failed" else None,
            "expired_at": None,
            "cancelling_at": int(batch.cancelled_at) if batch.cancelled_at else None,
            "cancelled_at": int(batch.cancelled_at) if status == "cancelled" and batch.cancelled_at else None,
            "request_counts": counts,
            "usage": {
                "input_tokens": batch.prompt_tokens if done else 0,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": batch.completion_tokens if done else 0,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": batch.prompt_tokens + batch.completion_tokens if done else 0,
            },
            "metadata": batch.metadata,
        }

    def _batch_view(self, batch_id: str, *, cancel: bool = False) -> _Reply:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            return _Reply(
                404,
                _error_body(
                    f"No batch found with id '{batch_id}'.", type_="invalid_request_error", param="id"
                ),
            )
        with self._batch_lock:
            if cancel and batch.completed_at is None and batch.cancelled_at is None and not batch.errors:
                batch.cancelled_at = time.time()
                return _Reply(200, self._batch_object(batch, cancelling=True))
            return _Reply(200, self._batch_object(batch))

    def _list_batches(self) -> _Reply:
        with self._lock:
            batches = sorted(self._batches.values(), key=lambda b: b.created_at, reverse=True)
        data = [self._batch_object(b) for b in batches]
        return _Reply(200, _list_body(data))

    def _list_files(self) -> _Reply:
        with self._lock:
            files = sorted(self._files.values(), key=lambda f: f.created_at, reverse=True)
        return _Reply(200, _list_body([f.as_object() for f in files]))

    def _control(self, body: Any) -> _Reply:
        if not isinstance(body, Mapping):
            return _bad_request("Expected a JSON object.")
        try:
            if "fault" in body:
                self.set_fault(body["fault"])
            if "push" in body:
                pushed = body["push"]
                self.push_faults(*([pushed] if isinstance(pushed, str) else pushed))
            if body.get("clear"):
                self.clear_faults()
            for key in ("latency", "hang_seconds", "batch_delay"):
                if key in body:
                    setattr(self, key, float(body[key]))
        except (TypeError, ValueError) as exc:
            return _bad_request(str(exc))
        return _Reply(200, self.snapshot())


def _list_body(data: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": False,
    }


_MODELS: Final = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "gpt-5-mini")


# --------------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, like the real API; the SDK's connection pool relies on it for throughput.
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai/1.0"
    # Headers and body go out in two writes; with Nagle plus delayed ACKs each reply would stall ~40 ms.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ----------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        payload: bytes,
        *,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if self.server.fake._stopping.is_set():
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            # The client gave up (timeout) or stop() shut the socket; nobody is left to answer.
            self.close_connection = True

    def _send_reply(self, reply: _Reply, record: RecordedRequest | None = None) -> None:
        if record is not None:
            record.status = reply.status
        headers = {
            "x-request-id": _rand_id("req_", 32),
            "openai-version": "2020-10-01",
            "openai-organization": "org-fake",
            "openai-processing-ms": "1",
            **reply.headers,
        }
        self._send(reply.status, json.dumps(reply.body, ensure_ascii=False).encode(), headers=headers)

    def _dispatch(self, method: str) -> None:
        try:
            raw = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        path = urlsplit(self.path).path.rstrip("/") or "/"
        fake = self.server.fake
        try:
            if path.startswith("/_fake"):
                self._send_reply(self._route_control(method, path, raw))
                return
            self._handle_api(fake, method, path, raw)
        except Exception:  # a bug in the fake must surface as a 500, not a dropped connection
            traceback.print_exc(file=sys.stderr)
            self._send_reply(
                _Reply(500, _error_body("Fake server crashed; see stderr.", type_="server_error"))
            )

    def _route_control(self, method: str, path: str, raw: bytes) -> _Reply:
        fake = self.server.fake
        if method == "GET" and path == "/_fake/state":
            return _Reply(200, fake.snapshot())
        if method == "POST" and path == "/_fake/reset":
            fake.reset()
            return _Reply(200, fake.snapshot())
        if method == "POST" and path == "/_fake/fault":
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return _bad_request("Could not parse the JSON body.")
            return fake._control(body)
        return _Reply(404, _error_body(f"Invalid URL ({method} {path})", type_="invalid_request_error"))

    def _handle_api(self, fake: FakeOpenAI, method: str, path: str, raw: bytes) -> None:
        authorization = self.headers.get("Authorization", "")
        presented = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
        content_type = self.headers.get("Content-Type", "")
        body: Any = None
        json_error = False
        if content_type.startswith("multipart/form-data"):
            form = _parse_multipart(content_type, raw)
            body = {
                name: (
                    value.decode("utf-8", "replace")
                    if filename is None
                    else {"filename": filename, "bytes": len(value)}
                )
                for name, (filename, value) in form.items()
            }
        elif raw:
            try:
                body = json.loads(raw)
            except ValueError:
                json_error = True
        headers = {
            k.lower(): ("<redacted>" if k.lower() == "authorization" else v) for k, v in self.headers.items()
        }
        record = RecordedRequest(
            method=method, path=path, headers=headers, body=body, authorized=presented == fake.api_key
        )
        fake._enter(record)
        try:
            if presented != fake.api_key:
                reply = _Reply(401, _invalid_key_body(presented))
            elif json_error:
                reply = _bad_request(
                    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                    "using your HTTP library correctly.)"
                )
            elif method == "POST" and path == "/v1/chat/completions":
                reply = fake._chat_completion(body, record, presented)
                if reply is None:
                    self.close_connection = True
                    return
            else:
                reply = self._route_resources(fake, method, path, body, raw, content_type, presented)
                if reply is None:
                    return
            self._send_reply(reply, record)
        finally:
            fake._leave()

    def _route_resources(
        self,
        fake: FakeOpenAI,
        method: str,
        path: str,
        body: Any,
        raw: bytes,
        content_type: str,
        presented: str | None,
    ) -> _Reply | None:
        """Files, batches and models; returns None when it already wrote a non-JSON response."""
        parts = path.strip("/").split("/")[1:]  # drop "v1"
        not_found = _Reply(404, _error_body(f"Invalid URL ({method} {path})", type_="invalid_request_error"))
        routes: dict[tuple[str, int, str], Callable[[], _Reply | None]] = {
            ("POST", 1, "files"): lambda: self._upload(fake, raw, content_type),
            ("GET", 1, "files"): fake._list_files,
            ("GET", 2, "files"): lambda: self._file_meta(fake, parts[1]),
            ("DELETE", 2, "files"): lambda: self._file_delete(fake, parts[1]),
            ("GET", 3, "files"): lambda: (
                self._file_content(fake, parts[1]) if parts[2] == "content" else not_found
            ),
            ("POST", 1, "batches"): lambda: (
                fake._create_batch(body, presented)
                if isinstance(body, Mapping)
                else _bad_request("Bad body.")
            ),
            ("GET", 1, "batches"): fake._list_batches,
            ("GET", 2, "batches"): lambda: fake._batch_view(parts[1]),
            ("POST", 3, "batches"): lambda: (
                fake._batch_view(parts[1], cancel=True) if parts[2] == "cancel" else not_found
            ),
            ("GET", 1, "models"): lambda: _Reply(
                200,
                _list_body(
                    [{"id": m, "object": "model", "created": 0, "owned_by": "system"} for m in _MODELS]
                ),
            ),
        }
        handler = routes.get((method, len(parts), parts[0] if parts else ""))
        return handler() if handler is not None else not_found

    def _upload(self, fake: FakeOpenAI, raw: bytes, content_type: str) -> _Reply:
        form = _parse_multipart(content_type, raw)
        if "file" not in form:
            return _bad_request("Missing required parameter: 'file'.", param="file")
        purpose = form.get("purpose", (None, b""))[1].decode("utf-8", "replace")
        if not purpose:
            return _bad_request("Missing required parameter: 'purpose'.", param="purpose")
        filename, data = form["file"]
        stored = fake._create_file(filename or "upload.jsonl", purpose, data)
        return _Reply(200, stored.as_object())

    @staticmethod
    def _missing_file(file_id: str) -> _Reply:
        return _Reply(
            404, _error_body(f"No such File object: {file_id}", type_="invalid_request_error", param="id")
        )

    def _file_meta(self, fake: FakeOpenAI, file_id: str) -> _Reply:
        stored = fake._get_file(file_id)
        return _Reply(200, stored.as_object()) if stored else self._missing_file(file_id)

    def _file_delete(self, fake: FakeOpenAI, file_id: str) -> _Reply:
        if not fake._delete_file(file_id):
            return self._missing_file(file_id)
        return _Reply(200, {"id": file_id, "object": "file", "deleted": True})

    def _file_content(self, fake: FakeOpenAI, file_id: str) -> _Reply | None:
        stored = fake._get_file(file_id)
        if stored is None:
            return self._missing_file(file_id)
        self._send(
            200,
            stored.data,
            content_type="application/octet-stream",
            headers={"x-request-id": _rand_id("req_", 32)},
        )
        return None


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m adelie_assets.fakes.openai_server", description="Run a fake OpenAI-compatible server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8124)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each completion")
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    parser.add_argument("--batch-delay", type=float, default=0.0)
    parser.add_argument("--fault", choices=FAULTS, default=None, help="sticky fault from the start")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    fake = FakeOpenAI(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        latency=args.latency,
        hang_seconds=args.hang_seconds,
        batch_delay=args.batch_delay,
        verbose=args.verbose,
    )
    if args.fault:
        fake.set_fault(cast(FaultName, args.fault))
    done = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    fake.start()
    print(f"Fake OpenAI server at {fake.base_url} (api key {fake.api_key})", flush=True)
    print(f"  OPENAI_BASE_URL={fake.base_url} OPENAI_API_KEY={fake.api_key}", flush=True)
    print(f"  control: POST {fake.url}/_fake/fault  GET {fake.url}/_fake/state", flush=True)
    try:
        # Short waits so the signal handler gets to run promptly on every platform.
        while not done.wait(0.2):
            pass
    finally:
        fake.stop()
    print("Fake OpenAI server stopped.", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
