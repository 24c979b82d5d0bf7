"""deploy/docker-compose.yml, run with `docker` itself.

Debian's docker-compose (v1.29) rejects the Compose Specification's top-level `name:`, and Compose
v2 is not available here, so the deploy test reads each service's command, environment, env_file,
volumes, init, restart policy, logging, health check, stop grace period and dependencies from the
compose file and turns them into `docker run` arguments. Nothing about a service is written
twice, so the test cannot drift from the file.

What differs from `docker compose up`, and why:
- Host networking (`--network host`) instead of the compose network: the containers must reach
  the fake KRX, the fake OpenAI and PostgreSQL, which run on this machine's 127.0.0.1. The compose
  service names the workspace and the environment use (`postgres`, `user_code`) resolve to
  127.0.0.1 through `--add-host`.
- Because the host's network is shared, a command's bind address `0.0.0.0` becomes `127.0.0.1`: on
  the compose network 0.0.0.0 reaches only that network, on the host it would be every interface.
  Ports stay as written; `ports:` publishes the same port on 127.0.0.1, which is what host
  networking gives (the test checks that the two agree).
- The `postgres` service is replaced by this machine's server (scratch databases), so its image,
  volume and ./initdb are not used; the warehouse URL is set in the env file instead.
- Interpolation reads only the given env file (`deploy/.env` in production), never this process's
  environment, so the test is hermetic.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "deploy" / "docker-compose.yml"


class ComposeError(ValueError):
    """The compose file uses something this runner does not understand, or a required variable is unset."""


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
    `$VAR` and `$$`, with nested defaults (`${A:-x${B}y}`)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$":
            out.append(text[i])
            i += 1
            continue
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if text.startswith("${", i):
            end = _matching_brace(text, i + 1)
            out.append(_expand(text[i + 2 : end], variables))
            i = end + 1
            continue
        match = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)", text[i:])
        if match:
            out.append(variables.get(match.group(1), ""))
            i += match.end()
            continue
        out.append("$")
        i += 1
    return "".join(out)


def _matching_brace(text: str, start: int) -> int:
    depth = 0
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    raise ComposeError(f"Unclosed ${{ in {text!r}")


def _expand(expression: str, variables: Mapping[str, str]) -> str:
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])(.*))?$", expression, flags=re.S)
    if not match:
        raise ComposeError(f"Unsupported interpolation ${{{expression}}}")
    name, colon, operator, argument = match.groups()
    value = variables.get(name)
    unset = value is None or (colon == ":" and value == "")
    if operator is None:
        return value or ""
    if not unset:
        return str(value)
    if operator == "-":
        return interpolate(argument, variables)
    raise ComposeError(f"{name}: {interpolate(argument, variables)}")


def _interpolate_tree(node: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolate_tree(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_tree(value, variables) for key, value in node.items()}
    return node


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines as compose reads deploy/.env (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            raise ComposeError(f"{path}: not KEY=value: {line!r}")
        values[key.strip()] = value
    return values


def _seconds(duration: str | int) -> int:
    """A compose duration ("60s", "1m30s", "90") in whole seconds."""
    if isinstance(duration, int):
        return duration
    total = 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)?", duration)
    if not parts or "".join(n + (u or "") for n, u in parts) != duration:
        raise ComposeError(f"Unsupported duration {duration!r}")
    for number, unit in parts:
        total += float(number) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "": 1}[unit or ""]
    return int(total)


@dataclass
class Service:
    name: str
    image: str
    command: list[str]
    environment: dict[str, str]
    env_files: list[Path]
    volumes: list[tuple[str, str, str]]  # (named volume, container path, mode)
    init: bool
    restart: str
    logging: dict[str, Any]
    healthcheck: dict[str, Any] | None
    stop_grace_seconds: int | None
    depends_on: dict[str, str]
    ports: list[str]
    raw: dict[str, Any] = field(repr=False)

    def container_port(self) -> int | None:
        """The `-p` a command listens on, if any."""
        for flag, value in zip(self.command, self.command[1:], strict=False):
            if flag in ("-p", "--port"):
                return int(value)
        return None

    def full_environment(self) -> dict[str, str]:
        """env_file values, overridden by `environment:` (compose's precedence)."""
        merged: dict[str, str] = {}
        for path in self.env_files:
            merged.update(read_env_file(path))
        merged.update(self.environment)
        return merged

    def host_network_command(self) -> list[str]:
        return ["127.0.0.1" if arg == "0.0.0.0" else arg for arg in self.command]

    def health_args(self) -> list[str]:
        check = self.healthcheck
        if not check:
            return []
        test = check["test"]
        if isinstance(test, str):
            shell = test
        elif test[0] == "CMD":
            shell = shlex.join(test[1:])
        elif test[0] == "CMD-SHELL":
            shell = test[1]
        else:
            raise ComposeError(f"{self.name}: unsupported healthcheck test {test!r}")
        args = [f"--health-cmd={shell}"]
        for key, flag in (("interval", "interval"), ("timeout", "timeout"), ("start_period", "start-period")):
            if key in check:
                args.append(f"--health-{flag}={_seconds(check[key])}s")
        if "retries" in check:
            args.append(f"--health-retries={int(check['retries'])}")
        return args

    def run_args(
        self, *, container: str, volume_prefix: str, env_file: Path, extra_hosts: Mapping[str, str]
    ) -> list[str]:
        """`docker run` arguments up to (not including) the image: the container starts detached."""
        args = ["--name", container, "--network", "host", f"--env-file={env_file}"]
        if self.init:
            args.append("--init")
        if self.restart:
            args.append(f"--restart={self.restart}")
        if self.logging:
            args.append(f"--log-driver={self.logging.get('driver', 'json-file')}")
            for key, value in (self.logging.get("options") or {}).items():
                args.append(f"--log-opt={key}={value}")
        if self.stop_grace_seconds is not None:
            args.append(f"--stop-timeout={self.stop_grace_seconds}")
        for host, address in extra_hosts.items():
            args.append(f"--add-host={host}:{address}")
        for volume, target, mode in self.volumes:
            args += ["-v", f"{volume_prefix}{volume}:{target}{':' + mode if mode else ''}"]
        args += self.health_args()
        return args


def load(variables: Mapping[str, str], path: Path = COMPOSE_FILE) -> dict[str, Service]:
    """Every service of the compose file, interpolated with `variables` (deploy/.env)."""
    raw = yaml.safe_load(path.read_text())  # YAML merge keys (<<: *anchor) resolve here
    unknown_top = set(raw) - {"name", "services", "volumes"} - {k for k in raw if k.startswith("x-")}
    if unknown_top:
        raise ComposeError(f"Top-level keys this runner does not handle: {sorted(unknown_top)}")
    services: dict[str, Service] = {}
    for name, spec in raw["services"].items():
        spec = _interpolate_tree(spec, variables)
        volumes = []
        for entry in spec.get("volumes", []):
            source, target, *rest = entry.split(":")
            if source.startswith((".", "/")):
                volumes.append((str((path.parent / source).resolve()), target, rest[0] if rest else ""))
            else:
                volumes.append((source, target, rest[0] if rest else ""))
        env_file = spec.get("env_file", [])
        env_files = [path.parent / p for p in ([env_file] if isinstance(env_file, str) else env_file)]
        depends = spec.get("depends_on", {})
        if isinstance(depends, list):
            depends = {dep: "service_started" for dep in depends}
        else:
            depends = {dep: cond.get("condition", "service_started") for dep, cond in depends.items()}
        command = spec.get("command", [])
        services[name] = Service(
            name=name,
            image=spec["image"],
            command=shlex.split(command) if isinstance(command, str) else list(command),
            environment={k: "" if v is None else str(v) for k, v in (spec.get("environment") or {}).items()},
            env_files=env_files,
            volumes=volumes,
            init=bool(spec.get("init", False)),
            restart=str(spec.get("restart", "no")),
            logging=spec.get("logging") or {},
            healthcheck=spec.get("healthcheck"),
            stop_grace_seconds=_seconds(spec["stop_grace_period"]) if "stop_grace_period" in spec else None,
            depends_on=depends,
            ports=[str(p) for p in spec.get("ports", [])],
            raw=spec,
        )
    return services


def start_order(services: Mapping[str, Service]) -> list[str]:
    """Service names with every dependency before its dependants (compose's start order)."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ComposeError(f"depends_on cycle through {name}")
        visiting.add(name)
        for dependency in services[name].depends_on:
            visit(dependency)
        visiting.discard(name)
        order.append(name)

    for name in services:
        visit(name)
    return order
