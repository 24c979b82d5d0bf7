"""The demo instance under the demo's state directory: its dagster.yaml, its pool limits and the
environment its processes get.

Its dagster.yaml is the repository's local dagster.yaml (the production behaviour: run queue,
pools, run monitoring and retries; telemetry off) with one change: the run coordinator is
adelie_fakes.demo_coordinator.DemoRunCoordinator, the same queue that also labels every run as demo
and refuses runs that would not reach the fakes. It is rewritten on every `make demo`, so that it
follows the root file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from adelie_fakes import demo_mode

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCAL_INSTANCE_YAML = REPO_ROOT / "dagster.yaml"
WORKSPACE_YAML = Path(__file__).resolve().parent / "workspace.yaml"  # the demo location
# As production sets them (docker compose's instance_init and tests/e2e/harness.py).
POOL_LIMITS = {"krx": 1, "llm": 2}
KRX_CREDENTIALS = ("demo-user", "demo-pass")
LLM_API_KEY = "sk-demo-not-a-real-key"
# Variables a demo process must not inherit: they could point it at real storage or services.
INHERITED_PREFIXES_DROPPED = ("DAGSTER_", "ADELIE_", "OPENAI_", "KRX_")


def dagster_home(state: Path) -> Path:
    return state / "dagster_home"


def warehouse_url(state: Path) -> str:
    return f"sqlite:///{state / 'warehouse.sqlite'}"


def instance_config() -> dict[str, Any]:
    if not LOCAL_INSTANCE_YAML.exists():
        raise FileNotFoundError(
            f"{LOCAL_INSTANCE_YAML} is missing: the demo instance copies its settings from the "
            "repository's local dagster.yaml; run the demo from a checkout (pip install -e .)."
        )
    config = yaml.safe_load(LOCAL_INSTANCE_YAML.read_text())
    # The same queue settings, given to the demo's coordinator (Dagster refuses both keys at once).
    config["run_coordinator"] = {
        "module": "adelie_fakes.demo_coordinator",
        "class": "DemoRunCoordinator",
        "config": dict(config.pop("run_queue", None) or {}),
    }
    config["telemetry"] = {"enabled": False}
    return config


def write_instance_yaml(state: Path) -> Path:
    home = dagster_home(state)
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    header = (
        "# The DEMO instance (written by `make demo`, adelie_fakes/demo_instance.py; edits are lost).\n"
        "# The repository's dagster.yaml with the run coordinator that labels runs as demo and only\n"
        "# accepts them when the fakes are configured (adelie_fakes/demo_coordinator.py).\n"
    )
    path.write_text(header + yaml.safe_dump(instance_config(), sort_keys=False))
    return path


def set_pool_limits(instance: Any) -> None:
    for pool, limit in POOL_LIMITS.items():
        instance.event_log_storage.set_concurrency_slots(pool, limit)


def demo_env(
    state: Path, krx_url: str, llm_base_url: str, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of every demo process: the inherited one without anything that could point
    elsewhere, plus the demo instance, the SQLite warehouse and the fakes."""
    inherited = os.environ if base is None else base
    env = {k: v for k, v in inherited.items() if not k.startswith(INHERITED_PREFIXES_DROPPED)}
    # A behaviour setting, not an endpoint: the demo and the playground's sensor must agree on it.
    if inherited.get("ADELIE_CATCH_UP_DAYS"):
        env["ADELIE_CATCH_UP_DAYS"] = inherited["ADELIE_CATCH_UP_DAYS"]
    env.update(
        {
            demo_mode.DEMO_ENV: "1",
            "ADELIE_STATE_DIR": str(state),
            "DAGSTER_HOME": str(dagster_home(state)),
            "KRX_ID": KRX_CREDENTIALS[0],
            "KRX_PW": KRX_CREDENTIALS[1],
            "ADELIE_KRX_URL": krx_url,
            # The fake answers at once; politeness towards it only slows the demo down.
            "ADELIE_KRX_DELAY_SECONDS": "0.05",
            "OPENAI_API_KEY": LLM_API_KEY,
            "OPENAI_BASE_URL": llm_base_url,
            "ADELIE_WAREHOUSE_URL": warehouse_url(state),
            # adelie_fakes is not installed (the wheel ships adelie_assets only): the demo's processes
            # start in the state directory and import it from the checkout.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), inherited.get("PYTHONPATH", "")])),
        }
    )
    return env
