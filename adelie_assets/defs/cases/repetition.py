"""Answers that fit the schema but say nothing: an empty text, a point or a section said twice, one
sentence in many fields. Read on the normal form, with case, spacing and punctuation ignored."""

from __future__ import annotations

import re
from collections import defaultdict
from itertools import combinations

from adelie_assets.defs.cases.normal_form import comparable, has_content
from adelie_assets.defs.cases.schema import HistoricalCase, Narrative

# A sentence this long that appears in this many fields is filler, not a case.
SENTENCE_MIN_CHARS = 12
SENTENCE_MAX_FIELDS = 2
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|\n+")


def hollow_parts(case: HistoricalCase) -> list[str]:
    """What makes the answer hollow, one item per problem (empty: none)."""
    fields = case.fields()
    problems = [
        f"{where} is empty (nothing but spaces, symbols or invisible characters)"
        for where, text in fields.items()
        if not has_content(text)
    ]
    for name in Narrative.model_fields:
        bullets = [comparable(b) for b in getattr(case.narrative, name).bullets]
        for i, j in combinations(range(len(bullets)), 2):
            if bullets[i] == bullets[j]:
                problems.append(f"narrative.{name}.bullets[{j}] repeats bullets[{i}]: each point must differ")
    whole = ["title", "summary", "key_insight"] + [f"narrative.{n}.content" for n in Narrative.model_fields]
    seen: dict[str, str] = {}
    for where in whole:
        key = comparable(fields[where])
        if key in seen:
            problems.append(f"{where} repeats {seen[key]}: each section must say something of its own")
        else:
            seen[key] = where
    found_in: dict[str, set[str]] = defaultdict(set)
    for where, text in fields.items():
        for sentence in _SENTENCE_END.split(text):
            key = comparable(sentence)
            if len(key) >= SENTENCE_MIN_CHARS:
                found_in[key].add(where)
    for key, places in found_in.items():
        if len(places) > SENTENCE_MAX_FIELDS:
            problems.append(f"the sentence '{key[:60]}' is repeated in {len(places)} fields")
    return problems
