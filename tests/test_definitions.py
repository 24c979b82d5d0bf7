"""The code location loads with no credentials, never imports pykrx/openai, and validates from the CLI."""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from dagster import AssetKey

REPO = Path(__file__).resolve().parents[1]


def clean_env(tmp_path: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["ADELIE_STATE_DIR"] = str(tmp_path / "state")
    return env


def test_import_loads_no_pykrx_no_openai_and_calls_nothing(tmp_path: Path) -> None:
    code = (
        "import sys, socket\n"
        "def no_network(*a, **k): raise AssertionError('loading code must not open connections')\n"
        "socket.socket.connect = no_network\n"
        "import adelie_assets.definitions as d\n"
        "d.defs.get_repository_def().get_all_jobs()\n"
        "heavy = [m for m in ('pykrx', 'openai', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print('ok')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=clean_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


def assert_validates(cwd: Path, env: dict[str, str], *args: str) -> None:
    dagster = Path(sys.executable).parent / "dagster"
    proc = subprocess.run(
        [str(dagster), "definitions", "validate", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stdout + proc.stderr


def test_dagster_definitions_validate_with_no_env_at_the_repo_root(tmp_path: Path) -> None:
    assert_validates(REPO, clean_env(tmp_path))


def test_definitions_hold_the_product() -> None:
    from adelie_assets.definitions import defs

    repo = defs.get_repository_def()
    graph = repo.asset_graph
    keys = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    product = {"market_data", "daily_themes", "analog_features", "market_analogs", "historical_cases"}
    assert keys == product | {"market_indices", "app_briefing", "app_cases"}

    def parents(key: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(AssetKey(key)).parent_keys}

    # The lineage of issue 12: market_data, market_indices -> (features) -> market_analogs -> cases.
    assert parents("analog_features") == {"market_data", "market_indices"}
    # The episode calendar (an external asset): the analogs store the episode of each analog's day.
    assert parents("market_analogs") == {"market_data", "analog_features", "daily_themes", "market_episodes"}
    assert parents("historical_cases") == {"daily_themes", "market_analogs", "market_indices"}
    # The app feed reads the market, analog and case tables.
    assert parents("app_cases") | parents("app_briefing") == {
        "market_data",
        "market_indices",
        "daily_themes",
        "market_analogs",
        "historical_cases",
    }
    assert {s.name for s in repo.schedule_defs} >= {"daily_pipeline_schedule"}


def test_the_package_validates_installed_outside_the_repository(tmp_path: Path) -> None:
    """As in the image (`pip install --no-deps .`): no pyproject.toml above the package, another cwd.
    `load_from_defs_folder` finds the project config in the package's own dg.toml."""
    site = tmp_path / "site-packages"
    shutil.copytree(
        REPO / "adelie_assets", site / "adelie_assets", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = clean_env(tmp_path) | {"PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import adelie_assets.definitions as d; print(d.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.stdout.strip() == str(site / "adelie_assets" / "definitions.py"), where.stderr[-2000:]
    assert_validates(tmp_path, env, "-m", "adelie_assets.definitions")


def test_the_package_and_pyproject_name_the_same_dg_project() -> None:
    packaged = tomllib.loads((REPO / "adelie_assets" / "dg.toml").read_text())
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dg"]
    assert packaged["directory_type"] == tool["directory_type"] == "project"
    assert packaged["project"]["root_module"] == tool["project"]["root_module"] == "adelie_assets"


def test_every_job_runs_in_process() -> None:
    from adelie_assets.definitions import defs

    jobs = defs.get_repository_def().get_all_jobs()
    assert {job.name: job.executor_def.name for job in jobs} == {
        "__ASSET_JOB": "in_process",
        "daily_pipeline": "in_process",
    }
