"""Checks of `daily_themes`, `analog_features` and `market_analogs`: the verdicts of verdicts.py on
the stored rows of each checked day, blocking. The same declarations guard each table's write, on
the new rows (defs/table_guards.py)."""

from __future__ import annotations

from dagster import AssetChecksDefinition

from adelie_assets.defs.analogs.assets import analog_features, market_analogs
from adelie_assets.defs.analogs.verdicts import analogs_verdict, features_verdict, themes_verdict
from adelie_assets.defs.cases.daily_themes import daily_themes
from adelie_assets.defs.market.assets import market_data
from adelie_assets.lib.partitioned_checks import DailyCheck, asset_checks, daily_check, table_reader
from adelie_assets.resources.warehouse import (
    Warehouse,
    analog_features_table,
    daily_themes_table,
    market_analogs_table,
)

# --- checks -------------------------------------------------------------------------------------

themes_are_sound = daily_check(
    daily_themes,
    "themes_are_sound",
    themes_verdict,
    reads=(table_reader(daily_themes_table), Warehouse.read_market_data),
    additional_deps=[market_data],
    description="Every theme has stocks of the day's market_data, an app category and a selection reason.",
)
features_cover_the_day = daily_check(
    analog_features,
    "features_cover_the_day",
    features_verdict,
    reads=(table_reader(analog_features_table), Warehouse.read_market_data),
    additional_deps=[market_data],
    description="One feature vector per market_data ticker of the day, and both indices'.",
)
analogs_are_sound = daily_check(
    market_analogs,
    "analogs_are_sound",
    analogs_verdict,
    reads=(table_reader(market_analogs_table),),
    description="Analogs >= 60 trading days back, similarity 0-100, every feature, +60 known, both indices.",
)

# Also the guards of the three tables' writes (defs/table_guards.py), on the new rows.
analog_declarations: list[DailyCheck] = [themes_are_sound, features_cover_the_day, analogs_are_sound]
analog_checks: list[AssetChecksDefinition] = asset_checks(analog_declarations)
