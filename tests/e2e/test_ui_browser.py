"""The asset lineage as a person sees it: headless Chromium on the webserver's global asset graph,
every group unfolded, every asset and every edge where the code location declares it.

The browser is tests/browser.py's (the `browser` fixture of tests/conftest.py): Debian's chromium; it
skips locally and FAILS in CI (CI=true) when chromium or playwright is missing.
"""

from __future__ import annotations

import math
import time

import pytest

from tests.e2e.harness import REPO_ROOT, Platform

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SCREENSHOT = REPO_ROOT / "artifacts" / "lineage.png"
FAILURE_SCREENSHOT = REPO_ROOT / "artifacts" / "lineage-failure.png"  # what the page showed
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


# The lineage as the code location declares it (test_platform.py checks the same through GraphQL).
EXPECTED_EDGES = {
    ("market_data", "daily_themes"),
    ("market_data", "analog_features"),
    ("market_indices", "analog_features"),
    ("analog_features", "market_analogs"),
    ("market_data", "market_analogs"),
    ("daily_themes", "market_analogs"),
    ("market_episodes", "market_analogs"),
    ("market_analogs", "historical_cases"),
    ("daily_themes", "historical_cases"),
    ("market_indices", "historical_cases"),
    ("market_data", "app_briefing"),
    ("market_indices", "app_briefing"),
    ("daily_themes", "app_briefing"),
    ("market_data", "app_cases"),
    ("market_analogs", "app_cases"),
    ("historical_cases", "app_cases"),
}
ASSETS = sorted({name for edge in EXPECTED_EDGES for name in edge})
# How far (SVG units) an edge's end may lie from its node's box: its arrow head stops just short.
EDGE_SLACK = 15


def nearest_asset(point: list[float], boxes: dict[str, dict]) -> str | None:
    name, box = min(boxes.items(), key=lambda item: distance_to_box(point, item[1]))
    return name if distance_to_box(point, box) < EDGE_SLACK else None


def test_global_lineage_shows_every_asset_and_edge(browser, platform: Platform) -> None:
    # Tall enough for the unfolded graph with the episode calendar in the market group: the graph
    # renders only the nodes inside the viewport (at 1200 px analog_features fell outside it).
    page = browser.new_page(viewport={"width": 1800, "height": 2200})
    page.set_default_timeout(60_000)
    try:
        check_lineage(page, platform.url)
    except BaseException:
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(FAILURE_SCREENSHOT))
        raise
    finally:
        page.close()


def check_lineage(page, url: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # A first visit gets Dagster's "Join the community" dialog over the graph, some time after the
    # page settled: whenever it shows, it is skipped before the next action (its backdrop would
    # intercept the clicks on the groups otherwise).
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
    page.goto(url + LINEAGE_PATH, wait_until="networkidle")
    graph = page.locator(GRAPH)
    graph.wait_for()

    # The four groups are collapsed at first. The graph's settings menu unfolds them all and fits
    # the graph to the viewport; unfolded one by one they would overflow it, and the graph only
    # renders the nodes inside the viewport.
    expand_all = page.get_by_role("menuitem", name="Expand all groups")
    for attempt in range(3):
        # The last settings button is the graph's (the first is the navigation's).
        page.locator("button:has([aria-label=settings])").last.click()
        try:
            expand_all.click(timeout=5_000)
            break
        except PlaywrightTimeout:  # the dialog showed up meanwhile: skipping it closed the menu
            if attempt == 2:
                raise
    page.keyboard.press("Escape")
    graph.locator("foreignObject.group [aria-label=unfold_more]").first.wait_for(state="detached")
    for name in ASSETS:
        graph.locator("foreignObject", has_text=name).last.wait_for()

    # Unfolding the groups re-lays the graph out with an animation: read the geometry until it settles.
    deadline = time.monotonic() + 30
    while True:
        geometry = page.evaluate(GRAPH_GEOMETRY_JS, GRAPH)
        boxes = {}
        for name in ASSETS:
            [box] = [n for n in geometry["nodes"] if n["text"].startswith(name)]
            boxes[name] = box
        # Each edge leaves its upstream asset's box and ends (at its arrow head) at the downstream one.
        edges = {(tuple(e["start"]), tuple(e["end"])) for e in geometry["edges"]}
        drawn = {(nearest_asset(list(start), boxes), nearest_asset(list(end), boxes)) for start, end in edges}
        if drawn == EXPECTED_EDGES or time.monotonic() > deadline:
            break
        page.wait_for_timeout(500)
    assert drawn == EXPECTED_EDGES, (
        f"missing {EXPECTED_EDGES - drawn}, unexpected {drawn - EXPECTED_EDGES} among {edges} for {boxes}"
    )

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
