"""The code location: `defs` is what `dagster dev`, the gRPC server and `dg check defs` load.

Everything under `defs/` is loaded by Dagster (`load_from_defs_folder`); the executor is set here,
once. Loading never calls KRX or OpenAI and works with no credentials set. The project config is
`dg.toml` in this package (shipped in the wheel, so an installed package finds it) and `[tool.dg]`
in pyproject.toml (for the `dg` CLI in a checkout): docs/dagster-notes.md.
"""

from pathlib import Path

import dagster as dg

from adelie_assets.defs.resources import build_resources

__all__ = ["build_resources", "defs"]

defs = dg.Definitions.merge(
    dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
    # Backfill runs and UI materializations too: a process per step costs ~4 s of imports each,
    # and KRX calls are serial anyway (measured: a year's backfill 630 s -> 240 s).
    dg.Definitions(executor=dg.in_process_executor),
)
