"""Fixtures of the deploy test: a running engine, the stand-in bases, one deployment per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy import engine
from tests.deploy.deployment import Deployment, PortTaken
from tests.e2e.harness import PostgresUnavailable, unavailable


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "deploy: builds the Docker image and runs the compose services as containers"
    )


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    """The compose services, running. Tests may stop services (the last one does)."""
    if not engine.engine_running():
        unavailable(
            "No container engine answers `docker info`: .ci/run starts one "
            "(locally: `python3 tests/deploy/engine.py prepare`, as root)."
        )
    try:
        engine.ensure_bases()
    except engine.EngineError as exc:
        unavailable(f"The stand-in base images could not be built: {exc}")
    running = Deployment()
    try:
        running.__enter__()
    except (PostgresUnavailable, PortTaken) as exc:
        unavailable(str(exc))
    try:
        yield running
    finally:
        running.stop()
