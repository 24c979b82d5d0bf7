"""Every number a case's text states must be one of the facts it was given (rule: docs/analogs.md).

Pure: `Facts.collect` gathers the numbers, dates and ids of the prompt's facts; `ungrounded` lists
what a text states that is not among them. Formatting is free (12.3% for 12.34, 1,234원, 2020년,
2020년 3월 19일 or 2020-03-19, 1.2조 원 for 1,234,567,890,123, 삼십칠 퍼센트 for 37); the value is
not. The text is read in its normal form (normal_form.py), the form it is stored and shown in.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from adelie_assets.defs.cases.normal_form import normal_form
from adelie_assets.defs.cases.spelled_numbers import as_digits

# Counting words and ordinals ("세 가지", "2차전지", "첫 3일") are not claims about the market.
SMALL_INTEGER_MAX = 10

_MONTHS_EN = {
    m: i + 1
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ]
    )  # fmt: skip
}
_MONTHS_EN.update({name[:3]: n for name, n in list(_MONTHS_EN.items())})
_MONTH_EN = "|".join(sorted(_MONTHS_EN, key=len, reverse=True))

_SIGN = r"[+\-−–]?"
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_ISO_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})[-./](\d{1,2})[-./](\d{1,2})(?!\d)")
_KO_DATE = re.compile(r"(?<!\d)(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일")
_KO_YEAR_MONTH = re.compile(r"(?<!\d)(\d{4})\s*년\s*(\d{1,2})\s*월")
_KO_MONTH_DAY = re.compile(r"(?<!\d)(\d{1,2})\s*월\s*(\d{1,2})\s*일")
_KO_MONTH = re.compile(r"(?<!\d)(\d{1,2})\s*월(?!\s*\d)")
_EN_DATE_MDY = re.compile(rf"\b({_MONTH_EN})\.?\s+(\d{{1,2}}),?\s+((?:19|20)\d{{2}})\b", re.IGNORECASE)
_EN_DATE_DMY = re.compile(rf"\b(\d{{1,2}})\s+({_MONTH_EN})\.?,?\s+((?:19|20)\d{{2}})\b", re.IGNORECASE)
_EN_MONTH_YEAR = re.compile(rf"\b({_MONTH_EN})\.?,?\s+((?:19|20)\d{{2}})\b", re.IGNORECASE)
_KO_YEAR = re.compile(r"(?<![\d,.])(\d{4})\s*년")
_BARE_YEAR = re.compile(r"(?<![\d,.])((?:19|20)\d{2})(?![\d,.]|\s*(?:%|퍼센트|원|만|억|조|배|포인트|p\b))")
_TICKER = re.compile(r"(?<![\w.,])(\d{6}|\d{5}[A-Z]|\d{4}[A-Z]\d)(?![\w.,])")
_AMOUNT = re.compile(
    rf"(?<![\w.,])({_SIGN})({_NUM})\s*"
    r"(%p|%|퍼센트|percent|포인트|points?|pt|배|조|억|만|trillion|billion|million|원|KRW|won)?",
    re.IGNORECASE,
)
# Digits and separators that are not one plain number: "12,9" or "1.2.3" read differently by readers.
_MALFORMED = re.compile(r"(?<![\w.,])\d[\d.,]*[.,]\d[\d.,]*")
_SCALE = {"조": 1e12, "억": 1e8, "만": 1e4, "trillion": 1e12, "billion": 1e9, "million": 1e6}


class GroundingError(ValueError):
    """The answer parsed, but states something the facts given do not support."""


@dataclass
class Facts:
    """What a case may state: numbers (compared by absolute value), dates, tickers and analog ids."""

    numbers: list[float] = field(default_factory=list)
    dates: set[date] = field(default_factory=set)
    tickers: set[str] = field(default_factory=set)
    analog_ids: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)  # company names may hold digits ("현대차2우B")

    @classmethod
    def collect(cls, *sources: object) -> Facts:
        """Every number, ISO date, ticker and analog id in JSON-like `sources` (what the prompt shows)."""
        facts = cls()
        for source in sources:
            facts._walk(source, None)
        facts.numbers = sorted(set(facts.numbers))
        return facts

    def _walk(self, value: object, key: str | None) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                self._walk(v, str(k))
        elif isinstance(value, list | tuple | set | frozenset):
            for v in value:
                self._walk(v, key)
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, int | float):
            if math.isfinite(value):
                self.numbers.append(abs(float(value)))
        elif isinstance(value, date):
            self.dates.add(value)
        elif isinstance(value, str):
            if key == "analog_id":
                self.analog_ids.add(value)
            elif key is not None and "ticker" in key:
                self.tickers.add(value)
            elif key is not None and "name" in key and any(c.isdigit() for c in value):
                self.names.add(value)
            elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                self.dates.add(date.fromisoformat(value))

    @property
    def years(self) -> set[int]:
        return {d.year for d in self.dates}

    def has_number(self, value: float, tolerance: float) -> bool:
        """A fact within `tolerance` of |value| (half a unit of the last digit written)."""
        target = abs(value)
        i = bisect_left(self.numbers, target - tolerance - 1e-9)
        return i < len(self.numbers) and self.numbers[i] <= target + tolerance + 1e-9


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def ungrounded(text: str, facts: Facts) -> list[str]:
    """What `text` states that is not among `facts`: each item names the token and why."""
    problems: list[str] = []
    text = normal_form(text)
    for known in sorted(facts.analog_ids | {normal_form(n) for n in facts.names}, key=len, reverse=True):
        text = text.replace(known, " ")
    text, spelled_as = as_digits(text)
    months = {(d.year, d.month) for d in facts.dates}
    month_days = {(d.month, d.day) for d in facts.dates}

    def check_date(token: str, year: int, month: int, day: int) -> str:
        try:
            stated = date(year, month, day)
        except ValueError:
            problems.append(f"'{token}' is not a date")
            return " "
        if stated not in facts.dates:
            problems.append(f"date '{token}' is not among the facts")
        return " "

    def full_dates(match: re.Match[str], order: tuple[int, int, int], english: bool = False) -> str:
        parts = [match.group(i) for i in order]
        month = _MONTHS_EN[parts[1].lower().rstrip(".")] if english else int(parts[1])
        return check_date(match.group(0), int(parts[0]), month, int(parts[2]))

    text = _ISO_DATE.sub(lambda m: full_dates(m, (1, 2, 3)), text)
    text = _KO_DATE.sub(lambda m: full_dates(m, (1, 2, 3)), text)
    text = _EN_DATE_MDY.sub(lambda m: full_dates(m, (3, 1, 2), english=True), text)
    text = _EN_DATE_DMY.sub(lambda m: full_dates(m, (3, 2, 1), english=True), text)

    def year_month(match: re.Match[str], year_group: int, month_group: int, english: bool = False) -> str:
        raw = match.group(month_group)
        month = _MONTHS_EN[raw.lower().rstrip(".")] if english else int(raw)
        if (int(match.group(year_group)), month) not in months:
            problems.append(f"month '{match.group(0)}' is not the month of a date among the facts")
        return " "

    text = _KO_YEAR_MONTH.sub(lambda m: year_month(m, 1, 2), text)
    text = _EN_MONTH_YEAR.sub(lambda m: year_month(m, 2, 1, english=True), text)

    def month_day(match: re.Match[str]) -> str:
        if (int(match.group(1)), int(match.group(2))) not in month_days:
            problems.append(f"day '{match.group(0)}' is not the day of a date among the facts")
        return " "

    def month_only(match: re.Match[str]) -> str:
        if int(match.group(1)) not in {m for _, m in months}:
            problems.append(f"month '{match.group(0)}' is not the month of a date among the facts")
        return " "

    def year(match: re.Match[str]) -> str:
        if int(match.group(1)) not in facts.years:
            problems.append(f"year '{match.group(0).strip()}' is not the year of a date among the facts")
        return " "

    text = _KO_MONTH_DAY.sub(month_day, text)
    text = _KO_MONTH.sub(month_only, text)
    text = _KO_YEAR.sub(year, text)
    text = _BARE_YEAR.sub(year, text)

    def ticker(match: re.Match[str]) -> str:
        # A known ticker is a name, not a number; any other six digits are checked as a number.
        return " " if match.group(1) in facts.tickers else match.group(0)

    text = _TICKER.sub(ticker, text)

    def malformed(match: re.Match[str]) -> str:
        token = match.group(0).rstrip(".,")
        if re.fullmatch(_NUM, token):
            return match.group(0)
        problems.append(f"'{token}' is not one plain number (write it as 1,234.5 or in words)")
        return " "

    text = _MALFORMED.sub(malformed, text)
    tokens = list(_AMOUNT.finditer(text))
    i = 0
    while i < len(tokens):
        match = tokens[i]
        number, unit = match.group(2), (match.group(3) or "").lower()
        value = float(number.replace(",", "")) * _SCALE.get(unit, 1.0)
        tolerance = 0.5 * 10 ** -_decimals(number) * _SCALE.get(unit, 1.0)
        spelled = match.group(0).strip()
        # "1조 2,345억 원", "8만 4,600원": one amount in descending Korean units.
        while unit in ("조", "억", "만") and i + 1 < len(tokens):
            following = tokens[i + 1]
            next_unit = (following.group(3) or "").lower()
            gap = text[match.end() : following.start()]
            if gap.strip() or _SCALE.get(next_unit, 1.0) >= _SCALE[unit]:
                break
            i += 1
            extra = following.group(2)
            value += float(extra.replace(",", "")) * _SCALE.get(next_unit, 1.0)
            tolerance = 0.5 * 10 ** -_decimals(extra) * _SCALE.get(next_unit, 1.0)
            spelled += " " + following.group(0).strip()
            match, unit = following, next_unit
        i += 1
        if not unit and value == int(value) and value <= SMALL_INTEGER_MAX and "." not in number:
            continue
        if not facts.has_number(value, tolerance):
            words = spelled_as.get(number.replace(",", ""))
            shown = f"'{words}' ({spelled})" if words else f"'{spelled}'"
            problems.append(f"number {shown} is not among the facts")
    return problems


def check_texts(texts: Iterable[str], facts: Facts) -> None:
    problems = [p for text in texts for p in ungrounded(text, facts)]
    if problems:
        shown = "; ".join(dict.fromkeys(problems))
        raise GroundingError(shown[:400])


def check_analog_id(analog_id: str, facts: Facts) -> None:
    if analog_id not in facts.analog_ids:
        offered = ", ".join(sorted(facts.analog_ids)) or "none"
        raise GroundingError(f"analog_id '{analog_id}' was not offered (offered: {offered})")
