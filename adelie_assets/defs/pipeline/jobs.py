"""The daily job: every asset of one trading day, in dependency order."""

import warnings

from dagster import AssetKey, AssetSelection, define_asset_job

# Every asset of one trading day; the catch-up sensor counts a day done only when all of them are.
DAILY_ASSETS = tuple(
    AssetKey(name)
    for name in (
        "market_data",
        "market_indices",
        "daily_themes",
        "analog_features",
        "market_analogs",
        "historical_cases",
        "app_briefing",
        "app_cases",
    )
)

# The KRX assets backfill 250 days a run, the others 25 (defs/market/assets.py). An asset backfill
# chunks each asset by its own policy; a backfill of this job (one run per chunk of every asset)
# takes the smaller, 25, which Dagster says in a UserWarning at every load of the code location.
# That is the intended choice, so the warning of this job alone is silenced.
warnings.filterwarnings(
    "ignore",
    message=r"Asset job daily_pipeline materializes assets with varying BackfillPolicies",
    category=UserWarning,
)

# In-process, as every job of the location (definitions.py).
daily_pipeline = define_asset_job(
    name="daily_pipeline",
    # AssetSelection.assets() includes the assets' checks (verified on 1.13): the blocking checks of
    # market_data run before historical_cases and a failed one keeps it from running.
    selection=AssetSelection.assets(*DAILY_ASSETS),
    description=(
        "market_data and market_indices, then daily_themes, analog_features, market_analogs, "
        "historical_cases and the app feed, each with its checks, for one KRX trading day; a failed "
        "step or blocking check skips what depends on it."
    ),
)
