"""Schema-driven content: a value that satisfies a JSON schema, grounded in the tickers of the prompt."""

from __future__ import annotations

import copy
import math
import random
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, Final

from adelie_fakes.openai.vocabulary import (
    _ACTORS,
    _CAUSES,
    _LESSONS,
    _MOVES,
    _SENTENCES,
    _SUBJECTS,
    _TERMS,
    _THEME_SENTENCES,
    _TICKER_SENTENCES,
    _TITLE_ADJECTIVES,
    _TITLE_NOUNS,
)

HALLUCINATED_TICKER: Final = "999999"
# Used only when a schema demands tickers but the prompt has none; Samsung Electronics is the one
# code every KRX prompt is most likely to be about.
FALLBACK_TICKER: Final = "005930"

_TICKER_RE: Final = re.compile(r"(?<!\d)\d{6}(?!\d)")
# Prompts that list stocks as JSON name their codes in "ticker" fields; a 6-digit price is not a code.
_TICKER_FIELD_RE: Final = re.compile(r'"ticker"\s*:\s*"(\d{6})"')
_THEME_RE: Final = re.compile(r"(?im)^\s*(?:theme|topic|테마)\s*[:=]\s*(.+?)\s*$")
_MAX_DEPTH: Final = 24


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
