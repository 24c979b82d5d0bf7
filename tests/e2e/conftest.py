"""Fixtures of the end-to-end tests: one running platform per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import Platform, start_platform


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: starts the whole platform (Postgres, dagster-webserver, dagster-daemon, fakes)"
    )


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    """A platform for the module's tests. Tests may stop it (the last one does); stop() is idempotent."""
    running = start_platform()
    try:
        yield running
    finally:
        running.stop()
