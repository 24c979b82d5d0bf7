"""Nearest past setups: standardise, measure, pick k distinct episodes, read what followed.

Pure numpy. The rules (scope, standardisation, distance, similarity, gaps) are in docs/analogs.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from adelie_assets.defs.analogs.features import (
    ADJUSTMENT,
    CLOSE,
    COLUMNS,
    FEATURES,
    INDEX_FEATURES,
    LOOKBACK_DAYS,
    MARKET_CODE,
    MARKETS,
    SIZE_TIER,
    SIZE_TIERS,
    FeatureBlock,
    require_finite,
    ticker_code,
    ticker_of,
)

DEFAULT_K = 3
MIN_GAP_DAYS = 60  # an analog is at least this many trading days before the day: its +60 is known
EPISODE_GAP_DAYS = 20  # two analogs of one subject are at least this far apart: distinct episodes
OUTCOME_SPANS: tuple[int, ...] = (5, 20, 60)
PATH_BEFORE, PATH_AFTER = 20, 60
MIN_CANDIDATE_DAYS = 20  # fewer searchable days than this is "too little history"
_SHORTLIST = 512
_GROUP = 5  # subjects per matrix product (a chunk): ~1.6x faster a subject than one product each


class NotEnoughHistory(ValueError):
    """Too few past days with features to search; the message says how many more to backfill."""


def similarity(distance: float, dimensions: int) -> float:
    """100 for an identical setup, 100/e (36.8) when the setups differ by one standard deviation per
    feature on average (root mean square), falling towards 0 beyond."""
    return 100.0 * math.exp(-distance / math.sqrt(dimensions))


@dataclass
class History:
    """Feature blocks of one kind laid end to end, addressable by calendar position and ticker."""

    calendar: list[date]  # every trading day from the first block's to the last
    codes: np.ndarray  # uint64 per row
    values: np.ndarray  # float32 (rows, len(COLUMNS))
    positions: np.ndarray  # int32 calendar position per row
    starts: np.ndarray  # row range of each calendar position: [starts[p], starts[p+1])

    @classmethod
    def build(cls, blocks: Sequence[FeatureBlock], calendar: Sequence[date]) -> History:
        """`calendar`: the trading days covering the blocks (missing days simply have no rows)."""
        calendar = sorted(calendar)
        where = {day: i for i, day in enumerate(calendar)}
        by_position = sorted(blocks, key=lambda b: b.day)
        counts = np.zeros(len(calendar), dtype=np.int64)
        for block in by_position:
            if block.day not in where:
                raise ValueError(f"feature block of {block.day} is not a trading day of the calendar")
            counts[where[block.day]] = len(block.codes)
        starts = np.concatenate([[0], np.cumsum(counts)])
        codes = np.empty(int(starts[-1]), dtype="<u8")
        # Feature-major in memory (one contiguous array per column); `values` is its (rows, columns) view.
        columns = np.empty((len(COLUMNS), int(starts[-1])), dtype=np.float32)
        for block in by_position:
            _require_finite(block)
            start = int(starts[where[block.day]])
            codes[start : start + len(block.codes)] = block.codes
            columns[:, start : start + len(block.codes)] = block.values.T
        values = columns.T
        positions = np.repeat(np.arange(len(calendar), dtype=np.int32), counts)
        return cls(list(calendar), codes, values, positions, starts)

    def day_rows(self, day: date) -> int:
        position = self.calendar.index(day)
        return int(self.starts[position + 1] - self.starts[position])

    def position(self, day: date) -> int:
        return self.calendar.index(day)

    def row(self, ticker: str, position: int) -> int | None:
        """Row of `ticker` at calendar `position`, or None (no quote that day)."""
        return self._row(np.uint64(ticker_code(ticker)), position)

    def _row(self, code: np.uint64, position: int) -> int | None:
        if position < 0 or position >= len(self.calendar):
            return None
        start, end = int(self.starts[position]), int(self.starts[position + 1])
        found = start + int(self.codes[start:end].searchsorted(code))
        return found if found < end and self.codes[found] == code else None

    def close(self, ticker: str, position: int) -> float | None:
        return self._close(np.uint64(ticker_code(ticker)), position)

    def _close(self, code: np.uint64, position: int) -> float | None:
        found = self._row(code, position)
        if found is None:
            return None
        value = float(self.values[found, CLOSE])
        return None if math.isnan(value) else value

    def _factor(self, code: np.uint64, position: int) -> float | None:
        found = self._row(code, position)
        value = float(self.values[found, ADJUSTMENT]) if found is not None else math.nan
        return None if math.isnan(value) else value

    def adjusted_closes(self, ticker: str, position: int, before: int, after: int) -> dict[int, float]:
        """Closes from `before` days before `position` to `after` after, by offset, in the shares of
        the day at `position`: each day's adjustment factor carries a close across a corporate action.
        They stop where the series does (no quote, or a factor NaN: a listing change)."""
        code = np.uint64(ticker_code(ticker))
        base = self._close(code, position)
        if base is None:
            return {}
        closes = {0: base}
        multiplier = 1.0
        for offset in range(1, after + 1):
            factor, value = self._factor(code, position + offset), self._close(code, position + offset)
            if factor is None or value is None:
                break
            multiplier *= factor
            closes[offset] = value / multiplier
        multiplier = 1.0
        for offset in range(1, before + 1):
            factor, value = self._factor(code, position - offset + 1), self._close(code, position - offset)
            if factor is None or value is None:
                break
            multiplier *= factor
            closes[-offset] = value * multiplier
        return closes

    def change_after(self, ticker: str, position: int, span: int) -> float | None:
        closes = self.adjusted_closes(ticker, position, 0, span)
        start, end = closes.get(0), closes.get(span)
        return None if start is None or end is None or start == 0 else round((end / start - 1) * 100, 2)

    def path(self, ticker: str, position: int, before: int, after: int) -> list[dict[str, object]]:
        closes = self.adjusted_closes(ticker, position, before, after)
        if not closes:
            return []
        base = closes[0]
        return [
            {
                "offset": offset,
                "date": self.calendar[position + offset].isoformat(),
                "close": round(closes[offset], 2),
                "pct": round((closes[offset] / base - 1) * 100, 2),
            }
            for offset in sorted(closes)
        ]

    def searchable_days(self, position: int, width: int) -> int:
        """Days with a complete vector of `width` features at least MIN_GAP_DAYS before `position`."""
        last = position - MIN_GAP_DAYS
        if last < 0:
            return 0
        complete = ~np.isnan(self.values[: self.starts[last + 1], :width]).any(axis=1)
        found = self.positions[: self.starts[last + 1]][complete]
        # Positions are in order: the distinct ones are the changes, without np.unique's sort.
        return int(np.count_nonzero(np.diff(found))) + 1 if found.size else 0


def _require_finite(block: FeatureBlock) -> None:
    """A stored infinite value (a block written before analog_features refused them) is named with
    its ticker and day before any search, instead of failing the search without either."""
    if np.isinf(block.values).any():
        require_finite(
            block.day,
            block.kind,
            block.tickers,
            block.values,
            f"they were stored before analog_features refused such a value: re-materialize "
            f"analog_features for {block.day}",
        )


@dataclass
class Analog:
    ticker: str
    day: date
    position: int
    distance: float
    similarity: float
    features: dict[str, float | None]
    market: str
    after_pct: dict[int, float | None] = field(default_factory=dict)
    index_after_pct: dict[int, float | None] = field(default_factory=dict)
    path: list[dict[str, object]] = field(default_factory=list)
    size_tier: str | None = None  # SIZE_TIERS name on the analog's day; None for an index


@dataclass
class SubjectAnalogs:
    subject: str
    kind: str  # 'stock' | 'index'
    features: dict[str, float | None]
    analogs: list[Analog]
    path_today: list[dict[str, object]]
    market: str = ""  # the subject's market index (an index subject's own name)
    size_tier: str | None = None  # SIZE_TIERS name today; None for an index or an unknown market cap


def _tier_name(row: np.ndarray) -> str | None:
    tier = float(row[SIZE_TIER])
    return None if math.isnan(tier) else SIZE_TIERS[int(tier)]


def _feature_dict(row: np.ndarray, names: Sequence[str]) -> dict[str, float | None]:
    return {
        n: (None if math.isnan(float(v)) else round(float(v), 4)) for n, v in zip(names, row, strict=False)
    }


class Candidates:
    """The candidates of one kind, prepared once for the days of a chunk.

    A day's candidates are a prefix of the history (it is in date order), and its standardised
    distance needs only that prefix's standard deviation (the mean cancels in x - q). So the history
    is copied and scaled once, by the moments of the longest prefix, and each day weighs the features
    by (that scale / its own standard deviation)^2: the days of a chunk share one matrix instead of
    copying and standardising 5.9 M vectors each. Each day's moments add the sums of the rows since
    the previous day's prefix to that prefix's.
    """

    def __init__(self, history: History, kind: str, days: Sequence[date]) -> None:
        self.history, self.kind = history, kind
        width = len(FEATURES if kind == "stock" else INDEX_FEATURES)
        where = {day: i for i, day in enumerate(history.calendar)}
        lasts = sorted({where[d] - MIN_GAP_DAYS for d in days if d in where})
        self.last = lasts[-1] if lasts else -1
        upto = int(history.starts[self.last + 1]) if self.last >= 0 else 0
        # Feature-major (one contiguous row per feature): q @ matrix is ~4x faster than row-major
        # matrix @ q. One extra row holds the prepared day's w.x^2, so that a subject's distances are
        # one product: [-2 w q, 1] @ matrix.
        matrix = np.empty((width + 1, upto), dtype=np.float32)
        matrix[:width] = history.values[:upto, :width].T
        complete = ~np.isnan(np.ones(width, dtype=np.float32) @ matrix[:width])
        complete &= ~np.isnan(history.values[:upto, CLOSE])
        matrix[:width, ~complete] = 0.0
        self.moments_at: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}
        count, sums, squares, start = 0, np.zeros(width), np.zeros(width), 0
        for last in lasts:
            end = int(history.starts[last + 1]) if last >= 0 else 0
            part = matrix[:width, start:end]
            count += int(complete[start:end].sum())
            sums = sums + part.sum(axis=1, dtype=np.float64)
            squares = squares + np.einsum("ij,ij->i", part, part, dtype=np.float64)
            self.moments_at[last] = (count, *_moments(count, sums, squares))
            start = end
        _, self.center, self.scale = self.moments_at.get(self.last, (0, np.zeros(width), np.ones(width)))
        # Scaled by the longest prefix's moments, the columns are near 0 and near 1 as standardised
        # ones: float32 keeps the shortlist's order. Incomplete rows stay zero (+inf w.x^2).
        matrix[:width] -= self.center.astype(np.float32)[:, None]
        matrix[:width] /= self.scale.astype(np.float32)[:, None]
        matrix[:width, ~complete] = 0.0
        self.matrix, self.complete, self.prepared = matrix, complete, None
        # The distances of a group of subjects, reused: fresh memory costs as much in page faults as
        # the product. A group's 5 x 24 MB (at 5.9 M candidates) pay back over several days only.
        self.group = _GROUP if len(lasts) > 1 else 1
        self.distances = np.empty((self.group, upto), dtype=np.float32)

    def prepare(self, last: int, weights: np.ndarray) -> np.ndarray:
        """The matrix of the candidates up to position `last`, its last row their w.x^2."""
        upto = int(self.history.starts[last + 1]) if last >= 0 else 0
        if self.prepared != last:
            norms, square = self.matrix[-1, :upto], self.distances[0, :upto]
            norms[:] = 0.0
            for j, weight in enumerate(weights.astype(np.float32)):
                np.multiply(self.matrix[j, :upto], self.matrix[j, :upto], out=square)
                square *= weight
                norms += square
            norms[~self.complete[:upto]] = np.inf  # never a candidate
            self.prepared = last
        return self.matrix[:, :upto]


def _moments(count: int, sums: np.ndarray, squares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not count:
        return np.zeros(sums.size), np.ones(sums.size)
    mean = sums / count
    variance = squares / count - mean**2
    return mean, np.sqrt(np.where(variance > 1e-12, variance, 1.0))


class Searcher:
    """Answers the subjects of one day over its candidates (`candidates`: prepared once for every day
    of a chunk; by default for this day alone, the same computation).

    Distances use the day's weights w over the scaled candidates x: |x-q|^2_w = w.x^2 - 2 (w q).x +
    const, so that a subject costs one matrix-vector product over the history (a few subjects, one
    matrix product); the shortlist is then re-measured exactly, standardised by the day's own mean
    and standard deviation.
    """

    def __init__(
        self,
        history: History,
        day: date,
        kind: str,
        index_history: History | None = None,
        candidates: Candidates | None = None,
    ) -> None:
        self.history = history
        self.kind = kind
        self.names = FEATURES if kind == "stock" else INDEX_FEATURES
        self.index_history = index_history if kind == "stock" else history
        self.position = history.position(day)
        self.candidates = candidates if candidates is not None else Candidates(history, kind, [day])
        self.last = self.position - MIN_GAP_DAYS
        if self.candidates.history is not history or self.candidates.kind != kind:
            raise ValueError(f"the candidates given are not those of this {kind} history")
        if self.last not in self.candidates.moments_at:
            raise ValueError(f"the {kind} candidates given were not prepared for {day}")
        self.count, self.mean, self.std = self.candidates.moments_at[self.last]
        self.weights = (self.candidates.scale / self.std) ** 2

    def _standardise(self, row: np.ndarray) -> np.ndarray:
        return (row[: len(self.names)].astype(np.float64) - self.mean) / self.std

    def find(self, subject: str, k: int = DEFAULT_K) -> SubjectAnalogs | None:
        """The k nearest distinct past episodes of `subject` at the day, or None if it has no
        complete feature vector that day (e.g. listed less than 20 trading days ago, or halted)."""
        return self.find_all([subject], k)[0]

    def find_all(self, subjects: Sequence[str], k: int = DEFAULT_K) -> list[SubjectAnalogs | None]:
        """`find` of each subject, in order; a few subjects share one pass over the candidates."""
        found: list[SubjectAnalogs | None] = [None] * len(subjects)
        todays = [(i, self._today(s)) for i, s in enumerate(subjects)]
        todays = [(i, raw) for i, raw in todays if raw is not None]
        for start in range(0, len(todays), self.candidates.group):
            group = todays[start : start + self.candidates.group]
            distances = self._squared([raw for _, raw in group])  # overwritten by the next group
            for (i, raw), squared in zip(group, distances, strict=True):
                found[i] = self._find(subjects[i], raw, squared, k)
        return found

    def _today(self, subject: str) -> np.ndarray | None:
        today_row = self.history.row(subject, self.position)
        if today_row is None:
            return None
        raw_today = self.history.values[today_row]
        return None if np.isnan(raw_today[: len(self.names)]).any() else raw_today

    def _squared(self, raws: list[np.ndarray]) -> np.ndarray:
        """|x-q|^2_w - w.q^2 of every candidate for each subject (a row each): the same order as the
        distance; exact distances come in _pick."""
        width, shared = len(self.names), self.candidates
        coefficients = np.ones((len(raws), width + 1))
        for n, raw in enumerate(raws):
            scaled = (raw[:width].astype(np.float64) - shared.center) / shared.scale
            coefficients[n, :width] = -2.0 * self.weights * scaled
        matrix = shared.prepare(self.last, self.weights)
        return np.matmul(
            coefficients.astype(np.float32), matrix, out=shared.distances[: len(raws), : matrix.shape[1]]
        )

    def _find(self, subject: str, raw_today: np.ndarray, squared: np.ndarray, k: int) -> SubjectAnalogs:
        query = self._standardise(raw_today)
        if self.kind == "index":  # an index is compared with its own past only
            squared[self.history.codes[: squared.size] != np.uint64(ticker_code(subject))] = np.inf
        chosen: list[Analog] = []
        available = int(np.isfinite(squared).sum()) if self.kind == "index" else self.count
        shortlist = min(_SHORTLIST, available)
        while shortlist:
            chosen = self._pick(_nearest(squared, shortlist), query, k, float(raw_today[SIZE_TIER]))
            if len(chosen) == k or shortlist == available:
                break
            shortlist = min(shortlist * 8, available)
        return SubjectAnalogs(
            subject=subject,
            kind=self.kind,
            features=_feature_dict(raw_today, self.names),
            analogs=chosen,
            path_today=self.history.path(subject, self.position, PATH_BEFORE, 0),
            market=MARKETS[int(raw_today[MARKET_CODE])] if self.kind == "stock" else subject,
            size_tier=_tier_name(raw_today),
        )

    def _pick(self, rows: np.ndarray, query: np.ndarray, k: int, size_tier: float = math.nan) -> list[Analog]:
        """Greedy, nearest first: skip a setup of another size tier (a stock of a known tier is
        compared with stocks of its size only), one whose outcome is not fully known or that falls
        within EPISODE_GAP_DAYS of one already chosen. Distances are recomputed exactly in float64."""
        rows = rows[self.candidates.complete[rows]]
        if self.kind == "stock" and not math.isnan(size_tier):
            rows = rows[self.history.values[rows, SIZE_TIER] == size_tier]
        exact = np.sqrt(((self._standardise_rows(rows) - query) ** 2).sum(axis=1))
        order = np.argsort(exact, kind="stable")
        chosen: list[Analog] = []
        for i in order:
            row = int(rows[i])
            position = int(self.history.positions[row])
            if any(abs(position - a.position) < EPISODE_GAP_DAYS for a in chosen):
                continue
            ticker = ticker_of(self.history.codes[row])
            after = {s: self.history.change_after(ticker, position, s) for s in OUTCOME_SPANS}
            if any(v is None for v in after.values()):
                continue
            market = MARKETS[int(self.history.values[row, MARKET_CODE])]
            index_name = market if self.kind == "stock" else ticker
            index_after = (
                {s: self.index_history.change_after(index_name, position, s) for s in OUTCOME_SPANS}
                if self.index_history is not None
                else dict.fromkeys(OUTCOME_SPANS)
            )
            distance = float(exact[i])
            chosen.append(
                Analog(
                    ticker=ticker,
                    day=self.history.calendar[position],
                    position=position,
                    distance=round(distance, 6),
                    similarity=round(similarity(distance, len(self.names)), 2),
                    features=_feature_dict(self.history.values[row], self.names),
                    market=market,
                    after_pct=after,
                    index_after_pct=index_after,
                    path=self.history.path(ticker, position, PATH_BEFORE, PATH_AFTER),
                    size_tier=_tier_name(self.history.values[row]),
                )
            )
            if len(chosen) == k:
                break
        return chosen

    def _standardise_rows(self, rows: np.ndarray) -> np.ndarray:
        raw = self.history.values[rows, : len(self.names)].astype(np.float64)
        return (raw - self.mean) / self.std


def _nearest(squared: np.ndarray, count: int) -> np.ndarray:
    """Rows of the `count` smallest values, nearest first. A threshold from a strided sample cuts the
    array down before the exact partition (a full argpartition of 5.9 M costs ~50 ms)."""
    step = max(1, count // 64)
    if squared.size > 200_000 and step > 1:
        sample = squared[::step]
        rank = min(sample.size - 1, 4 * count // step)
        threshold = np.partition(sample, rank)[rank]
        subset = np.flatnonzero(squared <= threshold)
        if subset.size >= count:
            top = subset[np.argpartition(squared[subset], count - 1)[:count]]
            return top[np.argsort(squared[top], kind="stable")]
    top = np.argpartition(squared, count - 1)[:count]
    return top[np.argsort(squared[top], kind="stable")]


def require_history(history: History, day: date, kind: str, minimum: int = MIN_CANDIDATE_DAYS) -> int:
    """Searchable days before `day`; raises NotEnoughHistory naming how much to backfill."""
    width = len(FEATURES if kind == "stock" else INDEX_FEATURES)
    found = history.searchable_days(history.position(day), width)
    if found >= minimum:
        return found
    raise NotEnoughHistory(
        f"{found} searchable trading day(s) of {kind} history before {day} (days at least {MIN_GAP_DAYS} "
        f"trading days earlier with complete features); {minimum} are needed"
    )


def days_needed(minimum: int = MIN_CANDIDATE_DAYS) -> int:
    """Trading days of quotes before a day that its search needs: features' look-back, the searchable
    days, the gap to the day."""
    return LOOKBACK_DAYS + minimum + MIN_GAP_DAYS
