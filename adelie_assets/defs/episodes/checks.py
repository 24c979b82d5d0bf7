"""`market_episodes`, the reviewed episode calendar as an external asset, and its check against the
warehouse: `episodes_match_index_data` compares each episode's move with the stored index closes.

Where it runs: not in `daily_pipeline` (a normal day's run is unchanged: no day it writes is an
episode's start or end) but on demand, in a one-step run of its own (the UI's "Execute" on the check),
after a backfill of old days or a new version of the file. Why it is not a check of `market_indices`:
docs/episodes.md, "The check".
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetSpec,
    MetadataValue,
    asset_check,
)

from adelie_assets import markdown
from adelie_assets.defs.episodes.episode_file import (
    Episode,
    EpisodeCalendar,
    EpisodeFileError,
    move_pct,
    shipped_calendar,
)
from adelie_assets.defs.keys import MARKET_INDICES
from adelie_assets.lib.partitioned_checks import severity_metadata
from adelie_assets.resources.warehouse import Warehouse, WarehouseError, market_indices_table

MARKET_EPISODES = AssetKey("market_episodes")
CHECK_NAME = "episodes_match_index_data"
VERIFIED, CONTRADICTED, NOT_STORED = "verified", "contradicted", "not stored"

# (trading day, index name) -> stored close
Closes = Mapping[tuple[date, str], float]

market_episodes = AssetSpec(
    MARKET_EPISODES,
    group_name="market",
    kinds={"toml"},
    owners=["team:data-engineering"],
    description=(
        "The market episode calendar: well-known KRX market episodes since 2000 (IT bubble, card crisis, "
        "2008 crisis, COVID-19 crash, ...) with Korean and English names, start and end trading days and "
        "the index move each names. A reviewed, versioned file in the repository (not computed here); "
        "the analogs and cases name the episode an analog's day falls in."
    ),
    metadata={"path": "adelie_assets/defs/episodes/episodes.toml", "docs": "docs/episodes.md"},
)


@dataclass(frozen=True)
class Finding:
    """One episode against the stored closes: verified, contradicted, or not stored."""

    episode: Episode
    status: str
    start_close: float | None = None
    end_close: float | None = None

    @property
    def move(self) -> float | None:
        if self.start_close is None or self.end_close is None:
            return None
        return move_pct(self.start_close, self.end_close)

    def figures(self) -> str:
        e = self.episode
        if self.move is None:
            missing = [str(d) for d, c in ((e.start, self.start_close), (e.end, self.end_close)) if c is None]
            return f"no {e.index} close for {' and '.join(missing)}"
        return (
            f"{e.index} {self.start_close:,.2f} ({e.start}) -> {self.end_close:,.2f} ({e.end}) = "
            f"{self.move:+.1f}%, expected {e.band}"
        )

    def line(self) -> str:
        return f"{self.status}: {self.figures()}"


def findings(calendar: EpisodeCalendar, closes: Closes) -> list[Finding]:
    found = []
    for episode in calendar.episodes:
        start = closes.get((episode.start, episode.index))
        end = closes.get((episode.end, episode.index))
        if start is None or end is None:
            found.append(Finding(episode, NOT_STORED, start, end))
            continue
        status = VERIFIED if episode.within_band(move_pct(start, end)) else CONTRADICTED
        found.append(Finding(episode, status, start, end))
    return found


def stored_closes(warehouse: Warehouse, calendar: EpisodeCalendar) -> dict[tuple[date, str], float]:
    """The stored closes of every episode's start and end day: one read of at most 2 rows an episode."""
    days = sorted({day for e in calendar.episodes for day in (e.start, e.end)})
    frame = warehouse.read(market_indices_table, days)
    return {
        (row.trade_date, row.index_name): float(row.close)
        for row in frame.itertuples()
        if row.close is not None and row.close > 0  # a missing close is not a move (another check's job)
    }


def calendar_result(calendar: EpisodeCalendar, closes: Closes) -> AssetCheckResult:
    """Passed unless a stored move contradicts its episode; episodes whose days are not stored pass."""
    found = findings(calendar, closes)
    counts = {
        status: sum(f.status == status for f in found) for status in (VERIFIED, CONTRADICTED, NOT_STORED)
    }
    contradicted = [f for f in found if f.status == CONTRADICTED]
    summary = (
        f"{counts[VERIFIED]} verified, {counts[CONTRADICTED]} contradicted, {counts[NOT_STORED]} not stored "
        f"(episodes.toml version {calendar.version}, reviewed {calendar.reviewed_on})."
    )
    if contradicted:
        details = "; ".join(f"{f.episode.id} ({f.episode.name_ko}): {f.figures()}" for f in contradicted)
        summary += f" Contradicted: {details}. Check the stored closes of those days, then the file."
    rows = [
        [f.episode.id, f.episode.name_ko, f.episode.index, f.episode.start, f.episode.end, f.episode.band,
         "" if f.move is None else f"{f.move:+.1f}%", f.status]
        for f in found
    ]  # fmt: skip
    headers = ["episode", "name", "index", "start", "end", "expected", "stored move", "status"]
    return AssetCheckResult(
        asset_key=MARKET_EPISODES,
        check_name=CHECK_NAME,
        passed=not contradicted,
        severity=AssetCheckSeverity.WARN,
        description=summary,
        metadata={
            "version": calendar.version,
            "reviewed_on": calendar.reviewed_on.isoformat(),
            **{status.replace(" ", "_"): count for status, count in counts.items()},
            "episodes": MetadataValue.md(markdown.table(headers, rows)),
            **{f.episode.id: f.line() for f in found},
        },
    )


@asset_check(
    asset=MARKET_EPISODES,
    name=CHECK_NAME,
    additional_deps=[MARKET_INDICES],
    blocking=False,
    metadata=severity_metadata(AssetCheckSeverity.WARN),
    description=(
        "WARN when the stored KOSPI/KOSDAQ closes of an episode's start and end day contradict its "
        "direction and size band; episodes whose days are not stored are reported, not failed."
    ),
)
def episodes_match_index_data(warehouse: Warehouse) -> AssetCheckResult:
    # Whole-history check, not partitioned: it reads the episodes' ~30 days whatever the run's day.
    try:
        calendar = shipped_calendar()
        closes = stored_closes(warehouse, calendar)
    except (EpisodeFileError, WarehouseError) as error:
        # Recorded as a failed WARN result, as the other WARN checks do: it blocks and alerts nothing.
        return AssetCheckResult(
            asset_key=MARKET_EPISODES,
            check_name=CHECK_NAME,
            passed=False,
            severity=AssetCheckSeverity.WARN,
            description=f"The check could not be evaluated: {error}",
        )
    return calendar_result(calendar, closes)
