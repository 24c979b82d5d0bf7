"""Fixtures of the app-feed tests: a Postgres warehouse holding the upstream rows, and an app database
created by the app's own migrations (with and without its later UNIQUE (title, event_year))."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adelie_assets.resources import app_database as app_database_module
from tests.app.app_schema import app_migrations, apply
from tests.conftest import create_scratch_database, drop_scratch_database


def _dsn(name: str) -> str:
    return f"host=127.0.0.1 port=5432 user=postgres dbname={name}"


def _app_database(unique: bool) -> Iterator[str]:
    name = create_scratch_database("adelie_app")
    try:
        apply(_dsn(name), app_migrations(unique))
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        app_database_module.dispose_engines()
        drop_scratch_database(name)


@pytest.fixture(params=[False, True], ids=["without-unique", "with-unique-title-year"])
def app_db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The app's database as its migrations leave it (later columns, app extras), in both variants."""
    yield from _app_database(request.param)


@pytest.fixture
def app_db_url_unique() -> Iterator[str]:
    yield from _app_database(True)


@pytest.fixture
def empty_app_db_url() -> Iterator[str]:
    name = create_scratch_database("adelie_app")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        app_database_module.dispose_engines()
        drop_scratch_database(name)
