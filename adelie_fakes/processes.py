"""The playground's processes as /proc shows them (Linux): by process group, and by an environment
marker that every descendant inherits, also the ones that left the group."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:  # the process ended between listing and reading, or is not ours
        return None


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) != os.getpid()]


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) of a live process, or None."""
    raw = _read(f"/proc/{pid}/stat")
    if raw is None:
        return None
    # The command name in parentheses may itself contain spaces or parentheses.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[2])


def in_group(pgid: int) -> list[int]:
    found = []
    for pid in _pids():
        stat = _stat(pid)
        if stat is not None and stat[0] != "Z" and stat[1] == pgid:
            found.append(pid)
    return found


def with_env(name: str, value: str) -> list[int]:
    """Live processes started with `name=value` in their environment."""
    needle = f"{name}={value}".encode()
    found = []
    for pid in _pids():
        environ = _read(f"/proc/{pid}/environ")
        stat = _stat(pid) if environ else None
        if environ and needle in environ.split(b"\0") and stat is not None and stat[0] != "Z":
            found.append(pid)
    return found


def kill(pids: Iterable[int], sig: signal.Signals = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
