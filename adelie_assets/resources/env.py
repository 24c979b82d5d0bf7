"""Optional settings as Dagster `EnvVar`s: deferred (never resolved into stored config) when set,
absent when not, so that code loads with no credentials at all."""

from __future__ import annotations

import math
import os

from dagster import EnvVar


def optional_env(name: str) -> EnvVar | None:
    return EnvVar(name) if os.environ.get(name) else None


def float_env(
    name: str, default: float, *, minimum: float = 0.0, positive: bool = False, maximum: float = math.inf
) -> float:
    """A non-secret number of seconds, read when the code location loads; bad values name the variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < minimum or (positive and value <= 0) or value > maximum:
        bound = "greater than 0" if positive else f"at least {minimum:g}"
        if math.isfinite(maximum):
            bound += f" and at most {maximum:g}"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, not {raw!r}.")
    return value
