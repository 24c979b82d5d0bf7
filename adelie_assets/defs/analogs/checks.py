"""Checks of `daily_themes`, `analog_features` and `market_analogs`: the verdicts of verdicts.py,
blocking. Each asset evaluates its own on the new rows before its write (lib/validate.py) and
records them from the same step."""

from __future__ import annotations

from adelie_assets.defs.analogs.verdicts import analogs_verdict, features_verdict, themes_verdict
from adelie_assets.defs.keys import ANALOG_FEATURES, DAILY_THEMES, MARKET_ANALOGS, MARKET_DATA
from adelie_assets.lib.partitioned_checks import DailyCheck, daily_check, table_reader
from adelie_assets.resources.warehouse import (
    Warehouse,
    analog_features_table,
    daily_themes_table,
    market_analogs_table,
)

# --- checks -------------------------------------------------------------------------------------

themes_are_sound = daily_check(
    DAILY_THEMES,
    "themes_are_sound",
    themes_verdict,
    reads=(table_reader(daily_themes_table), Warehouse.read_market_data),
    additional_deps=[MARKET_DATA],
    description="Every theme has stocks of the day's market_data, an app category and a selection reason.",
)
features_cover_the_day = daily_check(
    ANALOG_FEATURES,
    "features_cover_the_day",
    features_verdict,
    reads=(table_reader(analog_features_table), Warehouse.read_market_data),
    additional_deps=[MARKET_DATA],
    description="One feature vector per market_data ticker of the day, and both indices'.",
)
analogs_are_sound = daily_check(
    MARKET_ANALOGS,
    "analogs_are_sound",
    analogs_verdict,
    reads=(table_reader(market_analogs_table),),
    description="Analogs >= 60 trading days back, similarity 0-100, every feature, +60 known, both indices.",
)

DAILY_THEMES_CHECKS: list[DailyCheck] = [themes_are_sound]
ANALOG_FEATURES_CHECKS: list[DailyCheck] = [features_cover_the_day]
MARKET_ANALOGS_CHECKS: list[DailyCheck] = [analogs_are_sound]
