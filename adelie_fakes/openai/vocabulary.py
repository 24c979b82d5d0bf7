"""The words the fake OpenAI builds its made-up historical cases from."""

from __future__ import annotations

from typing import Final

_SUBJECTS: Final = (
    "the KOSPI",
    "the KOSDAQ",
    "chipmakers",
    "shipbuilders",
    "battery makers",
    "bio stocks",
    "brokerage shares",
    "exporters",
    "large-cap tech names",
    "steelmakers",
    "defense contractors",
    "internet platforms",
)
_ACTORS: Final = (
    "foreign investors",
    "retail investors",
    "the national pension fund",
    "institutional desks",
    "short sellers",
    "margin traders",
)
_MOVES: Final = (
    "rallied sharply",
    "slid for weeks",
    "swung wildly",
    "climbed to record highs",
    "broke below key support",
    "rebounded from deep losses",
    "doubled within a few months",
    "gave back a year of gains",
)
_CAUSES: Final = (
    "export data beat expectations",
    "the Bank of Korea surprised the market with a rate move",
    "foreign money rushed back into Seoul",
    "the global memory-chip cycle turned",
    "the won weakened sharply against the dollar",
    "regulators changed the short-selling rules",
    "government policy support lifted sentiment",
    "earnings revisions finally turned positive",
    "a wave of new listings drained liquidity",
    "China's demand outlook shifted almost overnight",
)
_LESSONS: Final = (
    "momentum can run far ahead of fundamentals",
    "policy headlines fade faster than earnings trends",
    "crowded trades tend to unwind abruptly",
    "liquidity matters more than narratives in the short run",
    "patient investors were rewarded once earnings caught up",
    "valuation discipline protects capital when sentiment turns",
    "the first sharp drop is rarely the last one",
)
_TITLE_ADJECTIVES: Final = (
    "Semiconductor",
    "Export",
    "Liquidity",
    "Policy",
    "Foreign-Flow",
    "Bio",
    "Battery",
    "Shipbuilding",
    "Won",
)
_TITLE_NOUNS: Final = ("Rally", "Squeeze", "Shakeout", "Boom", "Correction", "Rebound", "Mania", "Selloff")
_TERMS: Final = {
    "Short covering": "Buying back borrowed shares to close a short position, which can amplify a rally.",
    "Foreign net buying": "The value of shares foreign investors bought minus the value they sold that day.",
    "Circuit breaker": "A market-wide trading halt triggered when the index falls by a set percentage.",
    "Price limit": "The maximum daily move allowed for a single stock, currently 30% either way in Korea.",
    "Program trading": "Computer-driven basket orders, often arbitrage between futures and the cash market.",
    "Credit balance": "Money retail investors have borrowed from brokers to buy shares on margin.",
    "Sidecar": "A five-minute pause of program trading when index futures move sharply.",
    "Value-up program": "A government push for listed companies to raise shareholder returns and valuations.",
    "Earnings revision": "A change in analysts' profit forecasts, often a driver of the next price trend.",
    "Sector rotation": "Money moving from one industry group to another as the economic outlook changes.",
}
_SENTENCES: Final = (
    "In {year}, {subject} {move} as {cause}.",
    "{actor} drove much of the move, and {subject} {move} once {cause}.",
    "The episode showed that {lesson}.",
    "Looking back, {lesson}, even though {cause}.",
    "Within months {subject} {move}, a reminder that {lesson}.",
    "Few expected that {subject} {move} so quickly after {cause}.",
    "Investors who stayed disciplined learned that {lesson}.",
)
_THEME_SENTENCES: Final = (
    "The setup rhymes with today's {theme} story.",
    "Much like today's {theme} move, {subject} {move}.",
)
_TICKER_SENTENCES: Final = ("Shares such as {ticker} were at the center of the move.",)
