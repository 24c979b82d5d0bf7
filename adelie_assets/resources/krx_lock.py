"""One KRX call at a time per host, whatever the Dagster instance config: an `flock` on a file.

The `krx` concurrency pool limits runs only on an instance configured for it; a run on an empty
DAGSTER_HOME, a `dagster dev` next to the deployment, or a notebook would call KRX in parallel, and
KRX bans bulk requesters (one account also holds one session). The lock file lives at a fixed path,
`/tmp/adelie-krx-<origin>.lock`, on purpose: two processes with different environments (another
DAGSTER_HOME, ADELIE_STATE_DIR or TMPDIR) still meet there. The file also keeps the time of the last
call, so that the polite delay holds across processes too. Per host means per filesystem: runs in
separate containers rely on the `krx` pool (docs/reliability.md, "One KRX call at a time").
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_DIR = Path("/tmp")  # noqa: S108 - fixed on purpose: see the module docstring

_thread_lock = threading.Lock()  # flock is per open file; threads of one process queue here first


def lock_path(origin: str) -> Path:
    digest = hashlib.sha256(origin.rstrip("/").encode()).hexdigest()[:16]
    return LOCK_DIR / f"adelie-krx-{digest}.lock"


def _open(path: Path) -> tuple[int, bool]:
    """A descriptor of the lock file and whether it is writable (another user's file may not be)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        return os.open(path, os.O_RDONLY), False
    with contextlib.suppress(PermissionError):
        os.fchmod(fd, 0o666)  # other users' processes must be able to take it too
    return fd, True


@contextlib.contextmanager
def one_krx_call(origin: str, delay_seconds: float) -> Iterator[None]:
    """Hold the host-wide KRX lock for one call, after the polite delay since the last call."""
    with _thread_lock:
        fd, writable = _open(lock_path(origin))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last = _read_last_call(fd)
            wait = min(last + delay_seconds - time.time(), delay_seconds)
            if wait > 0:
                time.sleep(wait)
            try:
                yield
            finally:
                if writable:
                    _write_last_call(fd, time.time())
        finally:
            os.close(fd)  # closing the descriptor releases the flock


def _read_last_call(fd: int) -> float:
    try:
        return float(os.pread(fd, 64, 0).decode().strip() or 0.0)
    except ValueError:
        return 0.0


def _write_last_call(fd: int, at: float) -> None:
    payload = f"{at:.6f}\n".encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, payload, 0)
