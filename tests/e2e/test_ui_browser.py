"""The asset lineage as a person sees it: headless Chromium on the webserver's global asset graph.

Uses Debian's chromium (Playwright's own browser download is not possible here). Without chromium or
the playwright package the test skips locally and FAILS in CI (CI=true), so a missing install step
in .ci/run cannot pass unnoticed.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest

from tests.e2e.harness import REPO_ROOT, Platform, unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

CHROMIUM = os.environ.get("ADELIE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
SCREENSHOT = REPO_ROOT / "artifacts" / "lineage.png"
# Dagster 1.13's "Lineage" entry: the global asset graph, assets boxed by group.
LINEAGE_PATH = "/asset-groups"
GRAPH = "svg[class*=AssetGraphExplorer_svgContainer]"

# In SVG coordinates: every asset node (a foreignObject without the "group" class), every group box,
# and each edge's end points. Edges are drawn twice (normal and highlighted), hence the dedup later.
GRAPH_GEOMETRY_JS = """(selector) => {
  const svg = document.querySelector(selector);
  const box = (f) => ({x: +f.getAttribute('x'), y: +f.getAttribute('y'),
                       w: +f.getAttribute('width'), h: +f.getAttribute('height')});
  const nodes = [...svg.querySelectorAll('foreignObject')]
    .filter((f) => !(f.getAttribute('class') || '').includes('group'))
    .map((f) => ({text: f.textContent, ...box(f)}));
  const edges = [...svg.querySelectorAll(':scope > path')].map((p) => {
    const start = p.getPointAtLength(0), end = p.getPointAtLength(p.getTotalLength());
    return {start: [start.x, start.y], end: [end.x, end.y]};
  });
  return {nodes, edges};
}"""


def distance_to_box(point: list[float], box: dict) -> float:
    dx = max(box["x"] - point[0], 0, point[0] - (box["x"] + box["w"]))
    dy = max(box["y"] - point[1], 0, point[1] - (box["y"] + box["h"]))
    return math.hypot(dx, dy)


@pytest.fixture(scope="module")
def browser():
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


def test_global_lineage_shows_both_assets_and_their_edge(browser, platform: Platform) -> None:
    page = browser.new_page(viewport={"width": 1800, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(platform.url + LINEAGE_PATH, wait_until="networkidle")
    # A first visit gets Dagster's "Join the community" dialog over the graph.
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.click()
    graph = page.locator(GRAPH)
    graph.wait_for()

    # The two assets are in different groups ("market", "cases"), collapsed at first: unfold each.
    for _ in range(5):
        collapsed = graph.locator("foreignObject.group [aria-label=unfold_more]")
        if not collapsed.count():
            break
        collapsed.first.click()
    for name in ("market_data", "historical_cases"):
        graph.locator("foreignObject", has_text=name).last.wait_for()

    # Unfolding a group re-lays the graph out with an animation: read the geometry until it settles.
    deadline = time.monotonic() + 30
    while True:
        geometry = page.evaluate(GRAPH_GEOMETRY_JS, GRAPH)
        boxes = {}
        for name in ("market_data", "historical_cases"):
            [box] = [n for n in geometry["nodes"] if n["text"].startswith(name)]
            boxes[name] = box
        edges = {(tuple(e["start"]), tuple(e["end"])) for e in geometry["edges"]}
        # The edge leaves market_data and ends (at its arrow head) at historical_cases.
        linking = [
            (start, end)
            for start, end in edges
            if distance_to_box(list(start), boxes["market_data"]) < 15
            and distance_to_box(list(end), boxes["historical_cases"]) < 15
        ]
        if linking or time.monotonic() > deadline:
            break
        page.wait_for_timeout(500)
    assert linking, f"no edge market_data -> historical_cases among {edges} for nodes {boxes}"
    assert not [e for e in edges if distance_to_box(list(e[0]), boxes["historical_cases"]) < 15], (
        "an edge leaves historical_cases, which has no downstream asset"
    )

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
    page.close()
