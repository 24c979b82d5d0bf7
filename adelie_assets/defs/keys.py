"""The asset keys of the warehouse assets, for the modules that name an asset before it is defined
(its checks, which the asset's own step records, and the app feed's dependencies)."""

from dagster import AssetKey

MARKET_DATA = AssetKey("market_data")
MARKET_INDICES = AssetKey("market_indices")
DAILY_THEMES = AssetKey("daily_themes")
ANALOG_FEATURES = AssetKey("analog_features")
MARKET_ANALOGS = AssetKey("market_analogs")
HISTORICAL_CASES = AssetKey("historical_cases")
