"""Process-level settings read from the environment (secrets are read by resources via EnvVar)."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """Where local state lives (the default SQLite warehouse, the demo's Dagster home)."""
    return Path(os.environ.get("ADELIE_STATE_DIR", ".adelie")).resolve()
