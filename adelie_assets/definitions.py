"""The code location: `defs` is what `dagster dev`, the gRPC server and `dagster definitions validate` load.

Loading must never call KRX or OpenAI and must work with no credentials set.
"""

import gc

from dagster import Definitions, in_process_executor

from adelie_assets.defs.cases.assets import historical_cases
from adelie_assets.defs.cases.checks import historical_cases_checks
from adelie_assets.defs.market.assets import market_data
from adelie_assets.defs.market.checks import market_data_checks
from adelie_assets.defs.pipeline.alerts import alert_on_run_failure
from adelie_assets.defs.pipeline.catch_up import catch_up_missed_days
from adelie_assets.defs.pipeline.jobs import daily_pipeline
from adelie_assets.defs.pipeline.schedules import daily_pipeline_schedule
from adelie_assets.resources.env import float_env, optional_env
from adelie_assets.resources.krx import KRX
from adelie_assets.resources.llm import DEFAULT_MODEL, LLM
from adelie_assets.resources.warehouse import Warehouse


def build_resources() -> dict[str, object]:
    return {
        "krx": KRX(
            krx_id=optional_env("KRX_ID"),
            krx_pw=optional_env("KRX_PW"),
            base_url=optional_env("ADELIE_KRX_URL"),
            delay_seconds=float_env("ADELIE_KRX_DELAY_SECONDS", 1.0),
            timeout_seconds=float_env("ADELIE_KRX_TIMEOUT_SECONDS", 30.0, positive=True),
        ),
        "llm": LLM(
            api_key=optional_env("OPENAI_API_KEY"),
            base_url=optional_env("OPENAI_BASE_URL"),
            model=optional_env("ADELIE_LLM_MODEL") or DEFAULT_MODEL,
        ),
        "warehouse": Warehouse(url=optional_env("ADELIE_WAREHOUSE_URL")),
    }


defs = Definitions(
    assets=[market_data, historical_cases],
    asset_checks=[*market_data_checks, *historical_cases_checks],
    jobs=[daily_pipeline],
    schedules=[daily_pipeline_schedule],
    sensors=[alert_on_run_failure, catch_up_missed_days],
    resources=build_resources(),
    # Backfill runs and UI materializations too: a process per step (10 check steps) costs ~4 s of
    # imports each, and KRX calls are serial anyway (measured: a year's backfill 630 s -> 240 s).
    executor=in_process_executor,
)

# Everything loaded so far lives as long as the process: moving it out of the collector's reach
# saves ~1 s of final garbage collection in every Dagster process (measured in bench/).
gc.freeze()
