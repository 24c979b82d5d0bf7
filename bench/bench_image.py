"""Build time and size of the production image (the real Dockerfile).

Three builds of the same context, one after the other:
  cold    `docker build --no-cache`: every layer of the Dockerfile rebuilt (pip downloads and
          installs all dependencies); the base image is present (the stand-in of
          tests/deploy/engine.py, or the official one where it was pulled)
  cached  nothing changed: every layer from the cache
  source  one source file changed: only the source layer and the ones after it are rebuilt
Then the image size and its largest layers. Needs a running dockerd (as root:
`python3 tests/deploy/engine.py prepare`). The builds use a copy of the repository, so the
checkout is never touched; the image is tagged adelie_assets:bench, not the compose tag.

    python bench/bench_image.py            # --tag adelie_assets:bench --skip-cold
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from tests.deploy import engine
from tests.deploy.deployment import build_image, docker, prepare_context

MIB = 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tag", default="adelie_assets:bench")
    parser.add_argument("--skip-cold", action="store_true", help="only the cached and source rebuilds")
    args = parser.parse_args()
    if not engine.engine_running():
        raise SystemExit("No container engine: run `python3 tests/deploy/engine.py prepare` as root.")
    engine.ensure_bases()
    base = json.loads(docker("image", "inspect", engine.PYTHON_BASE).stdout)[0]
    stand_in = engine.STAND_IN_LABEL in (base["Config"].get("Labels") or {})
    kind = "stand-in" if stand_in else "official"
    print(f"base {engine.PYTHON_BASE}: {kind}, {base['Size'] / MIB:.0f} MiB")
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores, shared)")

    root = Path(tempfile.mkdtemp(prefix="adelie_bench_image_"))
    try:
        context = prepare_context(root, "# no secrets in a bench build\n")
        if not args.skip_cold:
            cold = build_image(context, args.tag, no_cache=True)
            print(f"cold build (--no-cache)        {cold.seconds:7.1f} s")
        cached = build_image(context, args.tag)
        print(f"cached build (no change)       {cached.seconds:7.1f} s")
        source = context / "adelie_assets" / "__init__.py"
        source.write_text(source.read_text() + f"\n# bench edit {time.time()}\n")
        edited = build_image(context, args.tag)
        print(f"rebuild after a source edit    {edited.seconds:7.1f} s")
        size = json.loads(docker("image", "inspect", args.tag).stdout)[0]["Size"]
        print(f"image size {size / MIB:.0f} MiB ({size / 1e6:.0f} MB), base {base['Size'] / MIB:.0f} MiB")
        history = docker("history", "--no-trunc", "--format", "{{json .}}", args.tag).stdout.splitlines()
        layers = [json.loads(line) for line in history]
        print("largest layers:")
        for layer in sorted(layers, key=lambda entry: _bytes(entry["Size"]), reverse=True)[:4]:
            print(f"  {layer['Size']:>8}  {layer['CreatedBy'][:90]}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        docker("image", "rm", args.tag, check=False)
    return 0


def _bytes(size: str) -> float:
    units = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9}
    for unit in sorted(units, key=len, reverse=True):
        if size.endswith(unit):
            return float(size[: -len(unit)]) * units[unit]
    return 0.0


if __name__ == "__main__":
    raise SystemExit(main())
