"""Demo mode reaches only 127.0.0.1, and the demo instance labels and guards every run it accepts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, SubmitRunContext, job, op

from adelie_fakes import demo_instance, demo_mode

FAKES = {
    "ADELIE_DEMO": "1",
    "ADELIE_KRX_URL": "http://127.0.0.1:8123",
    "OPENAI_BASE_URL": "http://localhost:8124/v1",
}


def test_loopback_fakes_pass() -> None:
    demo_mode.check_endpoints(FAKES)


@pytest.mark.parametrize(
    ("variable", "url", "message"),
    [
        (
            "ADELIE_KRX_URL",
            "http://0.0.0.0:8123",
            "KRX at 'http://0.0.0.0:8123' resolves to 0.0.0.0, not only 127.0.0.1",
        ),
        ("OPENAI_BASE_URL", "http://10.1.2.3/v1", "OpenAI at 'http://10.1.2.3/v1' resolves to 10.1.2.3"),
        ("ADELIE_KRX_URL", "", "ADELIE_KRX_URL unset: the real KRX would be called"),
        ("OPENAI_BASE_URL", "https://no-such-host.invalid/v1", "'no-such-host.invalid' does not resolve"),
    ],
)
def test_anything_but_loopback_fails_loudly(variable: str, url: str, message: str) -> None:
    with pytest.raises(demo_mode.DemoEndpointError, match=message.replace("(", r"\(").replace(")", r"\)")):
        demo_mode.check_endpoints({**FAKES, variable: url})


def test_outside_demo_mode_nothing_is_checked_and_nothing_points_at_the_fakes() -> None:
    demo_mode.check_endpoints({"ADELIE_KRX_URL": "https://data.krx.co.kr"})
    root = Path(__file__).resolve().parents[1]
    for name in ("dagster.yaml", "deploy/dagster.yaml", "workspace.yaml"):
        text = (root / name).read_text()
        assert "127.0.0.1" not in text and "adelie_fakes" not in text, name
    dev_recipe = (root / "Makefile").read_text().split("\ndev:")[1].split("\n\n")[0]
    assert "ADELIE_KRX_URL" not in dev_recipe and "OPENAI_BASE_URL" not in dev_recipe


def test_demo_instance_has_the_production_behaviour_and_the_demo_coordinator(tmp_path: Path) -> None:
    path = demo_instance.write_instance_yaml(tmp_path)
    demo = yaml.safe_load(path.read_text())
    local = yaml.safe_load(demo_instance.LOCAL_INSTANCE_YAML.read_text())
    assert demo["run_coordinator"] == {
        "module": "adelie_fakes.demo_coordinator",
        "class": "DemoRunCoordinator",
        "config": local["run_queue"],
    }
    for key in ("concurrency", "run_monitoring", "run_retries"):
        assert demo[key] == local[key], key
    assert demo["telemetry"] == {"enabled": False}


@op
def nothing() -> None:
    pass


@job
def tiny() -> None:
    nothing()


def test_demo_instance_refuses_runs_without_the_fakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = demo_instance.write_instance_yaml(tmp_path).parent
    with DagsterInstance.from_config(str(home)) as instance:
        refused = instance.create_run_for_job(tiny)
        monkeypatch.delenv("ADELIE_DEMO", raising=False)
        with pytest.raises(demo_mode.DemoEndpointError, match="Open it with `make demo-ui`"):
            instance.run_coordinator.submit_run(SubmitRunContext(refused, workspace=None))

        # Accepted runs get adelie/demo=true: tests/playground sees it on every UI and backfill run.


def load_demo_location(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ADELIE_", "OPENAI_", "KRX_"))}
    code = "from adelie_fakes.demo_definitions import defs; print(len(defs.assets))"
    return subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_the_demo_location_loads_only_with_the_fakes_on_loopback(tmp_path: Path) -> None:
    assert load_demo_location(FAKES).returncode == 0
    # As the playground's `dagster dev` loads it, in the demo's environment, from another directory
    # (one Definitions object at module scope; adelie_fakes found though not installed).
    env = demo_instance.demo_env(tmp_path, FAKES["ADELIE_KRX_URL"], FAKES["OPENAI_BASE_URL"])
    dagster = Path(sys.executable).parent / "dagster"
    validated = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", str(demo_instance.WORKSPACE_YAML)],
        env={**env, "DAGSTER_HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert validated.returncode == 0, validated.stderr[-2000:]
    refused = load_demo_location({**FAKES, "ADELIE_KRX_URL": "http://10.1.2.3:8123"})
    assert refused.returncode != 0
    assert "KRX at 'http://10.1.2.3:8123' resolves to 10.1.2.3, not only 127.0.0.1" in refused.stderr
    outside = load_demo_location({})
    assert "ADELIE_DEMO=1 is not set" in outside.stderr


def test_the_shipped_package_knows_nothing_of_the_demo() -> None:
    package = Path(__file__).resolve().parents[1] / "adelie_assets"
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert not {"ADELIE_DEMO", "demo_mode", "adelie_fakes"} & set(re.findall(r"\w+", text)), path
