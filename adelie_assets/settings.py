"""Process-level settings read from the environment (secrets are read by resources via EnvVar)."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """Where local state lives (the default SQLite warehouse)."""
    return Path(os.environ.get("ADELIE_STATE_DIR", ".adelie")).resolve()


CASE_LANGUAGES = ("ko", "en")


def case_language() -> str:
    """The language of historical cases: ADELIE_CASE_LANGUAGE, 'ko' (default) or 'en'."""
    value = os.environ.get("ADELIE_CASE_LANGUAGE", "").strip().lower() or "ko"
    if value not in CASE_LANGUAGES:
        raise ValueError(
            f"ADELIE_CASE_LANGUAGE={value!r} is not a case language: use 'ko' (default) or 'en'."
        )
    return value
