"""Loading the code location: time and peak memory, and no heavy or networked module at load.

Measures, as fresh processes (fork to exit, ru_maxrss of the child), with no credentials set:
  * `python -c "import adelie_assets.definitions"`
  * `dagster definitions validate -m adelie_assets.definitions`
and checks that `pykrx`, `matplotlib` and `openai` are not in `sys.modules` after the import (exit
code 1 if one is). `--importtime` also lists the slowest top-level imports (python -X importtime).

    python bench/bench_load.py [--runs 5] [--importtime]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BIN, PYTHON, REPO, base_env, check, fmt_mib, median, print_table, run_measured, workdir  # noqa: E402

FORBIDDEN = ("pykrx", "matplotlib", "openai")

CHECK_CODE = (
    "import json, sys, time\n"
    "t = time.perf_counter()\n"
    "import adelie_assets.definitions\n"
    "elapsed = time.perf_counter() - t\n"
    f"print(json.dumps({{'seconds': elapsed, 'modules': len(sys.modules), "
    f"'loaded': [m for m in {FORBIDDEN!r} if m in sys.modules]}}))\n"
)


def top_imports(env: dict[str, str], count: int = 12) -> list[tuple[float, str]]:
    """The slowest imports at depth <= 1 under adelie_assets.definitions, cumulative seconds."""
    measured = run_measured([PYTHON, "-X", "importtime", "-c", "import adelie_assets.definitions"], env)
    check(measured, "python -X importtime")
    rows = []
    for line in measured.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        depth = (len(name) - len(name.lstrip())) // 2
        if cumulative.strip().isdigit() and depth <= 1:
            rows.append((int(cumulative) / 1e6, name.strip() if depth == 0 else "  " + name.strip()))
    return sorted(rows, reverse=True)[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--importtime", action="store_true", help="list the slowest imports")
    args = parser.parse_args(argv)

    commands = {
        "python -c 'import adelie_assets.definitions'": [PYTHON, "-c", "import adelie_assets.definitions"],
        "dagster definitions validate -m adelie_assets.definitions": [
            str(BIN / "dagster"),
            "definitions",
            "validate",
            "-m",
            "adelie_assets.definitions",
        ],
        "(reference) python -c 'import dagster'": [PYTHON, "-c", "import dagster"],
    }
    print(
        f"bench_load: {args.runs} runs each (+1 warm-up), load average {os.getloadavg()[0]:.2f}", flush=True
    )
    with workdir("bench_load") as wd:
        home = wd / "dagster_home"
        home.mkdir()
        env = base_env(ADELIE_STATE_DIR=str(wd / "state"), DAGSTER_HOME=str(home))
        results: dict[str, list] = {name: [] for name in commands}
        for i in range(args.runs + 1):
            for name, cmd in commands.items():
                measured = run_measured(cmd, env)
                check(measured, name)
                if i:
                    results[name].append(measured)

        probe = run_measured([PYTHON, "-c", CHECK_CODE], env)
        check(probe, "sys.modules probe")
        report = json.loads(probe.stdout.strip().splitlines()[-1])
        importtime = top_imports(env) if args.importtime else []

    print()
    print_table(
        ["command", "median wall", "min", "max", "peak RSS (ru_maxrss)"],
        [
            [
                name,
                f"{median([m.wall for m in ms]):.2f} s",
                f"{min(m.wall for m in ms):.2f} s",
                f"{max(m.wall for m in ms):.2f} s",
                fmt_mib(max(m.maxrss_kib for m in ms)),
            ]
            for name, ms in results.items()
        ],
    )
    print(
        f"\nimport adelie_assets.definitions in-process: {report['seconds']:.2f} s, "
        f"{report['modules']} modules in sys.modules"
    )
    for module in FORBIDDEN:
        status = "LOADED (bad)" if module in report["loaded"] else "not loaded (ok)"
        print(f"  {module:11} {status}")
    if importtime:
        print("\nslowest imports (python -X importtime, cumulative, depth <= 1):")
        for seconds, name in importtime:
            print(f"  {seconds:6.3f} s  {name}")
    if report["loaded"]:
        print(f"FAIL: {', '.join(report['loaded'])} imported when loading the code location", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
