"""Asset definitions, one folder per domain: market (KRX), cases (LLM), pipeline (jobs, schedules)."""

import warnings

from dagster import BetaWarning, PreviewWarning

# We use backfill policies and pools deliberately; their "beta" notices would only be noise at every load.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)
