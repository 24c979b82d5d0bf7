"""Measure a proposed product change without making it: run the Dagster CLI with the change patched in.

    python bench/what_if.py --patch gc_freeze,pykrx_stub -- job execute -m adelie_assets.definitions ...
    python bench/what_if.py --compare --days 25          # a backfill-sized run: current vs patched

Patches (each one a proposal of bench/README.md; none touches a file of the project):
  gc_freeze   `gc.freeze()` once `adelie_assets.definitions` is imported: the interpreter's exit no longer
              walks the ~185k objects of the import (measured ~1 s per process on this machine).
  pykrx_stub  import pykrx's submodules without running `pykrx/__init__.py` (matplotlib, fonts, pykrx.stock):
              ~0.7 s and ~30 MiB less per process that calls KRX.
  in_process  `Definitions(executor=in_process_executor)`: the implicit asset job that backfills run
              executes all its steps in the run worker instead of one subprocess per step (12 per run).
              The product adopted this in commit 47cc5b8; on that code the patch changes nothing.
(`no_checks`, the code location without its check steps, is gone: the assets' own steps record
their checks since issue 15's round four, so there are no check steps to drop.)

`--compare` runs the asset job (both assets and their checks) over `--days` days as one process, like
one run of the backfill (`BackfillPolicy.multi_run(25)`), alternately as-is and with each `--patches` set,
against the fakes, each on an empty warehouse; and the bare script on the same days for reference.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import shutil
import sys
import types
from pathlib import Path

PATCHES = ("gc_freeze", "pykrx_stub", "in_process")


def apply(patches: list[str]) -> None:
    unknown = set(patches) - set(PATCHES)
    if unknown:
        raise SystemExit(f"unknown patches {sorted(unknown)}; known: {', '.join(PATCHES)}")
    if "pykrx_stub" in patches:
        spec = importlib.util.find_spec("pykrx")
        assert spec is not None and spec.submodule_search_locations is not None
        package = types.ModuleType("pykrx")
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        sys.modules["pykrx"] = package
    import adelie_assets.definitions as definitions

    if "in_process" in patches:
        from dagster import Definitions, in_process_executor

        definitions.defs = Definitions.merge(definitions.defs, Definitions(executor=in_process_executor))
    if "gc_freeze" in patches:
        gc.freeze()


def run_cli(patches: list[str], argv: list[str]) -> None:
    apply(patches)
    from dagster._cli import main as dagster_main

    sys.argv = ["dagster", *argv]
    dagster_main()


def compare(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import (
        PYTHON,
        REPO,
        base_env,
        check,
        fakes,
        fmt_mib,
        median,
        print_table,
        run_measured,
        scratch_warehouse,
        warehouse_counts,
        workdir,
    )
    from bench_backfill import year_of_days

    keys = year_of_days(args.days)
    tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    job = [
        "job",
        "execute",
        "-m",
        "adelie_assets.definitions",
        "-j",
        "__ASSET_JOB",
        "--tags",
        json.dumps(tags),
    ]
    variants = {
        "bare script": [PYTHON, str(REPO / "bench" / "bare_daily.py"), "--start", keys[0], "--end", keys[-1]]
        + ["--chunk", str(args.days)],
        "dagster as-is": [PYTHON, __file__, "--patch", "", "--", *job],
    }
    for patches in args.patches.split(";"):
        variants[f"dagster + {patches}"] = [PYTHON, __file__, "--patch", patches, "--", *job]
    print(f"what_if --compare: {len(keys)} days {keys[0]}..{keys[-1]} in one process, {args.runs} runs each")
    results: dict[str, list] = {name: [] for name in variants}
    with fakes(args.krx_latency, args.llm_latency) as fake, workdir("what_if") as wd:
        home = wd / "dagster_home"
        home.mkdir()
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
        for _ in range(args.runs):
            for name, cmd in variants.items():
                fake.reset()
                with scratch_warehouse("postgres", wd) as url:
                    env = base_env(
                        **fake.env(0.0),
                        ADELIE_WAREHOUSE_URL=url,
                        ADELIE_STATE_DIR=str(wd / "state"),
                        DAGSTER_HOME=str(home),
                    )
                    measured = run_measured(cmd, env, timeout=1800)
                    check(measured, name)
                    counts = warehouse_counts(url)
                assert counts["historical_cases"] == 5 * len(keys), counts
                print(f"  {name:40} {measured.wall:7.1f} s", flush=True)
                results[name].append(measured)
    print()
    print_table(
        ["variant", "median wall", "median CPU", "peak PSS (tree)"],
        [
            [
                name,
                f"{median([m.wall for m in ms]):.1f} s",
                f"{median([m.cpu for m in ms]):.1f} s",
                fmt_mib(max(m.tree_peak_kib for m in ms)),
            ]
            for name, ms in results.items()
        ],
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patch", default="", help=f"comma-separated, of: {', '.join(PATCHES)}")
    parser.add_argument("--compare", action="store_true", help="time a backfill-sized run as-is vs patched")
    parser.add_argument(
        "--patches",
        default="gc_freeze,pykrx_stub",
        help="for --compare: patched variants separated by ';', e.g. 'in_process;in_process,gc_freeze'",
    )
    parser.add_argument("--days", type=int, default=25, help="for --compare")
    parser.add_argument("--runs", type=int, default=2, help="for --compare")
    parser.add_argument("--krx-latency", type=float, default=0.1, help="for --compare")
    parser.add_argument("--llm-latency", type=float, default=0.25, help="for --compare")
    args, rest = parser.parse_known_args()
    if args.compare:
        return compare(args)
    if rest[:1] == ["--"]:
        rest = rest[1:]
    run_cli([p for p in args.patch.split(",") if p], rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
