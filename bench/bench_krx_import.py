"""What importing pykrx costs a process that calls KRX: its package `__init__` (matplotlib, a font,
`pykrx.stock`) as before vs the three submodules alone (`krx_session._load_pykrx`, now).

Each measurement is a fresh `python -c` that first imports what both sides share (pandas, requests,
the project's resource module), then times only the pykrx part, and reports its RSS growth and whether
matplotlib got loaded. The sides alternate `--runs` times; medians and the ratio are printed.

    python bench/bench_krx_import.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, base_env, median, print_table  # noqa: E402

PRELUDE = """
import json, sys, time
import pandas, requests
import adelie_assets.resources.krx_session as krx_session
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
before = rss()
started = time.perf_counter()
"""
SIDES = {
    # What `_load_pykrx` did up to 1dbe9b2: the same imports, through the package's __init__.
    "before": "import pykrx\nkrx_session._load_pykrx()\n",
    "now": "krx_session._load_pykrx()\n",
}
REPORT = """
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "rss_kib": rss() - before, "matplotlib": "matplotlib" in sys.modules}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"bench_krx_import: {args.runs} runs a side; load average {os.getloadavg()[0]:.2f}", flush=True)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in SIDES}
    for n in range(args.runs):
        for name in SIDES if n % 2 == 0 else reversed(list(SIDES)):
            # base_env drops KRX_ID/KRX_PW: pykrx's import-time login fails at once, on both sides.
            code = PRELUDE + SIDES[name] + REPORT
            out = subprocess.run(
                [PYTHON, "-c", code], env=base_env(), capture_output=True, text=True, check=True
            )
            results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows = [
        [
            name,
            f"{median([r['seconds'] for r in found]):.3f} s",
            f"{median([r['rss_kib'] for r in found]) / 1024:.0f} MiB",
            str(found[0]["matplotlib"]),
        ]
        for name, found in results.items()
    ]
    print_table(["side", "pykrx import (median)", "RSS growth", "matplotlib loaded"], rows)
    saved = median([r["seconds"] for r in results["before"]]) - median([r["seconds"] for r in results["now"]])
    ratio = median([r["seconds"] for r in results["now"]]) / median([r["seconds"] for r in results["before"]])
    print(
        f"\nsaved per KRX-calling process: {saved:.2f} s (now/before {ratio:.2f}x); "
        f"load {os.getloadavg()[0]:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
