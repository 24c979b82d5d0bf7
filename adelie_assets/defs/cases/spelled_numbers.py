"""Numbers written in words, for the grounding rule: "삼십칠 퍼센트" and "thirty-seven percent"
state 37%.

Only a number word followed by a unit is read as a number (퍼센트, 프로, 포인트, %, %p, 원, 배,
년; one digit syllable only before a percent): the syllables of Sino-Korean numerals (일, 이, 사,
조 …) are also everyday words ("이 원칙", "일조하다"), and without a unit they are not claims.
English number words count before percent, per cent, %, points, won, KRW or times.
"""

from __future__ import annotations

import re

_SINO_DIGITS = {"영": 0, "공": 0, "일": 1, "이": 2, "삼": 3, "사": 4, "오": 5, "육": 6, "륙": 6, "칠": 7}
_SINO_DIGITS |= {"팔": 8, "구": 9}
_SINO_SMALL = {"십": 10, "백": 100, "천": 1000}
_SINO_BIG = {"만": 10**4, "억": 10**8, "조": 10**12}
_NATIVE_TENS = {"열": 10, "스물": 20, "스무": 20, "서른": 30, "마흔": 40, "쉰": 50, "예순": 60}
_NATIVE_TENS |= {"일흔": 70, "여든": 80, "아흔": 90}
_NATIVE_UNITS = {"하나": 1, "한": 1, "둘": 2, "두": 2, "셋": 3, "세": 3, "석": 3, "넷": 4, "네": 4}
_NATIVE_UNITS |= {"넉": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9}

_UNIT = r"(퍼센트\s*포인트|퍼센트|프로|포인트|%p|%|원|배|년)"
_SINO_CHARS = "".join([*_SINO_DIGITS, *_SINO_SMALL, *_SINO_BIG])
_SINO = re.compile(
    rf"(?<![가-힣0-9.,])((?:[{_SINO_CHARS}]*[만억조]\s+)*[{_SINO_CHARS}]+)(?:\s*점\s*([{''.join(_SINO_DIGITS)}]+))?\s*{_UNIT}"
)
_NATIVE = re.compile(
    rf"(?<![가-힣])({'|'.join(sorted(_NATIVE_TENS, key=len, reverse=True))})?"
    rf"({'|'.join(sorted(_NATIVE_UNITS, key=len, reverse=True))})?\s*(퍼센트|프로|배|%)"
)


_EN_SMALL = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen".split()
    )
}
_EN_TENS = {
    w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())
}
_EN_SCALES = {"hundred": 100, "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_EN_WORD = "|".join(sorted([*_EN_SMALL, *_EN_TENS, *_EN_SCALES], key=len, reverse=True))
_ENGLISH = re.compile(
    # Not a scale after digits ("1.2 trillion won" is read by the grounding rule itself).
    rf"(?<![0-9.,])(?<![0-9.,]\s)\b((?:(?:{_EN_WORD})(?:[\s-]+(?:and[\s-]+)?)?)+?)(?:\s*point\s+((?:(?:{'|'.join(_EN_SMALL)})\s*)+?))?"
    r"\s*(percentage points?|per\s?cent|percent|%|points?|won|KRW|times)\b",
    re.IGNORECASE,
)


def _english_value(words: str) -> int:
    total = section = 0
    for word in re.split(r"[\s-]+", words.lower()):
        if word in _EN_SMALL:
            section += _EN_SMALL[word]
        elif word in _EN_TENS:
            section += _EN_TENS[word]
        elif word == "hundred":
            section = (section or 1) * 100
        elif word in _EN_SCALES:
            total += (section or 1) * _EN_SCALES[word]
            section = 0
    return total + section


def _english(match: re.Match[str]) -> str:
    number = str(_english_value(match.group(1)))
    if match.group(2):
        number += "." + "".join(str(_EN_SMALL[w.lower()]) for w in match.group(2).split())
    return f"{number} {match.group(3)}"


def _sino_value(words: str) -> int:
    total = section = 0
    digits: int | None = None
    for char in words.replace(" ", ""):
        if char in _SINO_DIGITS:
            digits = _SINO_DIGITS[char] if digits is None else digits * 10 + _SINO_DIGITS[char]
        elif char in _SINO_SMALL:
            section += (1 if digits is None else digits) * _SINO_SMALL[char]
            digits = None
        else:
            section += 0 if digits is None else digits
            total += (section or 1) * _SINO_BIG[char]
            section, digits = 0, None
    return total + section + (digits or 0)


# One digit syllable is a number only before a percent: "이 원칙", "사 원", "이 배는" are words.
_DIGIT_UNITS = ("퍼센트", "프로", "포인트", "%")


def _sino(match: re.Match[str]) -> str:
    whole, decimals, unit = match.group(1), match.group(2), match.group(3)
    whole = re.sub(r"\s+", "", whole)
    if len(whole) == 1 and whole in _SINO_DIGITS and not decimals and not unit.startswith(_DIGIT_UNITS):
        return match.group(0)
    number = str(_sino_value(whole))
    if decimals:
        number += "." + "".join(str(_SINO_DIGITS[c]) for c in decimals)
    return f"{number}{unit.replace(' ', '')}"


def _native(match: re.Match[str]) -> str:
    if not match.group(1) and not match.group(2):
        return match.group(0)
    value = _NATIVE_TENS.get(match.group(1) or "", 0) + _NATIVE_UNITS.get(match.group(2) or "", 0)
    return f"{value}{match.group(3)}"


def as_digits(text: str) -> tuple[str, dict[str, str]]:
    """`text` with each Korean number word that has a unit written in digits, and what each
    rewritten number was in words (digits -> words), so that a problem can quote the words."""
    spelled: dict[str, str] = {}

    def record(rewrite: str, match: re.Match[str]) -> str:
        digits = rewrite
        if digits != match.group(0):
            spelled[re.sub(r"[^0-9.]", "", digits)] = match.group(0).strip()
        return digits

    text = _SINO.sub(lambda m: record(_sino(m), m), text)
    text = _NATIVE.sub(lambda m: record(_native(m), m), text)
    text = _ENGLISH.sub(lambda m: record(_english(m), m), text)
    return text, spelled
