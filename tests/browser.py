"""Headless Chromium for the browser tests (tests/e2e/test_ui_browser.py, tests/playground).

Debian's chromium (.ci/run installs it), never Playwright's own browser download (not possible here).
Without chromium or the playwright package a test skips locally and FAILS in CI (CI=true), so a missing
install step in .ci/run cannot pass unnoticed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.e2e.harness import unavailable

CHROMIUM = os.environ.get("ADELIE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (a Playwright Browser), closed on exit."""
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does).")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("The playwright package is missing: pip install -e '.[dev]'.")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
