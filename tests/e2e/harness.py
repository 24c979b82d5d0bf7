"""The whole platform on one machine, for end-to-end tests and benchmarks.

`Platform` creates scratch Postgres databases (Dagster's storage and the warehouse), a temporary
DAGSTER_HOME holding a copy of the repository's `deploy/dagster.yaml` with a few test-only overrides, the
fake KRX and fake OpenAI servers (threads of this process), sets the `krx`/`llm` pool limits with
the Dagster CLI as production does, and starts `dagster-webserver` and `dagster-daemon` as real
subprocesses, each in its own process group. Code servers, run workers and step workers are their
descendants and stay in those groups (Dagster starts no new session on POSIX), so stopping the two
groups stops everything. `stop()` then checks /proc for anything still carrying the temporary
DAGSTER_HOME, kills it, and drops the databases.

    from tests.e2e.harness import Platform

    with Platform() as platform:
        backfill_id = platform.launch_asset_backfill(["market_data", "historical_cases"], keys)
        platform.wait_for_backfill(backfill_id, timeout=120)

No secret is printed: the fakes' credentials are test values, and `env` is never logged.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

import psycopg2
import psycopg2.extensions
import requests
import yaml

from adelie_fakes.krx import FakeKrx
from adelie_fakes.openai import FakeOpenAI
from adelie_fakes.servers import start_fakes, stop_fakes

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCATION_NAME = "adelie_assets"
REPOSITORY_NAME = "__repository__"
KRX_CREDENTIALS = ("demo-user", "demo-pass")
ADMIN_DSN = os.environ.get("ADELIE_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")

# Pool limits as production sets them (docker compose's instance_init); see deploy/dagster.yaml.
POOL_LIMITS = {"krx": 1, "llm": 2}

# Test-only settings merged into the TEMPORARY copy of dagster.yaml, never into the repository's:
# none, the platform runs as production configures it. The backfill daemon's 30 s loop
# (dagster._daemon.controller.DEFAULT_DAEMON_INTERVAL_SECONDS) has no setting: a backfill waits up
# to 30 s to be picked up and up to 30 s more to be marked finished.
TEST_INSTANCE_OVERRIDES: dict[str, Any] = {}

# Inherited variables that would point the subprocesses at something other than this platform.
_DROPPED_ENV_PREFIXES = ("DAGSTER_", "ADELIE_", "OPENAI_", "KRX_")


def image_env(name: str) -> str:
    """A setting the production image gives every process (its Dockerfile's ENV), for the platform
    to run as production does."""
    found = re.search(rf"^\s*{name}=(\S+)", (REPO_ROOT / "Dockerfile").read_text(), re.MULTILINE)
    if found is None:
        raise AssertionError(f"The Dockerfile sets no {name}")
    return found.group(1).rstrip("\\")


TERMINAL_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
TERMINAL_BACKFILL_STATUSES = frozenset(
    {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
)

T = TypeVar("T")


class PlatformError(RuntimeError):
    """The platform could not be started, or did not do what was asked in time."""


class PostgresUnavailable(PlatformError):
    """The PostgreSQL server the platform needs is not reachable."""


class GraphQLError(PlatformError):
    """The webserver answered a GraphQL request with errors."""


def unavailable(message: str) -> None:
    """For tests: skip when a prerequisite is missing locally, FAIL in CI (CI=true), so that a
    missing install step in .ci/run can never pass as a silent skip."""
    import pytest  # here, so that bench scripts import this module without pytest

    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def start_platform(**settings: Any) -> Platform:
    """For tests: a started Platform, or a skip (a failure in CI) when Postgres is not there."""
    platform = Platform(**settings)
    try:
        return platform.__enter__()
    except PostgresUnavailable as exc:
        unavailable(str(exc))
        raise  # unreachable: unavailable() raises


# --- Postgres -------------------------------------------------------------------------------------


def _admin() -> psycopg2.extensions.connection:
    try:
        conn = psycopg2.connect(ADMIN_DSN, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        raise PostgresUnavailable(f"PostgreSQL is unreachable ({exc}); .ci/run starts it.") from None
    conn.autocommit = True
    return conn


def create_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = _admin()
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return name


def drop_database(name: str) -> None:
    conn = _admin()
    try:
        with conn.cursor() as cur:
            # FORCE: a killed run worker's connection may linger for a moment.
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


def database_exists(name: str) -> bool:
    conn = _admin()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cur.fetchone() is not None
    finally:
        conn.close()


# --- processes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    pgid: int
    state: str
    cmdline: str
    rss_kib: int
    hwm_kib: int

    def own_role(self) -> str | None:
        """What a Dagster process is from its command line alone, if that tells."""
        if "dagster-daemon" in self.cmdline:
            return "daemon"
        if "dagster-webserver" in self.cmdline:
            return "webserver"
        if " api grpc" in self.cmdline:
            return "code server"
        if "resource_tracker" in self.cmdline:
            return "mp resource tracker"
        if "watch_orphans" in self.cmdline:
            return "orphan watcher"
        if "execute_step" in self.cmdline:
            return "step worker"
        if "execute_run" in self.cmdline:
            return "run worker"
        return None


def roles(processes: Iterable[ProcessInfo]) -> dict[int, str]:
    """pid -> role. Dagster 1.13 starts run and step workers with multiprocessing's spawn, whose
    command line says nothing, so those are told apart by their parent: a run worker's child is a
    step worker (multiprocess executor), any other spawned process a run worker."""
    by_pid = {p.pid: p for p in processes}
    found: dict[int, str] = {}

    def role_of(pid: int, depth: int = 0) -> str:
        if pid in found:
            return found[pid]
        info = by_pid.get(pid)
        if info is None or depth > 10:
            return "other"
        role = info.own_role()
        if role is None and "multiprocessing" in info.cmdline:
            # A run worker outlives its code server when the daemon replaces that server (it
            # reloads the workspace every 60 s), so a spawned process without a known parent is
            # a run worker too.
            parent = role_of(info.ppid, depth + 1)
            role = "step worker" if parent == "run worker" else "run worker"
        elif role is None:
            role = "other"
        found[pid] = role
        return role

    for pid in by_pid:
        role_of(pid)
    return found


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:  # the process ended between listing and reading
        return None


def read_process(pid: int) -> ProcessInfo | None:
    stat = _read(f"/proc/{pid}/stat")
    status = _read(f"/proc/{pid}/status")
    cmdline = _read(f"/proc/{pid}/cmdline")
    if stat is None or status is None or cmdline is None:
        return None
    # The command name in parentheses may itself contain spaces or parentheses.
    fields = stat[stat.rindex(b")") + 2 :].split()
    values = {}
    for line in status.decode(errors="replace").splitlines():
        key, _, value = line.partition(":")
        values[key] = value.strip()

    def kib(key: str) -> int:
        return int(values.get(key, "0 kB").split()[0])

    return ProcessInfo(
        pid=pid,
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        state=fields[0].decode(),
        cmdline=cmdline.replace(b"\0", b" ").decode(errors="replace").strip(),
        rss_kib=kib("VmRSS"),
        hwm_kib=kib("VmHWM"),
    )


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def processes_with_env(name: str, value: str) -> list[ProcessInfo]:
    """Live processes started with `name=value` in their environment (we run as their user or root)."""
    needle = f"{name}={value}".encode()
    found = []
    for pid in all_pids():
        if pid == os.getpid():
            continue
        environ = _read(f"/proc/{pid}/environ")
        if environ and needle in environ.split(b"\0"):
            info = read_process(pid)
            if info is not None and info.state != "Z":
                found.append(info)
    return found


def processes_in_groups(pgids: Iterable[int]) -> list[ProcessInfo]:
    wanted = set(pgids)
    found = []
    for pid in all_pids():
        info = read_process(pid)
        if info is not None and info.pgid in wanted and info.state != "Z":
            found.append(info)
    return found


@dataclass
class RssReport:
    """Peak memory seen while sampling: per process (VmHWM) and summed over the daemon's tree."""

    samples: int = 0
    seconds: float = 0.0
    peak_by_pid: dict[int, tuple[str, int]] = field(default_factory=dict)
    peak_tree_rss_kib: dict[str, int] = field(default_factory=dict)

    def peak_by_role(self) -> dict[str, int]:
        """role -> the largest VmHWM (KiB) of any process in that role."""
        peaks: dict[str, int] = {}
        for role, hwm in self.peak_by_pid.values():
            peaks[role] = max(peaks.get(role, 0), hwm)
        return peaks

    def count_by_role(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for role, _ in self.peak_by_pid.values():
            counts[role] = counts.get(role, 0) + 1
        return counts

    def lines(self) -> list[str]:
        mib = 1024
        out = [f"RSS sampled {self.samples} times over {self.seconds:.0f} s"]
        counts = self.count_by_role()
        for role, hwm in sorted(self.peak_by_role().items()):
            out.append(f"  peak VmHWM {role:<12} {hwm / mib:8.1f} MiB  ({counts[role]} process(es))")
        for group, rss in sorted(self.peak_tree_rss_kib.items()):
            out.append(f"  peak summed RSS of the {group} process group {rss / mib:8.1f} MiB")
        return out


class RssSampler:
    """Samples /proc every `interval` seconds for the platform's process groups, in a thread.

    VmHWM is each process's own high-water mark, so a sample shortly before a process ends has its
    peak; a step worker that lives less than `interval` may be missed.
    """

    def __init__(self, groups: Mapping[str, int], interval: float = 0.5) -> None:
        self._groups = dict(groups)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self.report = RssReport()

    def _sample(self) -> None:
        by_group = {name: 0 for name in self._groups}
        names = {pgid: name for name, pgid in self._groups.items()}
        processes = processes_in_groups(self._groups.values())
        role_by_pid = roles(processes)
        for info in processes:
            known_role, previous = self.report.peak_by_pid.get(info.pid, ("other", 0))
            role = role_by_pid[info.pid]
            if role == "other":
                # An exiting process's cmdline reads empty: keep what it was seen as before.
                role = known_role
            self.report.peak_by_pid[info.pid] = (role, max(previous, info.hwm_kib))
            by_group[names[info.pgid]] += info.rss_kib
        for name, rss in by_group.items():
            self.report.peak_tree_rss_kib[name] = max(self.report.peak_tree_rss_kib.get(name, 0), rss)
        self.report.samples += 1

    def _loop(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            self._sample()
            self.report.seconds = time.monotonic() - started
            self._stop.wait(self._interval)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> RssReport:
        self._stop.set()
        self._thread.join()
        return self.report


# --- the platform ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def wait_until(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.5) -> T:
    """Call `probe` until it returns something other than None (and not False)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise PlatformError(f"Timed out after {timeout:.0f} s waiting for {what}.")
        time.sleep(interval)


def _bin(name: str) -> str:
    """A console script of the interpreter running the tests (.venv in CI, /work/venv here)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise PlatformError(f"{name} is not installed next to {sys.executable} nor on PATH.")
    return found


class Platform:
    """Postgres + fakes + dagster-webserver + dagster-daemon, started together and stopped together.

    Attributes once started: `url` (webserver), `root` (temporary directory), `dagster_home`
    (root/dagster_home), `log_dir` (root/logs: webserver.log, daemon.log), `dagster_db`,
    `warehouse_db`, `warehouse_url`, `krx` (FakeKrx), `llm` (FakeOpenAI), `env` (the subprocesses'
    environment), `webserver` and `daemon` (Popen). `keep_files=True` keeps `root` after stop().
    """

    def __init__(
        self,
        *,
        krx_delay_seconds: float = 0.0,
        instance_overrides: Mapping[str, Any] | None = None,
        startup_timeout: float = 180.0,
        stop_timeout: float = 20.0,
        keep_files: bool = False,
        wait_for_daemon: bool = True,
        catch_up_days: int = 0,
    ) -> None:
        self.krx_delay_seconds = krx_delay_seconds
        # Off by default: once historical_cases has a materialization, the catch-up sensor (its
        # first tick 15 min after the daemon started) would request runs for the recent days a test
        # did not ask for, and add KRX requests and LLM calls to the ones it counts.
        self.catch_up_days = catch_up_days
        self.instance_overrides = _merge(TEST_INSTANCE_OVERRIDES, instance_overrides or {})
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.keep_files = keep_files
        self.wait_for_daemon = wait_for_daemon

        self.root: Path | None = None
        self.dagster_home: Path | None = None
        self.dagster_db: str | None = None
        self.warehouse_db: str | None = None
        self.krx: FakeKrx | None = None
        self.llm: FakeOpenAI | None = None
        self.env: dict[str, str] = {}
        self.port: int | None = None
        self.webserver: subprocess.Popen[bytes] | None = None
        self.daemon: subprocess.Popen[bytes] | None = None
        self.leftovers: list[ProcessInfo] = []
        # Processes with our DAGSTER_HOME found OUTSIDE the two process groups at stop() (killed).
        self.strays: list[ProcessInfo] = []
        self.startup_seconds: float | None = None
        self.stop_seconds: float | None = None
        self._session = requests.Session()
        self._log_handles: list[Any] = []

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self.port is None:
            raise PlatformError("The platform is not started.")
        return f"http://127.0.0.1:{self.port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    @property
    def warehouse_url(self) -> str:
        return self._pg_url(self.warehouse_db)

    @property
    def log_dir(self) -> Path:
        # Not under DAGSTER_HOME: Dagster's telemetry uploader moves $DAGSTER_HOME/logs/* away.
        assert self.root is not None
        return self.root / "logs"

    def _pg_params(self) -> dict[str, str]:
        return psycopg2.extensions.parse_dsn(ADMIN_DSN)

    def _pg_url(self, database: str | None) -> str:
        params = self._pg_params()
        auth = params.get("user", "postgres")
        if params.get("password"):
            auth += f":{params['password']}"
        host = params.get("host", "127.0.0.1")
        return f"postgresql+psycopg2://{auth}@{host}:{params.get('port', '5432')}/{database}"

    def start(self) -> Self:
        started = time.monotonic()
        self.root = Path(tempfile.mkdtemp(prefix="adelie_e2e_"))
        self.dagster_home = self.root / "dagster_home"
        self.dagster_home.mkdir()
        self.log_dir.mkdir()
        self.dagster_db = create_database("adelie_e2e_dagster")
        self.warehouse_db = create_database("adelie_e2e_warehouse")
        self._write_instance_yaml()

        self.krx, self.llm = start_fakes(krx_credentials=KRX_CREDENTIALS)
        self.env = self._build_env()

        for pool, limit in POOL_LIMITS.items():
            self._cli(["dagster", "instance", "concurrency", "set", pool, str(limit)])

        self.port = free_port()
        self.webserver = self._spawn(
            "webserver",
            [_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.port), "-w", "workspace.yaml"],
        )
        self.daemon = self._spawn("daemon", [_bin("dagster-daemon"), "run", "-w", "workspace.yaml"])
        self._wait_for_code_location()
        if self.wait_for_daemon:
            self._wait_for_daemon_health()
        self.startup_seconds = time.monotonic() - started
        return self

    def _write_instance_yaml(self) -> None:
        assert self.dagster_home is not None
        original = (REPO_ROOT / "deploy" / "dagster.yaml").read_text()  # production: Postgres
        merged = _merge(yaml.safe_load(original), self.instance_overrides)
        if "storage" in self.instance_overrides:  # one kind of storage: replaced, not merged
            merged["storage"] = self.instance_overrides["storage"]
        header = (
            "# Copy of the repository's deploy/dagster.yaml for an end-to-end test, merged with the\n"
            f"# test-only overrides of tests/e2e/harness.py: {self.instance_overrides!r}\n"
        )
        (self.dagster_home / "dagster.yaml").write_text(header + yaml.safe_dump(merged, sort_keys=False))

    def _build_env(self) -> dict[str, str]:
        assert self.krx is not None and self.llm is not None and self.dagster_home is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_ENV_PREFIXES)}
        params = self._pg_params()
        env.update(
            {
                "DAGSTER_HOME": str(self.dagster_home),
                "DAGSTER_PG_HOST": params.get("host", "127.0.0.1"),
                "DAGSTER_PG_PORT": params.get("port", "5432"),
                "DAGSTER_PG_USER": params.get("user", "postgres"),
                "DAGSTER_PG_PASSWORD": params.get("password", ""),
                "DAGSTER_PG_DB": str(self.dagster_db),
                "DAGSTER_EVENT_BATCH_SIZE": image_env("DAGSTER_EVENT_BATCH_SIZE"),
                "KRX_ID": KRX_CREDENTIALS[0],
                "KRX_PW": KRX_CREDENTIALS[1],
                "ADELIE_KRX_URL": self.krx.url,
                "ADELIE_KRX_DELAY_SECONDS": str(self.krx_delay_seconds),
                "ADELIE_KRX_TIMEOUT_SECONDS": "10",
                "OPENAI_API_KEY": self.llm.api_key,
                "OPENAI_BASE_URL": self.llm.base_url,
                "ADELIE_WAREHOUSE_URL": self.warehouse_url,
                "ADELIE_CATCH_UP_DAYS": str(self.catch_up_days),
                "ADELIE_STATE_DIR": str(self.root / "state"),
                "PYTHONUNBUFFERED": "1",
                # The code servers and run workers find the console scripts of this interpreter.
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            }
        )
        return env

    def _cli(self, argv: Sequence[str], timeout: float = 120.0) -> str:
        command = [_bin(argv[0]), *argv[1:]]
        result = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
        if result.returncode != 0:
            raise PlatformError(
                f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip()[-2000:]}"
            )
        return result.stdout

    def _spawn(self, name: str, command: Sequence[str]) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
        self._log_handles.append(log)
        return subprocess.Popen(
            list(command),
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: stop() signals the group, which holds every descendant.
            start_new_session=True,
        )

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def _check_alive(self) -> None:
        for name, proc in (("webserver", self.webserver), ("daemon", self.daemon)):
            if proc is not None and proc.poll() is not None:
                raise PlatformError(f"dagster {name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def _wait_for_code_location(self) -> None:
        query = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
            name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""

        def probe() -> bool | None:
            self._check_alive()
            try:
                data = self.graphql(query, timeout=5)
            except (requests.RequestException, GraphQLError):
                return None
            entries = data["workspaceOrError"].get("locationEntries") or []
            for entry in entries:
                if entry["name"] != LOCATION_NAME or entry["loadStatus"] != "LOADED":
                    continue
                loaded = entry["locationOrLoadError"]
                if loaded and loaded["__typename"] == "PythonError":
                    raise PlatformError(f"The code location failed to load: {loaded['message']}")
                return True
            return None

        wait_until(probe, self.startup_timeout, "the webserver to load the code location", 0.5)

    def _wait_for_daemon_health(self) -> None:
        query = "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"
        needed = {"SCHEDULER", "BACKFILL", "QUEUED_RUN_COORDINATOR"}

        def probe() -> bool:
            self._check_alive()
            statuses = self.graphql(query)["instance"]["daemonHealth"]["allDaemonStatuses"]
            healthy = {s["daemonType"] for s in statuses if s["healthy"]}
            return needed <= healthy

        wait_until(probe, self.startup_timeout, "the daemon's first heartbeats", 1.0)

    def process_groups(self) -> dict[str, int]:
        groups = {}
        for name, proc in (("webserver", self.webserver), ("daemon", self.daemon)):
            if proc is not None:
                groups[name] = proc.pid  # start_new_session: the leader's pid is the group id
        return groups

    def processes(self) -> list[ProcessInfo]:
        return processes_in_groups(self.process_groups().values())

    def sample_rss(self, interval: float = 0.5) -> RssSampler:
        return RssSampler(self.process_groups(), interval).start()

    def stop(self) -> None:
        """Stop everything started, in reverse order; safe to call twice or after a failed start."""
        stopping = time.monotonic()
        errors: list[str] = []
        groups = list(self.process_groups().values())
        for pgid in groups:
            _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while processes_in_groups(groups) and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.2)
        for pgid in groups:
            _signal_group(pgid, signal.SIGKILL)
        self._reap(wait=True)
        if self.dagster_home is not None:
            # Anything outside the groups that still carries our DAGSTER_HOME is ours too.
            strays = processes_with_env("DAGSTER_HOME", str(self.dagster_home))
            for info in strays:
                try:
                    os.kill(info.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2 if strays else 0)
            self.leftovers = [
                *processes_in_groups(groups),
                *processes_with_env("DAGSTER_HOME", str(self.dagster_home)),
            ]
            self.strays.extend(strays)
            if strays:
                errors.append(f"{len(strays)} stray process(es) outside the process groups were killed")
        for handle in self._log_handles:
            handle.close()
        self._log_handles.clear()
        stop_fakes(self.krx, self.llm)
        self.krx = self.llm = None
        self._session.close()
        for database in (self.dagster_db, self.warehouse_db):
            if database:
                try:
                    drop_database(database)
                except PlatformError as exc:
                    errors.append(str(exc))
        self.dagster_db = self.warehouse_db = None
        if self.root is not None and not self.keep_files:
            shutil.rmtree(self.root, ignore_errors=True)
        self.webserver = self.daemon = None
        self.stop_seconds = time.monotonic() - stopping
        if errors:
            print("Platform.stop: " + "; ".join(errors), file=sys.stderr)

    def _reap(self, wait: bool = False) -> None:
        for proc in (self.webserver, self.daemon):
            if proc is None:
                continue
            if wait:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            else:
                proc.poll()

    # --- GraphQL ------------------------------------------------------------------------------

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None, timeout: float = 60) -> Any:
        response = self._session.post(
            self.graphql_url, json={"query": query, "variables": dict(variables or {})}, timeout=timeout
        )
        if response.status_code >= 500 or response.status_code == 404:
            raise GraphQLError(f"HTTP {response.status_code} from {self.graphql_url}")
        body = response.json()
        if body.get("errors"):
            raise GraphQLError("; ".join(e.get("message", str(e)) for e in body["errors"]))
        return body["data"]

    def launch_asset_backfill(
        self,
        asset_keys: Sequence[str],
        partition_keys: Sequence[str],
        title: str | None = None,
        run_config: Mapping[str, Any] | None = None,
    ) -> str:
        """Launch an asset backfill through the `launchPartitionBackfill` mutation; its id."""
        mutation = """mutation Launch($params: LaunchBackfillParams!) {
          launchPartitionBackfill(backfillParams: $params) {
            __typename
            ... on LaunchBackfillSuccess { backfillId }
            ... on PythonError { message }
            ... on Error { message }
          }
        }"""
        params: dict[str, Any] = {
            "assetSelection": [{"path": [key]} for key in asset_keys],
            "partitionNames": list(partition_keys),
        }
        if title:
            params["title"] = title
        if run_config is not None:
            params["runConfigData"] = dict(run_config)
        result = self.graphql(mutation, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise PlatformError(f"launchPartitionBackfill: {result['__typename']}: {result.get('message')}")
        return str(result["backfillId"])

    def backfill(self, backfill_id: str) -> dict[str, Any]:
        query = """query Backfill($id: String!) {
          partitionBackfillOrError(backfillId: $id) {
            __typename
            ... on PartitionBackfill {
              id status numPartitions isAssetBackfill
              error { message }
              runs { runId status tags { key value } }
            }
            ... on PythonError { message }
            ... on BackfillNotFoundError { message }
          }
        }"""
        result = self.graphql(query, {"id": backfill_id})["partitionBackfillOrError"]
        if result["__typename"] != "PartitionBackfill":
            raise PlatformError(f"partitionBackfillOrError: {result['__typename']}: {result.get('message')}")
        return result

    def wait_for_backfill(self, backfill_id: str, timeout: float) -> dict[str, Any]:
        """The backfill once it is terminal AND none of its runs is still going."""

        def probe() -> dict[str, Any] | None:
            self._check_alive()
            backfill = self.backfill(backfill_id)
            runs_done = all(r["status"] in TERMINAL_RUN_STATUSES for r in backfill["runs"])
            return backfill if backfill["status"] in TERMINAL_BACKFILL_STATUSES and runs_done else None

        return wait_until(probe, timeout, f"backfill {backfill_id} to finish", 1.0)

    def wait_for_backfill_runs(self, backfill_id: str, timeout: float) -> list[dict[str, Any]]:
        """The backfill's runs once it has launched some and all of them finished. Sooner than
        wait_for_backfill: the daemon marks the backfill finished on its next loop, up to 30 s later.
        Meant for backfills whose runs are all launched in one daemon loop: one chunk of assets that
        share a backfill policy (the KRX assets' runs come a loop before their downstream's)."""

        def probe() -> list[dict[str, Any]] | None:
            self._check_alive()
            runs = self.backfill(backfill_id)["runs"]
            return runs if runs and all(r["status"] in TERMINAL_RUN_STATUSES for r in runs) else None

        return wait_until(probe, timeout, f"the runs of backfill {backfill_id} to finish", 1.0)

    def launch_job_run(self, job_name: str, partition_key: str, tags: Mapping[str, str] | None = None) -> str:
        mutation = """mutation Launch($params: ExecutionParams!) {
          launchRun(executionParams: $params) {
            __typename
            ... on LaunchRunSuccess { run { runId } }
            ... on PythonError { message }
            ... on RunConfigValidationInvalid { errors { message } }
            ... on Error { message }
          }
        }"""
        all_tags = {"dagster/partition": partition_key, **(tags or {})}
        params = {
            "selector": {
                "repositoryLocationName": LOCATION_NAME,
                "repositoryName": REPOSITORY_NAME,
                "jobName": job_name,
            },
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in all_tags.items()]},
        }
        result = self.graphql(mutation, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise PlatformError(f"launchRun: {result['__typename']}: {result}")
        return str(result["run"]["runId"])

    def run(self, run_id: str) -> dict[str, Any]:
        query = """query Run($id: ID!) {
          runOrError(runId: $id) {
            __typename
            ... on Run {
              runId status jobName startTime endTime tags { key value }
              stepStats { stepKey status startTime endTime }
              assetSelection { path }
            }
            ... on RunNotFoundError { message }
            ... on PythonError { message }
          }
        }"""
        result = self.graphql(query, {"id": run_id})["runOrError"]
        if result["__typename"] != "Run":
            raise PlatformError(f"runOrError: {result['__typename']}: {result.get('message')}")
        # The selected assets' keys, sorted ("market_data", ...).
        result["assetSelection"] = sorted("/".join(key["path"]) for key in result["assetSelection"] or [])
        return result

    def wait_for_run(self, run_id: str, timeout: float) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            self._check_alive()
            run = self.run(run_id)
            return run if run["status"] in TERMINAL_RUN_STATUSES else None

        return wait_until(probe, timeout, f"run {run_id} to finish", 0.5)

    def step_stats(self, run_id: str) -> dict[str, str | None]:
        """step key -> status (SUCCESS, FAILURE, SKIPPED, IN_PROGRESS, or None when not started)."""
        return {s["stepKey"]: s["status"] for s in self.run(run_id)["stepStats"]}

    # --- the warehouse ------------------------------------------------------------------------

    @contextmanager
    def warehouse_connection(self) -> Iterator[psycopg2.extensions.connection]:
        params = self._pg_params()
        params["dbname"] = str(self.warehouse_db)
        conn = psycopg2.connect(**params, connect_timeout=5)
        try:
            yield conn
        finally:
            conn.close()

    def warehouse_query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.warehouse_connection() as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
