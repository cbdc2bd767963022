"""Policy drift tests for CI: compare the current Kyverno/Gatekeeper inventory with a baseline.

Fails on a control disabled, downgraded (Enforce -> Audit, deny -> dryrun/warn) or removed, and on
more exceptions than the budget allows. New controls and upgrades are reported, never failed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from intelsec.errors import InputError
from intelsec.validation.k8s_policies import DISABLED, RANK, Inventory

BASELINE_VERSION = 1


@dataclass(frozen=True)
class Finding:
    type: str  # disabled | downgraded | removed | exception_budget | added | upgraded
    control: str
    baseline: str | None
    current: str | None
    where: str | None
    message: str
    fails: bool


def baseline_doc(inv: Inventory) -> dict[str, Any]:
    return {
        "version": BASELINE_VERSION,
        "controls": {k: {"mode": c.mode, "kind": c.kind} for k, c in sorted(inv.controls.items())},
        "exceptions": inv.exception_count,
    }


def write_baseline(inv: Inventory, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline_doc(inv), indent=2) + "\n", encoding="utf-8")


def read_baseline(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: baseline not found; create it with --write-baseline {path}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid baseline JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or doc.get("version") != BASELINE_VERSION or not isinstance(doc.get("controls"), dict):
        raise InputError(f"{path}: not an intelsec drift baseline (version {BASELINE_VERSION} with `controls`)")
    return doc


def compare(inv: Inventory, baseline: dict[str, Any] | None, budget: int | None) -> list[Finding]:
    out: list[Finding] = []
    for key, c in sorted(inv.controls.items()):
        where = f"{c.file}:{c.line}"
        before = (baseline or {}).get("controls", {}).get(key, {}).get("mode") if baseline else None
        if c.mode == DISABLED:
            out.append(Finding("disabled", key, before, c.mode, where, f"{key} is disabled", True))
        elif before is not None and RANK.get(c.mode, 0) < RANK.get(before, 0):
            out.append(Finding("downgraded", key, before, c.mode, where,
                               f"{key} downgraded from {before} to {c.mode}", True))
        elif baseline is not None and before is None:
            out.append(Finding("added", key, None, c.mode, where, f"{key} is new ({c.mode})", False))
        elif before is not None and RANK.get(c.mode, 0) > RANK.get(before, 0):
            out.append(Finding("upgraded", key, before, c.mode, where, f"{key} upgraded from {before} to {c.mode}",
                               False))
    for key, old in sorted(((baseline or {}).get("controls") or {}).items()):
        if key not in inv.controls:
            out.append(Finding("removed", key, old.get("mode"), None, None,
                               f"{key} ({old.get('mode')}) was removed", True))
    if budget is not None and inv.exception_count > budget:
        names = ", ".join(e.key for e in inv.exceptions[:10]) + (" ..." if len(inv.exceptions) > 10 else "")
        out.append(Finding("exception_budget", "exceptions", str(budget), str(inv.exception_count), None,
                           f"{inv.exception_count} exceptions exceed the budget of {budget}: {names}", True))
    return out


def report(inv: Inventory, findings: list[Finding], budget: int | None) -> dict[str, Any]:
    return {
        "ok": not any(f.fails for f in findings),
        "documents": inv.documents,
        "controls": len(inv.controls),
        "modes": {m: sum(c.mode == m for c in inv.controls.values()) for m in sorted(RANK)},
        "exceptions": {"count": inv.exception_count, "budget": budget,
                       "items": [{"key": e.key, "targets": list(e.targets), "where": f"{e.file}:{e.line}"}
                                 for e in inv.exceptions]},
        "findings": [asdict(f) for f in findings],
        "errors": inv.errors,
        "problems": inv.problems,
        "skipped": inv.skipped,
    }
