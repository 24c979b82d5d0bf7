"""Text the app can render safely: the model's text with every markup removed, and the app's glossary
markup `<mark class='term'>용어</mark>` placed by code.

The app renders `content` and bullets as HTML (that is how its marks work), so those fields are HTML:
escaped text plus our marks, nothing else. Every other text field is plain text with no markup at all
(no tags, links, images or URLs; `<`/`>` become the full-width `＜`/`＞`), so it is safe whether the app
shows it as text, HTML or markdown.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

MARK_OPEN = "<mark class='term'>"
MARK_CLOSE = "</mark>"
MAX_TERM_CHARS = 40

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
# Elements whose content is code or an embedded document, not text: dropped with their content.
_DANGEROUS_BLOCK = re.compile(
    r"<\s*(script|style|iframe|object|embed|svg|math|template|noscript|textarea|xmp)\b.*?"
    r"(?:<\s*/\s*\1\s*>|\Z)",
    re.IGNORECASE | re.DOTALL,
)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_TAG = re.compile(r"<\s*/?\s*[A-Za-z!?][^<>]*>")
# A tag that never closes ("<img src=x onerror=alert(1) 요점"): its name and attributes, not the text.
_UNCLOSED_TAG = re.compile(
    r"<\s*/?\s*[A-Za-z][A-Za-z0-9:-]*"
    r"(?:\s+[A-Za-z_:][-A-Za-z0-9_:.]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'<>]*))?)*\s*/?"
)
_LINK_TARGET = r"\((?:[^()\n]|\([^()\n]*\))*\)?"
_MD_IMAGE = re.compile(r"!\[[^\]]*\]" + _LINK_TARGET)
_MD_LINK = re.compile(r"\[([^\[\]]*)\]" + _LINK_TARGET)
_MD_REF_LINK = re.compile(r"\[([^\[\]]*)\]\[[^\]]*\]")
_MD_REF_DEFINITION = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_URL = re.compile(
    r"(?:\b(?:https?|ftp|file|javascript|vbscript|data|mailto)\s*:|\bwww\.)[^\s\u3000]*", re.IGNORECASE
)
_GLOSSARY_BRACKETS = re.compile(r"\[\[|\]\]")
_MD_EMPHASIS = re.compile(r"\*\*|__|~~|`+")
_MD_LINE_PREFIX = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|>[ \t]*)+", re.MULTILINE)
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*")


def _without_format_characters(value: str) -> str:
    """Without any format character (Unicode category Cf: bidi isolates, U+061C, soft hyphens, tag
    characters, ...): invisible to the reader, they would hide what the text says or split a word."""
    if value.isascii():
        return value
    return "".join(c for c in value if c.isascii() or unicodedata.category(c) != "Cf")


def _clean(text: object) -> str:
    """Text without any markup; may still contain a literal `<` or `>` (e.g. "PER < 10")."""
    value = "" if text is None else str(text)
    for _ in range(3):  # entity-encoded markup (&lt;script&gt;, even twice) is markup too
        unescaped = html.unescape(value)
        if unescaped == value:
            break
        value = unescaped
    value = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    value = _without_format_characters(value)
    value = _DANGEROUS_BLOCK.sub(" ", value)
    value = _COMMENT.sub(" ", value)
    previous = None
    while previous != value:  # "<scr<b>ipt>" becomes a tag once the inner one is gone
        previous = value
        value = _TAG.sub(" ", value)
    value = _UNCLOSED_TAG.sub(" ", value)
    value = _MD_IMAGE.sub(" ", value)
    value = _MD_LINK.sub(r"\1", value)
    value = _MD_REF_LINK.sub(r"\1", value)
    value = _MD_REF_DEFINITION.sub("", value)
    value = _URL.sub(" ", value)
    value = _GLOSSARY_BRACKETS.sub("", value)
    value = _MD_EMPHASIS.sub("", value)
    value = _MD_LINE_PREFIX.sub("", value)
    value = _SPACES.sub(" ", value)
    value = _BLANK_LINES.sub("\n\n", value)
    return "\n".join(line.strip() for line in value.split("\n")).strip()


def plain_text(text: object, max_chars: int | None = None) -> str:
    """The model's text as plain text with no markup whatsoever."""
    value = _clean(text).replace("<", "＜").replace(">", "＞")
    if max_chars is not None and len(value) > max_chars:
        value = value[: max_chars - 1].rstrip() + "…"
    return value


def glossary_terms(terms: Iterable[object]) -> list[str]:
    """Usable terms: plain, non-empty, short, distinct, in their original order."""
    seen: list[str] = []
    for term in terms:
        value = plain_text(term).replace("\n", " ")
        if value and len(value) <= MAX_TERM_CHARS and value not in seen:
            seen.append(value)
    return seen


def _term_pattern(terms: list[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    alternatives = []
    # Longest first: "공매도 잔고" is marked whole, not as "공매도" + " 잔고".
    for term in sorted(terms, key=len, reverse=True):
        pattern = re.escape(term)
        # An ASCII term must be a word of its own ("PER" is not in "PERFORMANCE"); Korean terms take
        # particles ("공매도가"), so they match inside words.
        if term[0].isascii() and term[0].isalnum():
            pattern = r"(?<![A-Za-z0-9])" + pattern
        if term[-1].isascii() and term[-1].isalnum():
            pattern += r"(?![A-Za-z0-9])"
        alternatives.append(pattern)
    return re.compile("|".join(alternatives))


def marked_html(text: object, terms: Iterable[str]) -> str:
    """Escaped text in which every occurrence of a glossary term is wrapped in the app's mark."""
    value = _clean(text)
    pattern = _term_pattern(glossary_terms(terms))
    if pattern is None:
        return html.escape(value, quote=True)
    parts: list[str] = []
    position = 0
    for match in pattern.finditer(value):
        parts.append(html.escape(value[position : match.start()], quote=True))
        parts.append(MARK_OPEN + html.escape(match.group(0), quote=True) + MARK_CLOSE)
        position = match.end()
    parts.append(html.escape(value[position:], quote=True))
    return "".join(parts)
