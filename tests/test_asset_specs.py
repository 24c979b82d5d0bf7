"""Snapshot of every asset and check spec: a change to keys, deps, partitions, pools, policies, kinds,
owners or metadata keys shows up in review as a diff of tests/snapshots/asset_specs.json.

Regenerate after an intended change: UPDATE_SNAPSHOTS=1 pytest tests/test_asset_specs.py
"""

import json
import os
from pathlib import Path
from typing import Any

from adelie_assets.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_specs.json"


def describe_specs() -> dict[str, Any]:
    graph = defs.get_repository_def().asset_graph
    assets: dict[str, Any] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        policy = node.backfill_policy
        assets[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
            "pool": node.pools and sorted(node.pools),
            "partitions": str(node.partitions_def),
            "backfill_policy": policy and {"max_partitions_per_run": policy.max_partitions_per_run},
            "metadata_keys": sorted(node.metadata),
            "checks": sorted(c.name for c in node.check_keys),
            "has_description": bool(node.description),
        }
    return {
        "assets": assets,
        "jobs": sorted(
            j.name for j in defs.get_repository_def().get_all_jobs() if not j.name.startswith("__")
        ),
        "schedules": sorted(s.name for s in defs.get_repository_def().schedule_defs),
        "sensors": sorted(s.name for s in defs.get_repository_def().sensor_defs),
    }


def test_asset_specs_match_the_snapshot() -> None:
    current = json.loads(json.dumps(describe_specs(), default=str))
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert current == json.loads(SNAPSHOT.read_text(encoding="utf-8"))
