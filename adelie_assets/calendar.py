"""The KRX trading calendar: which days are partitions, and when a day's data is final.

A trading day is a weekday that is not a KRX closure in `holidays.financial_holidays("XKRX")`
(which, unlike exchange_calendars' XKRX, knows the 2026/2027 closures including election days)
or in EXTRA_CLOSURES (the few closures of 1999/2000 it does not know).
KRX publishes a day's final data after 18:00 KST, so partition D exists from D 18:00 KST on.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
from dagster import TimeWindowPartitionsDefinition

KST = ZoneInfo("Asia/Seoul")

# The first trading day of 2000: the 2000 dot-com crash and the 2008 crisis are the episodes the app's
# cases want. holidays' XKRX calendar starts in 2000 (start_year); KRX answers per-ticker quotes from
# 1995 on (README, "Partitions and the schedule").
FIRST_TRADING_DAY = date(2000, 1, 4)

# KRX closures that holidays.financial_holidays("XKRX") does not know (it derives the years before
# 2001 from today's rules), from the newspapers of the day: the Y2K closure (Hankook Ilbo 1999-12-27;
# KOSPI opened 2000 on 01-04) and 2000's longer year-end closure (last trading day 2000-12-26: Donga,
# Hankyung, JoongAng of that day).
EXTRA_CLOSURES: dict[date, str] = {
    **{date(1999, 12, day): "Y2K closure" for day in (29, 30, 31)},
    date(2000, 1, 3): "Y2K closure",
    date(2000, 12, 27): "End of Year Holiday",
    date(2000, 12, 28): "End of Year Holiday",
}

# KRX's closing-price data is final after the post-market session; 18:00 KST leaves a margin.
DATA_FINAL_AT = time(18, 0)

PARTITION_KEY_FORMAT = "%Y-%m-%d"
_KEY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class PartitionKeyError(ValueError):
    """A partition key that is not a final KRX trading day."""


@cache
def _closure_names(year: int) -> dict[date, str]:
    names = dict(holidays.financial_holidays("XKRX", years=year))
    names.update({day: name for day, name in EXTRA_CLOSURES.items() if day.year == year})
    return names


@cache
def _closures(year: int) -> frozenset[date]:
    return frozenset(_closure_names(year))


def is_trading_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _closures(day.year)


def closure_name(day: date) -> str | None:
    """The holiday's name if KRX is closed on a weekday, else None."""
    return _closure_names(day.year).get(day) if day.weekday() < 5 else None


def previous_trading_day(day: date) -> date:
    """The latest trading day strictly before `day`."""
    candidate = day - timedelta(days=1)
    while not is_trading_day(candidate):
        candidate -= timedelta(days=1)
    return candidate


def trading_days(start: date, end: date) -> list[date]:
    """Trading days in [start, end], both included."""
    days = []
    current = start
    while current <= end:
        if is_trading_day(current):
            days.append(current)
        current += timedelta(days=1)
    return days


def final_at(day: date) -> datetime:
    """The instant from which KRX's data for `day` is final."""
    return datetime.combine(day, DATA_FINAL_AT, tzinfo=KST)


def is_final(day: date, now: datetime) -> bool:
    return now >= final_at(day)


def parse_partition_key(key: str, now: datetime | None = None) -> date:
    """Validate a partition key and return its date, or say exactly what is wrong with it."""
    if not _KEY_PATTERN.match(key):
        raise PartitionKeyError(f"Partition key {key!r} is malformed: use a KRX trading day as YYYY-MM-DD.")
    try:
        day = datetime.strptime(key, PARTITION_KEY_FORMAT).date()
    except ValueError as exc:
        raise PartitionKeyError(f"Partition key {key!r} is not a calendar date: {exc}.") from None
    if day.weekday() >= 5:
        raise PartitionKeyError(
            f"Partition key {key} is a {day.strftime('%A')}: KRX does not trade on weekends. "
            f"The previous trading day is {previous_trading_day(day)}."
        )
    holiday = closure_name(day)
    if holiday:
        raise PartitionKeyError(
            f"Partition key {key} is a KRX closure ({holiday}). "
            f"The previous trading day is {previous_trading_day(day)}."
        )
    if day < FIRST_TRADING_DAY:
        raise PartitionKeyError(
            f"Partition key {key} is before the first partition {FIRST_TRADING_DAY.isoformat()}."
        )
    now = now or datetime.now(KST)
    if not is_final(day, now):
        raise PartitionKeyError(
            f"Partition {key} is not final yet: KRX publishes final daily data after "
            f"{final_at(day).strftime('%Y-%m-%d %H:%M')} KST (now {now.astimezone(KST):%Y-%m-%d %H:%M} KST). "
            "Run it after that time."
        )
    return day


def _exclusions(last_year: int) -> list[datetime]:
    # An exclusion must equal a cron tick exactly (18:00), else Dagster silently excludes nothing.
    return [
        datetime.combine(day, DATA_FINAL_AT)
        for year in range(FIRST_TRADING_DAY.year, last_year + 1)
        for day in sorted(_closures(year))
        if day.weekday() < 5
    ]


def build_trading_day_partitions(through_year: int | None = None) -> TimeWindowPartitionsDefinition:
    """One partition per KRX trading day, keyed YYYY-MM-DD, each starting when its data is final.

    Windows tick at 18:00 KST on weekdays with closures excluded; `end_offset=1` makes the window
    that opened at D 18:00 (D's final data) available at once instead of at the next trading day's
    18:00. Closures are known through next year. Known Dagster quirk (#33551): during a closure of
    two or more weekdays the next trading day is offered early; `parse_partition_key` refuses it.
    """
    through_year = through_year or datetime.now(KST).year + 1
    return TimeWindowPartitionsDefinition(
        cron_schedule="0 18 * * 1-5",
        timezone="Asia/Seoul",
        fmt=PARTITION_KEY_FORMAT,
        start=FIRST_TRADING_DAY.strftime(PARTITION_KEY_FORMAT),
        end_offset=1,
        exclusions=_exclusions(through_year),
    )


trading_day_partitions = build_trading_day_partitions()


def explain_partition_key(key: str) -> str:
    """What is wrong with a partition key Dagster refused, or that it is a valid trading day."""
    try:
        day = parse_partition_key(key)
    except PartitionKeyError as exc:
        return str(exc)
    return f"{day} is a final KRX trading day: a valid partition key."


if __name__ == "__main__":  # python -m adelie_assets.calendar KEY: why Dagster refused KEY
    import sys

    for argument in sys.argv[1:]:
        print(explain_partition_key(argument))
