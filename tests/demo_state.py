"""`make demo`'s state, made once per test session: the demo test reads what it printed and wrote,
the playground tests start on copies of it (building it costs minutes: 110 + 100 days of history)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_DROPPED = ("KRX_", "OPENAI_", "ADELIE_", "DAGSTER_")
REPO_ROOT = Path(__file__).resolve().parents[1]


def clean_env() -> dict[str, str]:
    """The environment of a person's shell without any of the project's settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}


@dataclass(frozen=True)
class DemoState:
    path: Path
    output: str  # what `make demo` printed


def demo_argv(state: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "adelie_fakes.demo", *extra, "--state-dir", str(state)]


def make_demo_state(state: Path) -> DemoState:
    """`python -m adelie_fakes.demo` with its defaults, as `make demo` runs it."""
    proc = subprocess.run(
        demo_argv(state), cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return DemoState(state, proc.stdout)
