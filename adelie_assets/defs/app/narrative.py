"""A case's narrative: the seven sections the app shows, as escaped HTML with glossary marks, each with
its chart, and the same text flattened into `full_content`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from adelie_assets.defs.app.inputs import AppFeedError
from adelie_assets.defs.app.markup import marked_html, plain_text

SECTIONS: dict[str, str] = {
    "background": "배경",
    "mirroring": "닮은 점",
    "difference": "다른 점",
    "devils_advocate": "반대 시각",
    "simulation": "시뮬레이션",
    "result": "그 후의 결과",
    "action": "투자 포인트",
}
DEVILS_ADVOCATE_BULLETS = 3
# Sections the app's narrative page prints as text, not HTML (Narrative.jsx's ActionStep): plain text,
# with no glossary marks and no HTML entities, which the reader would see as they are.
PLAIN_TEXT_SECTIONS = frozenset({"action"})


def build_narrative(
    raw: dict[str, Any], terms: list[str], charts: dict[str, dict[str, Any]], where: str
) -> dict[str, Any]:
    narrative: dict[str, Any] = {}
    for key in SECTIONS:
        section = raw.get(key)
        if not isinstance(section, dict):
            raise AppFeedError(
                f"{where}: the narrative has no section {key!r}; re-materialize historical_cases."
            )
        text: Callable[[object], str] = (
            plain_text if key in PLAIN_TEXT_SECTIONS else functools.partial(marked_html, terms=terms)
        )
        bullets = [text(b) for b in section.get("bullets") or []]
        bullets = [b for b in bullets if b]
        narrative[key] = {"bullets": bullets, "content": text(section.get("content"))}
        if not bullets and not narrative[key]["content"]:
            raise AppFeedError(
                f"{where}: the narrative's section {key!r} is empty once markup and invisible characters "
                "are removed (the app would show an empty step); re-materialize historical_cases for the day."
            )
        if key in charts:
            narrative[key]["chart"] = charts[key]
    count = len(narrative["devils_advocate"]["bullets"])
    if count != DEVILS_ADVOCATE_BULLETS:
        raise AppFeedError(
            f"{where}: devils_advocate has {count} non-empty bullet(s) after removing markup, the app needs "
            f"exactly {DEVILS_ADVOCATE_BULLETS}; re-materialize historical_cases for the day."
        )
    return narrative


def full_content(summary: str, raw: dict[str, Any]) -> str:
    parts = [summary]
    for key, heading in SECTIONS.items():
        section = raw.get(key) or {}
        text = plain_text(section.get("content"))
        bullets = [plain_text(b) for b in section.get("bullets") or []]
        body = "\n".join([*(f"- {b}" for b in bullets if b), *([text] if text else [])])
        if body:
            parts.append(f"{heading}\n{body}")
    return "\n\n".join(parts)
