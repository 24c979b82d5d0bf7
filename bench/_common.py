"""Shared helpers of the benchmarks: the fakes as subprocesses, scratch warehouses, process-tree memory.

Standard library only (plus psycopg2, which the project installs): no psutil, so process trees are
read from /proc (Linux).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BIN = Path(PYTHON).parent
PG_DSN = os.environ.get("ADELIE_BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

# Settings that must not leak from the caller's shell into a benchmark's processes.
_SCRUBBED_ENV = (
    "KRX_ID",
    "KRX_PW",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ADELIE_KRX_URL",
    "ADELIE_WAREHOUSE_URL",
    "ADELIE_LLM_MODEL",
    "ADELIE_KRX_DELAY_SECONDS",
    "ADELIE_KRX_TIMEOUT_SECONDS",
    "ADELIE_STATE_DIR",
    "DAGSTER_HOME",
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
)


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def fmt_mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


# --- the fakes, started through their command lines ------------------------------------------


@dataclass
class Fakes:
    krx_url: str
    openai_base_url: str
    openai_url: str
    api_key: str
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def env(self, krx_delay: float) -> dict[str, str]:
        return {
            "KRX_ID": "demo-user",
            "KRX_PW": "demo-pass",
            "ADELIE_KRX_URL": self.krx_url,
            "ADELIE_KRX_DELAY_SECONDS": str(krx_delay),
            "OPENAI_API_KEY": self.api_key,
            "OPENAI_BASE_URL": self.openai_base_url,
        }

    def krx_stats(self) -> dict[str, Any]:
        return _get_json(f"{self.krx_url}/_fake/stats")

    def openai_state(self) -> dict[str, Any]:
        return _get_json(f"{self.openai_url}/_fake/state")

    def reset(self) -> None:
        _post_json(f"{self.krx_url}/_fake/reset", {})
        _post_json(f"{self.openai_url}/_fake/reset", {})


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw.strip() else {}


def _start_server(args: list[str], pattern: str) -> tuple[subprocess.Popen[str], re.Match[str]]:
    process = subprocess.Popen(
        [PYTHON, "-m", *args],
        cwd=REPO,
        env=base_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(pattern, line)
    if not match:
        process.terminate()
        raise RuntimeError(f"{args[0]} did not print its URL (got {line!r})")
    # Keep draining stdout so that the server never blocks on a full pipe.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, match


@contextmanager
def fakes(krx_latency: float, llm_latency: float) -> Iterator[Fakes]:
    """The fake KRX and fake OpenAI as subprocesses (their CLIs), on free ports, with fixed latencies."""
    krx, krx_match = _start_server(
        ["adelie_fakes.krx", "--port", "0", "--latency", str(krx_latency)],
        r"(http://[\d.]+:\d+)",
    )
    try:
        llm, llm_match = _start_server(
            ["adelie_fakes.openai", "--port", "0", "--latency", str(llm_latency)],
            r"at (http://[\d.]+:\d+)(/v1)\S* \(api key (\S+)\)",
        )
    except BaseException:
        krx.terminate()
        krx.wait()
        raise
    started = Fakes(
        krx_url=krx_match.group(1),
        openai_base_url=llm_match.group(1) + llm_match.group(2),
        openai_url=llm_match.group(1),
        api_key=llm_match.group(3),
        processes=[krx, llm],
    )
    try:
        yield started
    finally:
        for process in started.processes:
            process.terminate()
        for process in started.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- scratch warehouses ----------------------------------------------------------------------


def _admin() -> Any:
    import psycopg2

    conn = psycopg2.connect(PG_DSN, connect_timeout=5)
    conn.autocommit = True
    return conn


def create_pg_database(prefix: str = "adelie_bench") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = _admin()
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return name


def drop_pg_database(name: str) -> None:
    conn = _admin()
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def pg_url(name: str) -> str:
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


@contextmanager
def scratch_warehouse(kind: str, workdir: Path) -> Iterator[str]:
    """An empty warehouse (fresh Postgres database or SQLite file) for one run; removed afterwards."""
    if kind == "postgres":
        name = create_pg_database()
        try:
            yield pg_url(name)
        finally:
            drop_pg_database(name)
    elif kind == "sqlite":
        path = workdir / f"warehouse_{uuid.uuid4().hex[:8]}.sqlite"
        try:
            yield f"sqlite:///{path}"
        finally:
            path.unlink(missing_ok=True)
    else:
        raise ValueError(f"unknown warehouse kind {kind!r}")


WAREHOUSE_TABLES = (
    "market_data",
    "market_indices",
    "daily_themes",
    "analog_features",
    "market_analogs",
    "historical_cases",
    "llm_cache",
    "app_daily_briefings",
    "app_briefing_stocks",
    "app_historical_cases",
    "app_case_matches",
    "app_case_stock_relations",
)


def warehouse_counts(url: str) -> dict[str, int]:
    """Rows per warehouse table that exists (the app's tables included when the feed wrote to the
    warehouse), to check that two runs did the same work."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        present = set(sa.inspect(engine).get_table_names())
        with engine.connect() as conn:
            return {
                table: int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
                for table in WAREHOUSE_TABLES
                if table in present
            }
    finally:
        engine.dispose()


def seed_analog_history(url: str, first_day: str) -> None:
    """What market_analogs of `first_day` needs and a fresh warehouse lacks: tests/history.py's ~110
    trading days of synthetic market_data, market_indices and analog_features before it (the same
    seeding as the e2e year test). Not part of any timing."""
    from datetime import date

    sys.path.insert(0, str(REPO))
    from adelie_assets.resources.warehouse import Warehouse, dispose_engines
    from tests.history import seed_history_before

    seed_history_before(Warehouse(url=url), date.fromisoformat(first_day))
    dispose_engines()  # a database with open sessions cannot be a CREATE DATABASE template


@contextmanager
def seeded_template(kind: str, workdir: Path, first_day: str | None) -> Iterator[str | None]:
    """A warehouse seeded once (None when `first_day` is None: no seeding), copied by `clone_warehouse`
    for every run so that each run starts from the same state."""
    if first_day is None:
        yield None
        return
    if kind == "postgres":
        name = create_pg_database("adelie_bench_tmpl")
        try:
            seed_analog_history(pg_url(name), first_day)
            yield name
        finally:
            drop_pg_database(name)
    else:
        path = workdir / "template.sqlite"
        seed_analog_history(f"sqlite:///{path}", first_day)
        yield str(path)


@contextmanager
def clone_warehouse(kind: str, workdir: Path, template: str | None) -> Iterator[str]:
    """A fresh warehouse for one run: empty, or a copy of `template` (CREATE DATABASE ... TEMPLATE)."""
    if template is None:
        with scratch_warehouse(kind, workdir) as url:
            yield url
        return
    if kind == "postgres":
        name = f"adelie_bench_{uuid.uuid4().hex[:10]}"
        conn = _admin()
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        conn.close()
        try:
            yield pg_url(name)
        finally:
            drop_pg_database(name)
    else:
        path = workdir / f"warehouse_{uuid.uuid4().hex[:8]}.sqlite"
        shutil.copy(template, path)
        try:
            yield f"sqlite:///{path}"
        finally:
            path.unlink(missing_ok=True)


@contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"adelie_{prefix}_"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- memory of a process tree, from /proc ------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def tree_pids(root: int) -> list[int]:
    children = _children_map()
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def pss_kib(pid: int) -> int:
    """Proportional set size: shared pages split between their users, so that a tree's sum is honest
    (a forked child does not count its parent's pages twice)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return 0


class TreeMemorySampler:
    """Samples the process trees under `roots` every `interval` seconds: the peak of their summed PSS
    (`peak_kib`), the largest single RSS and the most processes alive at once."""

    def __init__(self, roots: Sequence[int], interval: float = 0.05) -> None:
        self.roots = list(roots)
        self.interval = interval
        self.peak_kib = 0
        self.peak_single_kib = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = {pid for root in self.roots for pid in tree_pids(root)}
            sizes = [rss_kib(pid) for pid in pids]
            if sizes:
                self.peak_kib = max(self.peak_kib, sum(pss_kib(pid) for pid in pids))
                self.peak_single_kib = max(self.peak_single_kib, max(sizes))
                self.peak_processes = max(self.peak_processes, sum(1 for s in sizes if s))
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Measured:
    wall: float
    returncode: int
    cpu: float  # user + system seconds of the child and its reaped descendants
    maxrss_kib: int  # ru_maxrss of the child (max over it and its reaped descendants)
    tree_peak_kib: int  # peak of the summed PSS of the live process tree, sampled
    stdout: str
    stderr: str


def run_measured(cmd: Sequence[str], env: dict[str, str], cwd: Path = REPO, timeout: float = 600) -> Measured:
    """Run `cmd` to completion: wall time from fork to exit, CPU time, ru_maxrss and sampled tree PSS."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        with TreeMemorySampler([process.pid]) as sampler:
            deadline = started + timeout
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() > deadline:
                    process.kill()
                    pid, status, usage = os.wait4(process.pid, 0)
                    break
                time.sleep(0.005)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            wall=wall,
            returncode=process.returncode,
            cpu=usage.ru_utime + usage.ru_stime,
            maxrss_kib=usage.ru_maxrss,
            tree_peak_kib=sampler.peak_kib,
            stdout=out.read(),
            stderr=err.read(),
        )


def check(measured: Measured, what: str) -> None:
    if measured.returncode != 0:
        sys.stderr.write(measured.stdout[-3000:] + "\n" + measured.stderr[-6000:] + "\n")
        raise SystemExit(f"{what} failed with exit code {measured.returncode}")
