"""The code location: `defs` is what `dagster dev`, the gRPC server and `dagster definitions validate` load.

Loading must never call KRX or OpenAI and must work with no credentials set. An explicit list, not
`load_from_defs_folder`, which fails for the image's non-editable install: docs/dagster-notes.md.
"""

from dagster import Definitions, in_process_executor

from adelie_assets.defs.analogs.assets import analog_features, market_analogs
from adelie_assets.defs.app.assets import app_feed
from adelie_assets.defs.cases.assets import historical_cases
from adelie_assets.defs.cases.daily_themes import daily_themes
from adelie_assets.defs.market.assets import market_data
from adelie_assets.defs.market.indices import market_indices
from adelie_assets.defs.pipeline.alerts import alert_on_run_failure
from adelie_assets.defs.pipeline.catch_up import catch_up_missed_days
from adelie_assets.defs.pipeline.jobs import daily_pipeline
from adelie_assets.defs.pipeline.schedules import daily_pipeline_schedule
from adelie_assets.defs.resources import build_resources

defs = Definitions(
    assets=[
        market_data,
        market_indices,
        daily_themes,
        analog_features,
        market_analogs,
        historical_cases,
        app_feed,
    ],
    jobs=[daily_pipeline],
    schedules=[daily_pipeline_schedule],
    sensors=[alert_on_run_failure, catch_up_missed_days],
    resources=build_resources(),
    # Backfill runs and UI materializations too: a process per step costs ~4 s of imports each,
    # and KRX calls are serial anyway (measured: a year's backfill 630 s -> 240 s).
    executor=in_process_executor,
)
