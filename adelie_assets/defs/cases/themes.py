"""Pick the day's themes: the moves worth explaining, among liquid stocks, deterministically."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# In priority order; `theme_count` takes the first N that have stocks.
THEME_KINDS: list[tuple[str, str, str | None]] = [
    ("kospi_gainers", "Top gainers on KOSPI", "KOSPI"),
    ("kosdaq_gainers", "Top gainers on KOSDAQ", "KOSDAQ"),
    ("kospi_losers", "Top losers on KOSPI", "KOSPI"),
    ("kosdaq_losers", "Top losers on KOSDAQ", "KOSDAQ"),
    ("most_traded", "Most traded by value (KOSPI and KOSDAQ)", None),
    ("largest_caps_moving", "Largest companies that moved most", None),
]
MAX_THEMES = len(THEME_KINDS)

# The app's words for each theme (contract-12-13): Korean label, category and selection reason.
LABELS_KO: dict[str, str] = {
    "kospi_gainers": "코스피 급등주",
    "kosdaq_gainers": "코스닥 급등주",
    "kospi_losers": "코스피 급락주",
    "kosdaq_losers": "코스닥 급락주",
    "most_traded": "거래대금 상위주",
    "largest_caps_moving": "대형주 급변동",
}
CATEGORIES: dict[str, str] = {
    "kospi_gainers": "급등주",
    "kosdaq_gainers": "급등주",
    "kospi_losers": "급락주",
    "kosdaq_losers": "급락주",
    "most_traded": "거래량",
    "largest_caps_moving": "대형주",
}


@dataclass(frozen=True)
class Stock:
    ticker: str
    name: str
    market: str
    close: int
    change_pct: float
    trading_value: int
    market_cap: int
    volume: int = 0


@dataclass(frozen=True)
class Theme:
    rank: int
    key: str
    label: str
    stocks: tuple[Stock, ...]

    @property
    def tickers(self) -> list[str]:
        return [s.ticker for s in self.stocks]

    @property
    def label_ko(self) -> str:
        return LABELS_KO[self.key]

    @property
    def category(self) -> str:
        return CATEGORIES[self.key]

    @property
    def selection_reason(self) -> str:
        """The app's list: 'top_gainer' | 'top_loser' | 'high_volume'. Large caps that moved most go
        by the sign of the largest move (their first stock)."""
        if self.key.endswith("gainers"):
            return "top_gainer"
        if self.key.endswith("losers"):
            return "top_loser"
        if self.key == "most_traded":
            return "high_volume"
        return "top_gainer" if self.stocks[0].change_pct >= 0 else "top_loser"

    @property
    def market(self) -> str | None:
        """KOSPI or KOSDAQ when the theme is one market's, else None."""
        markets = {s.market for s in self.stocks}
        return markets.pop() if len(markets) == 1 else None


def _rank(frame: pd.DataFrame, key: str, count: int) -> pd.DataFrame:
    # Ticker as the tie-breaker keeps the choice identical for identical input.
    if key.endswith("gainers"):
        ordered = frame[frame["change_pct"] > 0].sort_values(
            ["change_pct", "ticker"], ascending=[False, True]
        )
    elif key.endswith("losers"):
        ordered = frame[frame["change_pct"] < 0].sort_values(["change_pct", "ticker"], ascending=[True, True])
    elif key == "most_traded":
        ordered = frame.sort_values(["trading_value", "ticker"], ascending=[False, True])
    else:
        largest = frame.nlargest(50, "market_cap")
        ordered = largest.assign(move=largest["change_pct"].abs()).sort_values(
            ["move", "ticker"], ascending=[False, True]
        )
    return ordered.head(count)


def select_themes(
    market_data: pd.DataFrame, theme_count: int, stocks_per_theme: int, min_trading_value: int
) -> list[Theme]:
    liquid = market_data[(~market_data["halted"]) & (market_data["trading_value"] >= min_trading_value)]
    themes: list[Theme] = []
    for key, label, market in THEME_KINDS:
        if len(themes) == theme_count:
            break
        pool = liquid if market is None else liquid[liquid["market"] == market]
        chosen = _rank(pool, key, stocks_per_theme)
        if chosen.empty:
            continue
        stocks = tuple(
            Stock(
                ticker=str(r.ticker),
                name=str(r.name),
                market=str(r.market),
                close=int(r.close),
                change_pct=float(r.change_pct),
                trading_value=int(r.trading_value),
                market_cap=int(r.market_cap),
                volume=int(r.volume),
            )
            for r in chosen.itertuples()
        )
        themes.append(Theme(rank=len(themes) + 1, key=key, label=label, stocks=stocks))
    return themes
