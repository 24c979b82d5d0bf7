"""Optional settings as Dagster `EnvVar`s: deferred (never resolved into stored config) when set,
absent when not, so that code loads with no credentials at all."""

from __future__ import annotations

import os

from dagster import EnvVar


def optional_env(name: str) -> EnvVar | None:
    return EnvVar(name) if os.environ.get(name) else None


def float_env(name: str, default: float) -> float:
    """A non-secret numeric setting, read when the code location loads."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}.") from None
