"""The market episode calendar (`episodes.toml`): its model, its strict reader, and the episode of a day.

The analog search and the prompt call `episode_on(day)` (the one episode that names a day) or
`episodes_on(day)` (every episode covering it); `Episode.facts()` is what a request states. The asset
check `episodes_match_index_data` (checks.py) compares the file with the warehouse's index closes.
How the file is reviewed and versioned, and the overlap rule: docs/episodes.md.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from adelie_assets.calendar import FIRST_TRADING_DAY, is_trading_day
from adelie_assets.resources.krx_indices import INDICES

EPISODE_FILE = Path(__file__).with_name("episodes.toml")
DIRECTIONS = ("down", "up")
_TOP_LEVEL = ("version", "reviewed_on", "episode")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class EpisodeFileError(ValueError):
    """A malformed episode file: the message names the episode (its row and id) and the field to fix."""


def move_pct(start_close: float, end_close: float) -> float:
    """The change from one close to another, in percent."""
    return (end_close / start_close - 1.0) * 100.0


@dataclass(frozen=True)
class Episode:
    """One named market episode: its move is measured on `index` from `start`'s close to `end`'s."""

    id: str
    name_ko: str
    name_en: str
    start: date
    end: date
    index: str
    direction: str
    move_min_pct: float
    move_max_pct: float
    reported_start_close: float
    reported_end_close: float
    description: str
    source: str
    checked: str

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end

    def within_band(self, move: float) -> bool:
        return self.move_min_pct <= move <= self.move_max_pct

    @property
    def reported_move_pct(self) -> float:
        return move_pct(self.reported_start_close, self.reported_end_close)

    @property
    def band(self) -> str:
        return f"{self.direction} {self.move_min_pct:+.0f}%..{self.move_max_pct:+.0f}%"

    def facts(self) -> dict[str, str]:
        """What a request states when an analog's day falls inside this episode (the case may name it)."""
        return {
            "episode_id": self.id,
            "episode_name_ko": self.name_ko,
            "episode_name_en": self.name_en,
            "episode_start": self.start.isoformat(),
            "episode_end": self.end.isoformat(),
        }


@dataclass(frozen=True)
class EpisodeCalendar:
    """The whole file: its version, the day it was last reviewed, and its episodes in start order."""

    version: str
    reviewed_on: date
    episodes: tuple[Episode, ...]

    def covering(self, day: date) -> list[Episode]:
        """Every episode whose [start, end] holds `day`, in start order."""
        return [episode for episode in self.episodes if episode.covers(day)]

    def on(self, day: date) -> Episode | None:
        """The one episode that names `day`, or None. Of several: one whose move is under way that day
        (start < day) before one that only starts on it (its start close is the level before the move;
        so a trough shared by a crash and the rebound after it is the crash's), then the shortest (the
        most specific), then the later start."""
        covering = self.covering(day)
        if not covering:
            return None
        return min(covering, key=lambda e: (e.start == day, (e.end - e.start).days, -e.start.toordinal()))


@cache
def shipped_calendar() -> EpisodeCalendar:
    """The calendar shipped in the package, read once per process."""
    return load_calendar(EPISODE_FILE)


def episode_on(day: date, calendar: EpisodeCalendar | None = None) -> Episode | None:
    """The episode that names `day` (EpisodeCalendar.on), from the shipped file unless one is given."""
    return (calendar or shipped_calendar()).on(day)


def episodes_on(day: date, calendar: EpisodeCalendar | None = None) -> list[Episode]:
    """Every episode covering `day`, in start order, from the shipped file unless one is given."""
    return (calendar or shipped_calendar()).covering(day)


def load_calendar(path: Path = EPISODE_FILE) -> EpisodeCalendar:
    """Read and validate an episode file; an `EpisodeFileError` names what to fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise EpisodeFileError(f"Cannot read the episode file {path}: {error.strerror}.") from error
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise EpisodeFileError(f"{path.name} is not valid TOML: {error}.") from error
    return parse_calendar(raw, path.name)


def parse_calendar(raw: Mapping[str, Any], name: str = EPISODE_FILE.name) -> EpisodeCalendar:
    unknown = sorted(set(raw) - set(_TOP_LEVEL))
    if unknown:
        raise EpisodeFileError(f"{name}: unknown top-level key(s) {unknown}; expected {list(_TOP_LEVEL)}.")
    field = _Fields(raw, name)
    version = field.text("version")
    reviewed_on = field.day("reviewed_on")
    rows = raw.get("episode")
    if not isinstance(rows, list) or not rows or not all(isinstance(row, dict) for row in rows):
        raise EpisodeFileError(f"{name}: no episodes; each one is a [[episode]] table.")
    episodes = tuple(_episode(row, f"{name}, episode {number}") for number, row in enumerate(rows, 1))
    seen: dict[str, int] = {}
    for number, episode in enumerate(episodes, 1):
        where = f"{name}, episode {number} ({episode.id})"
        if episode.id in seen:
            raise EpisodeFileError(f"{where}, field id: already used by episode {seen[episode.id]}.")
        seen[episode.id] = number
        if number > 1 and episode.start < episodes[number - 2].start:
            raise EpisodeFileError(
                f"{where}, field start: {episode.start} is before the start of episode {number - 1} "
                f"({episodes[number - 2].start}); list the episodes in start order."
            )
    return EpisodeCalendar(version, reviewed_on, episodes)


_EPISODE_FIELDS = (
    "id",
    "name_ko",
    "name_en",
    "start",
    "end",
    "index",
    "direction",
    "move_min_pct",
    "move_max_pct",
    "reported_start_close",
    "reported_end_close",
    "description",
    "source",
    "checked",
)


def _episode(row: Mapping[str, Any], where: str) -> Episode:
    identifier = row.get("id")
    if isinstance(identifier, str) and identifier:
        where = f"{where} ({identifier})"
    unknown = sorted(set(row) - set(_EPISODE_FIELDS))
    if unknown:
        raise EpisodeFileError(f"{where}: unknown field(s) {unknown}.")
    field = _Fields(row, where)
    episode = Episode(
        id=field.text("id", check=lambda v: bool(_ID.match(v)), expected="lower_snake_case"),
        name_ko=field.text("name_ko"),
        name_en=field.text("name_en"),
        start=field.trading_day("start"),
        end=field.trading_day("end"),
        index=field.text("index", check=lambda v: v in INDICES, expected=" or ".join(INDICES)),
        direction=field.text("direction", check=lambda v: v in DIRECTIONS, expected=" or ".join(DIRECTIONS)),
        move_min_pct=field.number("move_min_pct"),
        move_max_pct=field.number("move_max_pct"),
        reported_start_close=field.number("reported_start_close", positive=True),
        reported_end_close=field.number("reported_end_close", positive=True),
        description=field.text("description"),
        source=field.text("source", check=lambda v: v.startswith(("https://", "http://")), expected="a URL"),
        checked=field.text("checked"),
    )
    if episode.end <= episode.start:
        raise EpisodeFileError(f"{where}, field end: {episode.end} is not after start {episode.start}.")
    if episode.move_min_pct >= episode.move_max_pct:
        raise EpisodeFileError(
            f"{where}, field move_max_pct: {episode.move_max_pct} is not above move_min_pct "
            f"{episode.move_min_pct}."
        )
    if episode.direction == "down" and episode.move_max_pct >= 0:
        raise EpisodeFileError(f"{where}, field move_max_pct: a 'down' episode's band must end below 0.")
    if episode.direction == "up" and episode.move_min_pct <= 0:
        raise EpisodeFileError(f"{where}, field move_min_pct: an 'up' episode's band must start above 0.")
    if not episode.within_band(episode.reported_move_pct):
        raise EpisodeFileError(
            f"{where}, field reported_end_close: the reported closes {episode.reported_start_close:,.2f} -> "
            f"{episode.reported_end_close:,.2f} are a {episode.reported_move_pct:+.1f}% move, outside the "
            f"band {episode.move_min_pct:+.1f}%..{episode.move_max_pct:+.1f}%."
        )
    return episode


class _Fields:
    """Typed reads of one table's fields; each error names the table and the field."""

    def __init__(self, table: Mapping[str, Any], where: str) -> None:
        self.table = table
        self.where = where

    def _get(self, key: str) -> Any:
        if key not in self.table:
            raise EpisodeFileError(f"{self.where}, field {key}: missing.")
        return self.table[key]

    def _error(self, key: str, value: Any, expected: str) -> EpisodeFileError:
        shown = value.isoformat() if isinstance(value, date) else repr(value)
        return EpisodeFileError(f"{self.where}, field {key}: {shown} is not {expected}.")

    def text(self, key: str, check: Callable[[str], bool] | None = None, expected: str = "") -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value.strip() or "\n" in value:
            raise self._error(key, value, "one non-empty line of text")
        if check is not None and not check(value):
            raise self._error(key, value, expected)
        return value

    def number(self, key: str, positive: bool = False) -> float:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._error(key, value, "a number")
        if positive and value <= 0:
            raise self._error(key, value, "a positive number")
        return float(value)

    def day(self, key: str) -> date:
        value = self._get(key)
        # TOML has dates (2020-01-22) and date-times; a quoted date is a string.
        if isinstance(value, datetime) or not isinstance(value, date):
            raise self._error(key, value, "a date (YYYY-MM-DD, unquoted)")
        return value

    def trading_day(self, key: str) -> date:
        value = self.day(key)
        if value < FIRST_TRADING_DAY:
            raise self._error(
                key, value, f"on or after {FIRST_TRADING_DAY}, the warehouse's first trading day"
            )
        if not is_trading_day(value):
            raise self._error(key, value, "a KRX trading day")
        return value
