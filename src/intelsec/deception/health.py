"""Health of each asset: tested recently, rotation not overdue, within its noise budget."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from intelsec.deception.noise import AssetNoise, noise
from intelsec.deception.registry import AssetView, Registry


def asset_health(a: AssetView, n: AssetNoise | None, now: Any, test_max_age: timedelta) -> str:
    if a.status != "active":
        return a.status
    problems = []
    if a.last_test_ok is False:
        problems.append("test-failed")
    elif a.last_test_at is None or now - a.last_test_at > test_max_age:
        problems.append("untested")
    if a.next_rotation_at is not None and a.next_rotation_at <= now:
        problems.append("rotation-due")
    if n is not None and n.over_budget:
        problems.append("over-budget")
    return ",".join(problems) or "ok"


def status_rows(registry: Registry, test_max_age: timedelta, include_retired: bool = False) -> list[dict[str, Any]]:
    now = registry.clock.now()
    stats = noise(registry)
    rows = []
    for a in registry.assets(include_retired=include_retired):
        n = stats.get(a.id)
        rows.append({
            "id": a.id, "kind": a.kind, "owner": a.owner, "placement": a.placement,
            "health": asset_health(a, n, now, test_max_age), "touches": a.touch_count,
            "last_touched_at": a.last_touched_at, "last_test_at": a.last_test_at,
            "next_rotation_at": a.next_rotation_at, "alerts_7d": n.alerts if n else 0,
            "fp_7d": n.fp if n else 0, "fp_budget": n.budget if n else None,
            "mtta_seconds": round(n.mtta_seconds, 1) if n and n.mtta_seconds is not None else None,
        })
    return rows
