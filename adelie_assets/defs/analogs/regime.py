"""Where in market history a day sat, and the path that followed an analog (issue 33, item 1).

Pure, over the histories the search already holds: the market index's distance from its 250-day
high and its one-year change (for the analog's day and for today), and, for the analog and its
index, the lowest and the highest close within the 60 trading days after (adjusted, as the paths).
Rules: docs/analogs.md, "Regime facts".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adelie_assets.defs.analogs.search import History

YEAR_DAYS = 250  # trading days in a KRX year: the look-back of the high and of the one-year change
AFTER_DAYS = 60  # the span of the lowest and highest close after an analog (its +60 outcome's)


@dataclass
class IndexLevels:
    """One index's closes on the history's calendar (NaN where not stored), for regime look-ups."""

    history: History
    closes: dict[str, np.ndarray] = field(default_factory=dict)

    def _closes(self, name: str) -> np.ndarray:
        if name not in self.closes:
            values = [self.history.close(name, p) for p in range(len(self.history.calendar))]
            self.closes[name] = np.array([np.nan if v is None else v for v in values])
        return self.closes[name]

    def regime(self, name: str, position: int) -> dict[str, object]:
        """The index's place on a day: % from its highest close of the last 250 trading days (the
        day's included), and % change over 250 trading days; None where the warehouse holds less."""
        closes = self._closes(name)
        today = closes[position] if 0 <= position < closes.size else np.nan
        window = closes[max(0, position - YEAR_DAYS + 1) : position + 1]
        full = position - YEAR_DAYS + 1 >= 0 and not np.isnan(window).any()
        year_ago = closes[position - YEAR_DAYS] if position >= YEAR_DAYS else np.nan
        return {
            "index": name,
            "from_250d_high_pct": _pct(today, np.max(window)) if full and not np.isnan(today) else None,
            "change_1y_pct": _pct(today, year_ago),
        }


def _pct(value: float, base: float) -> float | None:
    if np.isnan(value) or np.isnan(base) or base == 0:
        return None
    return round(float((value / base - 1) * 100), 2)


def extremes_after(path: list[dict[str, object]], days: int = AFTER_DAYS) -> dict[str, object]:
    """The lowest and the highest close of a chart path (History.path: adjusted, `pct` vs. its day)
    within `days` trading days after its day, and on which day after it (1..days); None if shorter."""
    after = [p for p in path if 0 < int(p["offset"]) <= days]  # type: ignore[call-overload]
    if len(after) < days:
        return {"lowest_pct": None, "lowest_day": None, "highest_pct": None, "highest_day": None}
    lowest = min(after, key=lambda p: (p["pct"], p["offset"]))  # type: ignore[arg-type,return-value]
    highest = min(after, key=lambda p: (-p["pct"], p["offset"]))  # type: ignore[arg-type,operator,return-value]
    return {
        "lowest_pct": lowest["pct"],
        "lowest_day": lowest["offset"],
        "highest_pct": highest["pct"],
        "highest_day": highest["offset"],
    }
