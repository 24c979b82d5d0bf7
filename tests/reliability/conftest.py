"""Fixtures of the reliability suite.

`private_pg` is a PostgreSQL cluster of this suite's own (initdb in a temp dir, a free port on
127.0.0.1), because these tests stop, restart and kill database connections: the shared server on
5432 is never touched by them. Host connections need a real password (scram-sha-256) for every role
but the `postgres` superuser, so a role created here really authenticates with its password.

Like tests/conftest.py: what is missing (PostgreSQL binaries, runuser) SKIPs locally and FAILs when
CI=true, so CI can never pass without the checks.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest

from adelie_assets.resources import warehouse as warehouse_module

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI") == "true"


def missing(reason: str) -> None:
    """Skip locally, fail in CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this check is mandatory)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return candidates[-1].parent if candidates else None


class PrivatePostgres:
    """One throw-away PostgreSQL cluster, started, stopped and restarted on demand."""

    def __init__(self, root: Path, bindir: Path, port: int) -> None:
        self.root = root
        self.bindir = bindir
        self.port = port
        self.data = root / "data"
        self.log = root / "server.log"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {proc.stderr or proc.stdout}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8")
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all postgres 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )

    @property
    def _options(self) -> str:
        return (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c max_connections=60"
        )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> float:
        """`pg_ctl restart -m fast`: every session is terminated. Returns the seconds it took."""
        started = time.monotonic()
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options, "-m", "fast", "-w",
            "restart",
        )  # fmt: skip
        return time.monotonic() - started

    def is_running(self) -> bool:
        try:
            psycopg2.connect(self.dsn(), connect_timeout=2).close()
        except psycopg2.OperationalError:
            return False
        return True

    def ensure_running(self) -> None:
        if not self.is_running():
            self.start()

    def dsn(self, dbname: str = "postgres", user: str = "postgres", password: str | None = None) -> str:
        dsn = f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"
        return dsn + (f" password={password}" if password else "")

    def url(self, dbname: str, user: str = "postgres", password: str | None = None) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql+psycopg2://{auth}@127.0.0.1:{self.port}/{dbname}"

    def admin(self, dbname: str = "postgres") -> psycopg2.extensions.connection:
        conn = psycopg2.connect(self.dsn(dbname), connect_timeout=5)
        conn.autocommit = True
        return conn

    def execute(self, sql: str, dbname: str = "postgres") -> list[tuple]:
        conn = self.admin(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def create_database(self, prefix: str = "rel", owner: str | None = None) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.execute(f'CREATE DATABASE "{name}"' + (f' OWNER "{owner}"' if owner else ""))
        return name


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivatePostgres]:
    bindir = _pg_bin()
    if bindir is None:
        missing("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        missing("running as root without runuser: cannot start a private PostgreSQL cluster")
    root = Path(tempfile.mkdtemp(prefix="adelie_reliability_pg_"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    cluster = PrivatePostgres(root, bindir, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        warehouse_module.dispose_engines()
        try:
            if cluster.data.exists():
                cluster.stop("immediate")
        except RuntimeError:
            pass  # already stopped
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg(private_pg: PrivatePostgres) -> Iterator[PrivatePostgres]:
    """The private cluster, running at the start of the test and again after it (tests stop it)."""
    private_pg.ensure_running()
    yield private_pg
    warehouse_module.dispose_engines()
    private_pg.ensure_running()


def python_subprocess(
    code: str, env: Mapping[str, str] | None = None, args: Sequence[str] = (), **kwargs: object
) -> subprocess.Popen[str]:
    """A fresh interpreter running `code` (with `args` as sys.argv[1:]) from the repository root."""
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO)}
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def wait_until(
    condition: Callable[[], object], timeout: float, interval: float = 0.01, what: str = "condition"
) -> float:
    """Poll `condition()` until true; returns the seconds waited. Fails the test on timeout."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - started
