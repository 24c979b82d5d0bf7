"""The resources, one per external system, configured from the environment.

Credentials become deferred `EnvVar`s (resources/env.py): loading needs none of them.
"""

import dagster as dg

from adelie_assets.resources.app_database import AppDatabase
from adelie_assets.resources.env import float_env, optional_env
from adelie_assets.resources.krx import KRX, MAX_DELAY_SECONDS, MAX_TIMEOUT_SECONDS
from adelie_assets.resources.llm import DEFAULT_MODEL, LLM
from adelie_assets.resources.warehouse import Warehouse


def build_resources() -> dict[str, object]:
    return {
        "krx": KRX(
            krx_id=optional_env("KRX_ID"),
            krx_pw=optional_env("KRX_PW"),
            base_url=optional_env("ADELIE_KRX_URL"),
            delay_seconds=float_env("ADELIE_KRX_DELAY_SECONDS", 1.0, maximum=MAX_DELAY_SECONDS),
            timeout_seconds=float_env(
                "ADELIE_KRX_TIMEOUT_SECONDS", 30.0, positive=True, maximum=MAX_TIMEOUT_SECONDS
            ),
        ),
        "llm": LLM(
            api_key=optional_env("OPENAI_API_KEY"),
            base_url=optional_env("OPENAI_BASE_URL"),
            model=optional_env("ADELIE_LLM_MODEL") or DEFAULT_MODEL,
        ),
        "warehouse": Warehouse(url=optional_env("ADELIE_WAREHOUSE_URL")),
        # Unset: the app's tables go to the warehouse (app_* tables).
        "app_database": AppDatabase(url=optional_env("ADELIE_APP_DATABASE_URL")),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
