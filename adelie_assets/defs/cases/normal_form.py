"""The one normal form of every text a model writes (docs/cases.md, "Normal form").

The grounding rule reads the text in this form and the warehouse stores it in this form, so what is
checked is byte for byte what the app shows: an invisible character cannot hide a digit from the
check and then vanish in the app's markup, and a numeral of another script is stored as the ASCII
number it was checked as.
"""

from __future__ import annotations

import re
import unicodedata

# Default-ignorable code points that are not format characters (Cf): invisible, yet letters or marks.
_IGNORABLE = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u3164\uffa0"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
    + "".join(chr(c) for c in range(0xE0100, 0xE01F0))
)
# Dots that a reader takes for a decimal point between two digits.
_DECIMAL_DOT = re.compile(r"(?<=[0-9])[\u00b7\u2219\u2027\u22c5\u30fb\uff65\u2024](?=[0-9])")
_ASCII_DIGITS = re.compile(r"[0-9.,()\s]+")


_ROMAN = re.compile("[\u2160-\u2188]+")


def _roman(match: re.Match[str]) -> str:
    """A run of Roman numeral characters (`ⅩⅩⅩⅦ`) as the one number it reads as (37)."""
    values = [int(unicodedata.numeric(c)) for c in match.group(0)]
    total = sum(-v if v < after else v for v, after in zip(values, [*values[1:], 0], strict=True))
    return str(total)


def _numeral(char: str) -> str:
    """A numeral of any script as ASCII digits (`٣` 3, `Ⅻ` 12, `⑳` 20); any other character as is."""
    category = unicodedata.category(char)
    if category == "Nd":
        return str(unicodedata.decimal(char))
    if category in ("Nl", "No"):
        folded = unicodedata.normalize("NFKC", char)
        if _ASCII_DIGITS.fullmatch(folded):
            return folded  # superscripts, circled and parenthesized numbers: NFKC's own reading
        value = unicodedata.numeric(char, None)
        if value is not None and value == int(value):
            return str(int(value))
    return char


def _visible(char: str, previous: str) -> bool:
    if char in _IGNORABLE or unicodedata.category(char) == "Cf":
        return False
    # A combining mark on a digit or a sign is a disguise, never part of the number.
    mark = unicodedata.category(char).startswith("M")
    return not (mark and previous.isascii() and not previous.isalpha())


def normal_form(text: str) -> str:
    """NFKC, format and other invisible characters removed, numerals of any script as ASCII digits,
    a middle dot between digits as a decimal point, no surrounding whitespace. Idempotent."""
    converted = "".join(_numeral(c) if not c.isascii() else c for c in _ROMAN.sub(_roman, text))
    folded = unicodedata.normalize("NFKC", converted)
    kept: list[str] = []
    for char in folded:
        if _visible(char, kept[-1] if kept else " "):
            kept.append(char)
    return _DECIMAL_DOT.sub(".", "".join(kept)).strip()


def has_content(text: str) -> bool:
    """Whether a normal-form text holds a letter or a digit (not only spaces, marks or symbols)."""
    return any(c.isalnum() for c in text)


def comparable(text: str) -> str:
    """The form in which two texts are "the same": case, spacing and punctuation ignored."""
    return " ".join(re.sub(r"[^\w\s%]", " ", normal_form(text).casefold()).split())
