"""The container engine for the deploy test: Debian's dockerd, and stand-in base images.

This machine cannot pull from a container registry, so the images the Dockerfile and the compose
file name do not exist here. Debian's `docker.io` gives a working dockerd (as root) and
`docker build --network host` reaches the package registries, so the base is rebuilt from Debian:

    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm DIR MIRROR
    tar -C DIR -c . | docker import - adelie-stand-in/debian:bookworm-minbase
    + a venv on PATH (so `python` and `pip` behave as in the official image) and this machine's CA
      bundle (pip inside a build reaches the registry through it), tagged python:3.11.14-slim-bookworm

Each image is built only when its tag is missing, so a machine that ran this once starts in seconds.
Where the real `python:3.11.14-slim-bookworm` exists (pulled on a machine with registry access),
it is used as it is. The mirror is the one apt uses on this machine (/etc/apt/sources.list*).

Standard library only: `.ci/run` runs it with the system python before the project's venv exists.

    python3 tests/deploy/engine.py prepare   # install + start dockerd, build the bases
    python3 tests/deploy/engine.py stop      # stop the dockerd that `prepare` started
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCKER = os.environ.get("ADELIE_DOCKER", "docker")
PYTHON_BASE = "python:3.11.14-slim-bookworm"
MINBASE = "adelie-stand-in/debian:bookworm-minbase"
STAND_IN_LABEL = "org.adelie.stand-in"
SUITE = "bookworm"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
STATE_DIR = Path(os.environ.get("ADELIE_DOCKERD_STATE", "/tmp/adelie-dockerd"))
PID_FILE = STATE_DIR / "dockerd.pid"
LOG_FILE = STATE_DIR / "dockerd.log"

# No default bridge: every container of the test runs with --network host, and every build with
# `--network host`, so docker never creates a bridge with a private-range address on this machine.
DOCKERD_ARGS = ["--bridge=none", "--iptables=false"]

# What the official slim images also leave out: package caches and lists, docs, man pages, locales.
_TRIMMED = [
    "./var/cache/apt/archives/*.deb",
    "./var/cache/apt/*.bin",
    "./var/lib/apt/lists/*",
    "./usr/share/doc/*",
    "./usr/share/man/*",
    "./usr/share/info/*",
    "./usr/share/locale/*",
]

_PYTHON_STAND_IN_DOCKERFILE = f"""\
FROM {MINBASE}
LABEL {STAND_IN_LABEL}="debootstrap {SUITE} minbase + venv, for {PYTHON_BASE}"
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# Debian's ensurepip wheel verifies with its own certifi, not the system bundle.
COPY pip.conf /etc/pip.conf
RUN python3 -m venv /usr/local/python && /usr/local/python/bin/python -m pip --version
ENV PATH=/usr/local/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    LANG=C.UTF-8
CMD ["python3"]
"""


class EngineError(RuntimeError):
    """The engine could not be installed or started, or a base image could not be built."""


def log(message: str) -> None:
    print(f"[engine] {message}", file=sys.stderr, flush=True)


def _run(argv: list[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]


def engine_running() -> bool:
    if shutil.which(DOCKER) is None:
        return False
    try:
        return _run([DOCKER, "info", "--format", "{{.ServerVersion}}"], timeout=15).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def install_engine() -> None:
    """Debian's docker.io (dockerd, containerd, runc) and debootstrap, when missing."""
    missing = [
        pkg
        for pkg, binary in (("docker.io", "dockerd"), ("debootstrap", "debootstrap"))
        if shutil.which(binary) is None and not Path(f"/usr/sbin/{binary}").exists()
    ]
    if not missing:
        return
    log(f"apt-get install {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *missing]):
        result = _run(argv, timeout=300, env=env)
        if result.returncode != 0:
            raise EngineError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr[-2000:]}")


def start_engine(timeout: float = 60.0) -> None:
    """Start dockerd in the background (no systemd here) unless one answers already."""
    if engine_running():
        return
    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    if not Path(dockerd).exists():
        raise EngineError("dockerd is not installed (Debian package docker.io).")
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOG_FILE, "ab") as handle:
        proc = subprocess.Popen(
            [dockerd, *DOCKERD_ARGS],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    PID_FILE.write_text(str(proc.pid))
    log(f"dockerd started (pid {proc.pid}, log {LOG_FILE})")
    deadline = time.monotonic() + timeout
    while not engine_running():
        if proc.poll() is not None:
            raise EngineError(f"dockerd exited {proc.returncode}: {_tail(LOG_FILE)}")
        if time.monotonic() > deadline:
            raise EngineError(f"dockerd did not answer within {timeout:.0f} s: {_tail(LOG_FILE)}")
        time.sleep(0.5)


def stop_engine(timeout: float = 30.0) -> None:
    """Stop the dockerd that start_engine() started (by its pid file), nothing else."""
    if not PID_FILE.exists():
        return
    pid = int(PID_FILE.read_text())
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b""
    if b"dockerd" not in cmdline:  # gone, or the pid now belongs to another process
        PID_FILE.unlink()
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)
    PID_FILE.unlink()


def _tail(path: Path, chars: int = 2000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def image_exists(tag: str) -> bool:
    return _run([DOCKER, "image", "inspect", "--format", "{{.Id}}", tag], timeout=30).returncode == 0


def debian_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror apt uses here for the main archive (not -security, not third-party)."""
    candidates: list[str] = []
    files = sorted(
        [
            *sources_dir.glob("sources.list"),
            *sources_dir.glob("sources.list.d/*.list"),
            *sources_dir.glob("sources.list.d/*.sources"),
        ]
    )
    for path in files:
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for block in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", block, flags=re.M))
                if SUITE in fields.get("Suites", "").split() and "main" in fields.get("Components", ""):
                    candidates += fields.get("URIs", "").split()
        else:
            for line in text.splitlines():
                parts = line.split()
                if len(parts) >= 4 and parts[0] == "deb" and parts[2] == SUITE and "main" in parts[3:]:
                    candidates.append(parts[1])
    for uri in candidates:
        if uri.rstrip("/").endswith("/debian"):
            return uri
    raise EngineError(f"No Debian mirror for {SUITE} main in {sources_dir}/sources.list*.")


def build_minbase(timeout: float = 480.0) -> None:
    mirror = debian_mirror()
    with tempfile.TemporaryDirectory(prefix="adelie-minbase-") as tmp:
        root = Path(tmp) / "root"
        log(f"debootstrap --variant=minbase {SUITE} from {mirror}")
        argv = [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates",
            SUITE,
            str(root),
            mirror,
        ]
        result = _run(argv, timeout=timeout)
        if result.returncode != 0:
            raise EngineError(f"debootstrap exited {result.returncode}: {result.stdout[-2000:]}")
        tar = subprocess.Popen(
            ["tar", "-C", str(root), "--numeric-owner", *(f"--exclude={p}" for p in _TRIMMED), "-c", "."],
            stdout=subprocess.PIPE,
        )
        imported = _run([DOCKER, "import", "-", MINBASE], timeout=300, stdin=tar.stdout)
        tar.wait()
        if tar.returncode != 0 or imported.returncode != 0:
            raise EngineError(f"docker import {MINBASE} failed: {imported.stderr[-2000:]}")


def build_python_stand_in(timeout: float = 300.0) -> None:
    with tempfile.TemporaryDirectory(prefix="adelie-python-base-") as tmp:
        context = Path(tmp)
        (context / "Dockerfile").write_text(_PYTHON_STAND_IN_DOCKERFILE)
        shutil.copyfile(CA_BUNDLE, context / "ca-certificates.crt")
        (context / "pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
        log(f"docker build {PYTHON_BASE} (stand-in)")
        argv = [DOCKER, "build", "--network", "host", "-t", PYTHON_BASE, str(context)]
        result = _run(argv, timeout=timeout)
        if result.returncode != 0:
            raise EngineError(f"docker build {PYTHON_BASE} failed: {(result.stdout + result.stderr)[-2000:]}")


def ensure_bases() -> None:
    """The base image the Dockerfile names, built from Debian when its tag is missing."""
    if image_exists(PYTHON_BASE):
        return
    if not image_exists(MINBASE):
        build_minbase()
    build_python_stand_in()


def prepare() -> None:
    started = time.monotonic()
    install_engine()
    start_engine()
    ensure_bases()
    log(f"engine ready, bases present ({time.monotonic() - started:.0f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["prepare", "stop", "mirror"])
    args = parser.parse_args()
    try:
        if args.action == "prepare":
            prepare()
        elif args.action == "stop":
            stop_engine()
        else:
            print(debian_mirror())
    except (EngineError, subprocess.TimeoutExpired) as exc:
        log(f"FAILED: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
