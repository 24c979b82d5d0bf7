"""The partition set is exactly the KRX trading days whose data is final."""

from datetime import date, datetime

import pytest

from adelie_assets.calendar import (
    KST,
    PartitionKeyError,
    build_trading_day_partitions,
    parse_partition_key,
    previous_trading_day,
    trading_day_partitions,
    trading_days,
)

KNOWN_CLOSURES = [
    "2000-01-03",  # Y2K (not in holidays: calendar.EXTRA_CLOSURES)
    "2000-12-27",  # 2000's year-end closure after the last trading day 12-26 (EXTRA_CLOSURES)
    "2000-12-28",
    "2000-12-29",
    "2002-07-01",  # World Cup semi-final celebration
    "2008-02-06",  # Seollal 2008
    "2008-02-07",
    "2008-02-08",
    "2008-12-31",
    "2025-01-28",
    "2025-01-29",
    "2025-01-30",
    "2025-06-03",
    "2025-10-06",
    "2025-10-07",
    "2025-10-08",
    "2025-10-09",
    "2025-12-31",
    "2026-02-16",
    "2026-02-17",
    "2026-02-18",
    "2026-06-03",
    "2026-07-17",
    "2026-09-24",
    "2026-09-25",
    "2026-12-31",
]


def kst(*args: int) -> datetime:
    return datetime(*args, tzinfo=KST)


def keys_at(now: datetime) -> list[str]:
    return trading_day_partitions.get_partition_keys(current_time=now)


def test_known_closures_and_weekends_are_not_partitions() -> None:
    keys = set(keys_at(kst(2026, 11, 28, 12)))
    assert not keys & set(KNOWN_CLOSURES)
    assert not [k for k in keys if date.fromisoformat(k).weekday() >= 5]


def test_plain_weekdays_are_partitions() -> None:
    keys = set(keys_at(kst(2026, 11, 28, 12)))
    for key in [
        "2025-01-24",
        "2025-01-31",
        "2025-06-02",
        "2025-06-04",
        "2026-09-23",
        "2026-09-28",
        "2026-11-27",
        "2015-01-02",
        "2000-01-04",
        "2000-12-26",
        "2008-02-05",
        "2008-02-11",
        "2008-10-24",
    ]:
        assert key in keys
    # Every partition is a trading day and every trading day since the start is a partition.
    assert sorted(keys) == [d.isoformat() for d in trading_days(date(2000, 1, 4), date(2026, 11, 27))]
    assert min(keys) == "2000-01-04" and len(keys) == 6_631


@pytest.mark.parametrize(
    ("now", "last_key"),
    [
        (kst(2026, 9, 24, 8), "2026-09-23"),  # holiday morning: the day before is final and offered
        (kst(2026, 12, 1, 10), "2026-11-30"),  # Tuesday 10:00: today is not final yet
        (kst(2026, 12, 1, 17, 59), "2026-11-30"),
        (kst(2026, 12, 1, 18, 0, 1), "2026-12-01"),  # from 18:00 KST today's data is final
        (kst(2026, 11, 30, 8), "2026-11-27"),  # Monday morning: Friday
        (kst(2026, 12, 31, 12), "2026-12-30"),  # year-end closure
        (kst(2026, 6, 3, 12), "2026-06-02"),  # local election day
    ],
)
def test_latest_partition_at_fixed_instants(now: datetime, last_key: str) -> None:
    assert keys_at(now)[-1] == last_key


@pytest.mark.parametrize(
    ("now", "early_key", "last_final_key"),
    [
        (kst(2025, 1, 28, 12), "2025-01-31", "2025-01-24"),  # Seollal, closed 01-27..01-30
        (kst(2026, 6, 3, 20), "2026-06-04", "2026-06-02"),  # election day, after its 18:00
        (kst(2027, 1, 4, 12), "2027-01-04", "2026-12-30"),  # after the year-end closure
    ],
)
def test_known_dagster_quirk_offers_next_day_early_and_asset_refuses_it(
    now: datetime, early_key: str, last_final_key: str
) -> None:
    # Dagster #33551: once an excluded tick has passed, the next trading day is offered before its
    # 18:00. The partition set is otherwise exact; the asset refuses the early key.
    keys = keys_at(now)
    assert keys[-2:] == [last_final_key, early_key]
    with pytest.raises(PartitionKeyError, match="not final yet"):
        parse_partition_key(early_key, now=now)
    assert parse_partition_key(last_final_key, now=now) == date.fromisoformat(last_final_key)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "2026-11-28",
            "is a Saturday: KRX does not trade on weekends. The previous trading day is 2026-11-27",
        ),
        (
            "2026-09-24",
            "is a KRX closure (The day preceding Chuseok). The previous trading day is 2026-09-23",
        ),
        ("20261127", "is malformed: use a KRX trading day as YYYY-MM-DD"),
        ("2026-02-30", "is not a calendar date"),
        ("1999-12-28", "is before the first partition 2000-01-04"),
        ("2000-01-03", "is a KRX closure (Y2K closure). The previous trading day is 1999-12-28"),
        ("2026-12-01", "is not final yet: KRX publishes final daily data after 2026-12-01 18:00 KST"),
    ],
)
def test_bad_partition_keys_say_what_to_fix(key: str, message: str) -> None:
    with pytest.raises(PartitionKeyError) as excinfo:
        parse_partition_key(key, now=kst(2026, 12, 1, 10))
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 30), date(2026, 11, 27)),
        (date(2026, 12, 1), date(2026, 11, 30)),
        (date(2026, 9, 24), date(2026, 9, 23)),
        (date(2026, 9, 28), date(2026, 9, 23)),
        (date(2027, 1, 1), date(2026, 12, 30)),
        (date(2025, 1, 31), date(2025, 1, 24)),
    ],
)
def test_previous_trading_day(day: date, expected: date) -> None:
    assert previous_trading_day(day) == expected


def test_closures_are_known_through_next_year() -> None:
    partitions = build_trading_day_partitions(through_year=2027)
    keys = partitions.get_partition_keys(current_time=kst(2027, 12, 31, 23))
    assert "2027-09-15" not in keys and "2027-12-31" not in keys and "2027-12-30" in keys
