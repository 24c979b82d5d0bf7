"""The production image, run as deploy/docker-compose.yml describes it, for the deploy test.

`Deployment` builds the image from the real Dockerfile (from a copy of the repository that also
holds an operator's `deploy/.env` with sentinel secrets, so a leak into a layer is detectable),
then runs `instance_init`, `user_code`, `webserver` and `daemon` as containers (tests/deploy/
compose.py turns each compose service into `docker run` arguments). PostgreSQL is this machine's
server (scratch databases), and the fake KRX and fake OpenAI run in this process on 127.0.0.1.

It is a `tests.e2e.harness.Platform`, so the e2e harness's GraphQL helpers (launch_job_run,
launch_asset_backfill, wait_for_run, wait_for_backfill, warehouse_query, ...) drive it unchanged;
only start/stop and the liveness check differ.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from tests.deploy import compose
from tests.deploy.engine import DOCKER

# The fakes as the e2e harness imports them, so both follow wherever the fakes package lives.
from tests.e2e.harness import (
    REPO_ROOT,
    Platform,
    PlatformError,
    create_database,
    drop_database,
    start_fakes,
    stop_fakes,
    wait_until,
)

# The compose service this test replaces with the machine's own PostgreSQL server.
REPLACED_SERVICES = ("postgres",)

_CONTEXT_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    ".adelie",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
    "*.egg-info",
    "build",
    "dist",
)


class PortTaken(PlatformError):
    """A port a compose service listens on is in use on this machine (host networking shares it)."""


def docker(
    *args: str, timeout: float = 120, check: bool = True, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise PlatformError(
            f"docker {' '.join(args[:3])} ... exited {result.returncode}: {result.stderr[-3000:]}"
        )
    return result


def inspect(name: str) -> dict[str, Any]:
    return json.loads(docker("inspect", name).stdout)[0]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class Sentinels:
    """Stand-in secrets, unique per run, so finding one anywhere is proof of a leak."""

    krx_id: str
    krx_pw: str
    openai_api_key: str
    pg_password: str

    @classmethod
    def new(cls) -> Sentinels:
        tag = uuid.uuid4().hex[:12]
        return cls(f"krxid{tag}", f"krxpw-SENTINEL-{tag}", f"sk-SENTINEL-{tag}", f"pgpw{tag}SENTINEL")

    def all(self) -> dict[str, str]:
        return {
            "KRX_ID": self.krx_id,
            "KRX_PW": self.krx_pw,
            "OPENAI_API_KEY": self.openai_api_key,
            "DAGSTER_PG_PASSWORD": self.pg_password,
        }

    def application(self) -> dict[str, str]:
        """The secrets only user_code may hold (webserver and daemon get only the storage's)."""
        return {"KRX_ID": self.krx_id, "KRX_PW": self.krx_pw, "OPENAI_API_KEY": self.openai_api_key}


@dataclass(frozen=True)
class BuildResult:
    image: str
    seconds: float
    context: Path


def prepare_context(root: Path, env_file_text: str) -> Path:
    """A copy of the repository as an operator has it: the checkout plus deploy/.env (secrets).
    The build sees exactly what `docker build` in that checkout would see, .dockerignore included."""
    context = root / "context"
    shutil.copytree(REPO_ROOT, context, ignore=_CONTEXT_IGNORE, symlinks=True)
    env_path = context / "deploy" / ".env"
    env_path.write_text(env_file_text)
    env_path.chmod(0o600)
    return context


def image_id(tag: str) -> str | None:
    result = docker("image", "inspect", "--format", "{{.Id}}", tag, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def build_image(context: Path, tag: str, *, no_cache: bool = False, timeout: float = 900) -> BuildResult:
    previous = image_id(tag)
    started = time.monotonic()
    args = ["build", "--network", "host", "-t", tag, "-f", str(context / "Dockerfile")]
    if no_cache:
        args.append("--no-cache")
    docker(*args, str(context), timeout=timeout)
    seconds = time.monotonic() - started
    if previous is not None and previous != image_id(tag):
        # The image this tag named before is untagged now: drop it, or every dependency change
        # would leave ~0.5 GB behind on a machine that keeps its images between runs.
        docker("image", "rm", previous, check=False)
    return BuildResult(tag, seconds, context)


@dataclass(frozen=True)
class StopResult:
    seconds: float
    exit_code: int
    oom_killed: bool
    grace_seconds: int


@dataclass(frozen=True)
class ProcessSample:
    container: str
    uid: str
    pid: str
    args: str


class UidSampler:
    """`docker top` of each container every `interval` seconds in a thread: who runs what, as whom.
    Run workers live only as long as a run, so sampling while runs execute catches them."""

    def __init__(self, containers: Mapping[str, str], interval: float = 0.5) -> None:
        self._containers = dict(containers)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="uid-sampler", daemon=True)
        self.seen: dict[tuple[str, str], ProcessSample] = {}

    def sample(self) -> None:
        for service, container in self._containers.items():
            result = docker("top", container, "-eo", "uid,pid,args", check=False, timeout=30)
            for line in result.stdout.splitlines()[1:]:
                uid, pid, args = (line.split(None, 2) + ["", "", ""])[:3]
                self.seen.setdefault((service, pid), ProcessSample(service, uid, pid, args))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


class Deployment(Platform):
    """The compose services as containers, plus the machine's Postgres and the fakes.

    Attributes once started (besides Platform's): `project`, `containers` (service -> container
    name), `sentinels`, `services` (compose.Service), `env_file` (the deploy/.env in use), `build`.
    """

    def __init__(self, image: str = "", **settings: Any) -> None:
        settings.setdefault("startup_timeout", 240.0)
        super().__init__(**settings)
        self.project = f"adelie-deploy-{uuid.uuid4().hex[:8]}"
        self.sentinels = Sentinels.new()
        self.image = image
        self.containers: dict[str, str] = {}
        self.volumes: list[str] = []
        self.services: dict[str, compose.Service] = {}
        self.env_file: Path | None = None
        self.build: BuildResult | None = None
        self.stop_results: dict[str, StopResult] = {}
        self.init_seconds: float | None = None

    # --- configuration --------------------------------------------------------------------------

    def _dotenv(self) -> dict[str, str]:
        """deploy/.env as an operator fills it in, pointed at the fakes and scratch databases."""
        assert self.krx is not None and self.llm is not None
        params = self._pg_params()
        user = params.get("user", "postgres")
        return {
            "DAGSTER_PG_USER": user,
            # The machine's server trusts 127.0.0.1, so the sentinel is sent nowhere that checks it.
            "DAGSTER_PG_PASSWORD": self.sentinels.pg_password,
            "DAGSTER_PG_DB": str(self.dagster_db),
            "ADELIE_WAREHOUSE_URL": (
                f"postgresql+psycopg2://{user}:{self.sentinels.pg_password}@postgres:5432/{self.warehouse_db}"
            ),
            "KRX_ID": self.sentinels.krx_id,
            "KRX_PW": self.sentinels.krx_pw,
            "ADELIE_KRX_URL": self.krx.url,
            "ADELIE_KRX_DELAY_SECONDS": "0",
            "ADELIE_KRX_TIMEOUT_SECONDS": "10",
            "OPENAI_API_KEY": self.sentinels.openai_api_key,
            "OPENAI_BASE_URL": self.llm.base_url,
        }

    @staticmethod
    def env_file_text(values: Mapping[str, str]) -> str:
        lines = ["# deploy/.env written by tests/deploy/deployment.py (sentinel secrets)"]
        return "\n".join([*lines, *(f"{k}={v}" for k, v in values.items())]) + "\n"

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        started = time.monotonic()
        self.root = Path(tempfile.mkdtemp(prefix="adelie_deploy_"))
        self.log_dir.mkdir()
        self.dagster_db = create_database("adelie_deploy_dagster")
        self.warehouse_db = create_database("adelie_deploy_warehouse")
        self.krx, self.llm = start_fakes(
            krx_credentials=(self.sentinels.krx_id, self.sentinels.krx_pw),
            llm_api_key=self.sentinels.openai_api_key,
        )
        dotenv = self._dotenv()

        context = prepare_context(self.root, self.env_file_text(dotenv))
        self.env_file = context / "deploy" / ".env"
        self.services = compose.load(dotenv, context / "deploy" / "docker-compose.yml")
        self.image = self.image or self.services["user_code"].image
        self.build = build_image(context, self.image)

        port = self.services["webserver"].container_port()
        for name in ("webserver", "user_code"):
            needed = self.services[name].container_port()
            if needed is not None and not port_is_free(needed):
                raise PortTaken(f"127.0.0.1:{needed}, where {name} listens (host networking), is taken.")
        self.port = port

        for name in compose.start_order(self.services):
            if name in REPLACED_SERVICES:
                continue
            self._start_service(name)
        self._wait_for_code_location()
        if self.wait_for_daemon:
            self._wait_for_daemon_health()
        # The services' start alone; the image build is timed in self.build.
        self.startup_seconds = time.monotonic() - started - self.build.seconds
        return self

    def _start_service(self, name: str) -> None:
        service = self.services[name]
        if service.image != self.image:
            raise PlatformError(f"{name} runs {service.image}, not the image built here ({self.image}).")
        for dependency, condition in service.depends_on.items():
            if dependency not in REPLACED_SERVICES:
                self._wait_for_condition(dependency, condition)
        for volume, _, _ in service.volumes:
            if not volume.startswith("/") and f"{self.project}_{volume}" not in self.volumes:
                docker(
                    "volume", "create", "--label", f"adelie.test={self.project}", f"{self.project}_{volume}"
                )
                self.volumes.append(f"{self.project}_{volume}")
        container = f"{self.project}-{name}"
        env_file = self.root / f"{name}.env"  # type: ignore[operator]
        env_file.write_text("".join(f"{k}={v}\n" for k, v in service.full_environment().items()))
        env_file.chmod(0o600)
        # As on the compose network, every service name resolves; with host networking, to loopback.
        hosts = {other: "127.0.0.1" for other in self.services}
        args = service.run_args(
            container=container,
            volume_prefix=f"{self.project}_",
            env_file=env_file,
            extra_hosts=hosts,
        )
        docker(
            "run",
            "-d",
            "--label",
            f"adelie.test={self.project}",
            *args,
            self.image,
            *service.host_network_command(),
        )
        self.containers[name] = container

    def _wait_for_condition(self, name: str, condition: str) -> None:
        container = self.containers[name]
        if condition == "service_completed_successfully":
            started = time.monotonic()
            code = int(docker("wait", container, timeout=self.startup_timeout).stdout.strip())
            if name == "instance_init":
                self.init_seconds = time.monotonic() - started
            if code != 0:
                raise PlatformError(f"{name} exited {code}:\n{self.logs(name)[-4000:]}")
        elif condition == "service_healthy":

            def healthy() -> bool:
                state = inspect(container)["State"]
                if state["Status"] != "running":
                    raise PlatformError(
                        f"{name} is {state['Status']} (exit {state['ExitCode']}):\n{self.logs(name)[-4000:]}"
                    )
                return state.get("Health", {}).get("Status") == "healthy"

            wait_until(healthy, self.startup_timeout, f"{name} to be healthy", 1.0)
        elif condition != "service_started":
            raise PlatformError(f"Unknown depends_on condition {condition!r}")

    def wait_healthy(self, *names: str) -> None:
        for name in names:
            self._wait_for_condition(name, "service_healthy")

    def long_running(self) -> dict[str, str]:
        return {n: c for n, c in self.containers.items() if self.services[n].restart != "no"}

    def _check_alive(self) -> None:
        for name, container in self.long_running().items():
            if name in self.stop_results:
                continue
            state = inspect(container)
            if state["State"]["Status"] != "running" or state["RestartCount"]:
                raise PlatformError(
                    f"{name} is {state['State']['Status']} after {state['RestartCount']} restart(s):\n"
                    f"{self.logs(name)[-4000:]}"
                )

    def logs(self, name: str) -> str:
        result = docker("logs", self.containers[name], check=False, timeout=60)
        return result.stdout + result.stderr

    def exec(self, name: str, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return docker("exec", self.containers[name], *argv, check=False, timeout=timeout)

    def sample_uids(self, interval: float = 0.5) -> UidSampler:
        return UidSampler(self.long_running(), interval)

    def stop_service(self, name: str) -> StopResult:
        """`docker stop` (SIGTERM, then SIGKILL after the stop grace period) and what came of it."""
        grace = self.services[name].stop_grace_seconds or 10
        started = time.monotonic()
        docker("stop", self.containers[name], timeout=grace + 30)
        seconds = time.monotonic() - started
        state = inspect(self.containers[name])["State"]
        result = StopResult(seconds, int(state["ExitCode"]), bool(state["OOMKilled"]), grace)
        self.stop_results[name] = result
        return result

    def stop(self) -> None:
        """Remove everything started, in reverse order; safe to call twice or after a failed start."""
        stopping = time.monotonic()
        for name in reversed(list(self.containers)):
            if self.root is not None and self.root.exists():
                (self.log_dir / f"{name}.log").write_text(self.logs(name))
            docker("rm", "-f", self.containers[name], check=False, timeout=120)
        self.containers.clear()
        for volume in self.volumes:
            docker("volume", "rm", "-f", volume, check=False)
        self.volumes.clear()
        stop_fakes(self.krx, self.llm)
        self.krx = self.llm = None
        self._session.close()
        for database in (self.dagster_db, self.warehouse_db):
            if database:
                drop_database(database)
        self.dagster_db = self.warehouse_db = None
        if self.root is not None and not self.keep_files:
            shutil.rmtree(self.root, ignore_errors=True)
        self.stop_seconds = time.monotonic() - stopping


def image_stream_contains(image: str, needles: Mapping[str, str]) -> list[str]:
    """Names of the needles found anywhere in `docker save IMAGE` (every layer, config, manifest)."""
    encoded = {name: value.encode() for name, value in needles.items()}
    overlap = max(len(v) for v in encoded.values())
    found: set[str] = set()
    with subprocess.Popen([DOCKER, "save", image], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        tail = b""
        for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
            window = tail + chunk
            found.update(name for name, value in encoded.items() if value in window)
            tail = window[-overlap:]
    if proc.returncode != 0:
        raise PlatformError(f"docker save {image} exited {proc.returncode}")
    return sorted(found)


def files_in_image(image: str, *paths: str) -> Iterator[str]:
    """Every path under `paths` inside the image, as the runtime user sees it."""
    script = (
        "import os, sys\n"
        "for top in sys.argv[1:]:\n"
        "    for d, ds, fs in os.walk(top):\n"
        "        print(*(os.path.join(d, f) for f in ds + fs), sep='\\n')"
    )
    result = docker(
        "run", "--rm", "--network", "none", "--entrypoint", "python", image, "-c", script, *paths, timeout=120
    )
    yield from (line for line in result.stdout.splitlines() if line)
