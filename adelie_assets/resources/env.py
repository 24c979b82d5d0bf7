"""Optional settings as Dagster `EnvVar`s: deferred (never resolved into stored config) when set,
absent when not, so that code loads with no credentials at all."""

from __future__ import annotations

import os

from dagster import EnvVar


def optional_env(name: str) -> EnvVar | None:
    return EnvVar(name) if os.environ.get(name) else None
