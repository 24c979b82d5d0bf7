"""Snapshot of every asset and check spec, job, schedule and sensor: a change to keys, deps, partitions,
pools, policies, kinds, owners, metadata keys, a check's blocking or severity, a job's selection, the
schedule's cron, timezone or default status, or a sensor's interval or default status shows up in
review as a diff of tests/snapshots/asset_specs.json.

Regenerate after an intended change: UPDATE_SNAPSHOTS=1 pytest tests/test_asset_specs.py
"""

import json
import os
from pathlib import Path
from typing import Any

from adelie_assets.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_specs.json"


def describe_specs() -> dict[str, Any]:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
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
    checks: dict[str, Any] = {}
    for key in sorted(graph.asset_check_keys, key=lambda k: k.to_user_string()):
        spec = graph.get_check_spec(key)
        checks[key.to_user_string()] = {
            "blocking": spec.blocking,
            "severity": spec.metadata.get("severity"),
            "partitions": str(spec.partitions_def),
            "additional_deps": sorted(d.asset_key.to_user_string() for d in spec.additional_deps),
        }
    return {
        "assets": assets,
        "checks": checks,
        "jobs": {
            job.name: {
                "assets": sorted(k.to_user_string() for k in job.selection.resolve(graph)),
                "checks": sorted(k.to_user_string() for k in job.selection.resolve_checks(graph)),
            }
            for job in sorted(defs.jobs or [], key=lambda j: j.name)
        },
        "schedules": {
            s.name: {
                "job": s.job_name,
                "cron": s.cron_schedule,
                "timezone": s.execution_timezone,
                "default_status": s.default_status.value,
            }
            for s in sorted(repo.schedule_defs, key=lambda s: s.name)
        },
        "sensors": {
            s.name: {
                "type": s.sensor_type.value,
                "minimum_interval_seconds": s.minimum_interval_seconds,
                "default_status": s.default_status.value,
            }
            for s in sorted(repo.sensor_defs, key=lambda s: s.name)
        },
    }


def test_asset_specs_match_the_snapshot() -> None:
    current = json.loads(json.dumps(describe_specs(), default=str))
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert current == json.loads(SNAPSHOT.read_text(encoding="utf-8"))
