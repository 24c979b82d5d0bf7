"""The market episode calendar: a reviewed data file of KRX market episodes, its reader and its check
against the warehouse (docs/episodes.md). The analog search and the prompt call `episode_on(day)`."""

from adelie_assets.defs.episodes.episode_file import (
    Episode,
    EpisodeCalendar,
    EpisodeFileError,
    episode_on,
    episodes_on,
    load_calendar,
)

__all__ = ["Episode", "EpisodeCalendar", "EpisodeFileError", "episode_on", "episodes_on", "load_calendar"]
