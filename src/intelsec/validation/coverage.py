"""ATT&CK coverage: which techniques have a scenario, a detection, and a passing last run."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from intelsec.detect.models import CompiledRule, RuleProblem
from intelsec.validation.schemas import Scenario

_TECHNIQUE_TAG = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)


def rule_techniques(rule: CompiledRule) -> set[str]:
    return {m.group(1).upper() for t in rule.tags if (m := _TECHNIQUE_TAG.match(t))}


def coverage(scenarios: Sequence[tuple[str, Scenario]], rules: Sequence[CompiledRule],
             problems: Sequence[RuleProblem], last_status: dict[str, str]) -> list[dict[str, Any]]:
    """One row per technique from scenarios and rule tags; gaps say what is missing."""
    rows: dict[str, dict[str, Any]] = {}
    statuses: dict[str, list[str | None]] = {}

    def row(tech: str) -> dict[str, Any]:
        return rows.setdefault(tech, {"technique": tech, "scenarios": [], "detections": [], "last_run": None,
                                      "gaps": []})

    for rule in rules:
        for tech in rule_techniques(rule):
            row(tech)["detections"].append(rule.key)
    for sid, sc in scenarios:
        r = row(sc.technique or "-")
        r["scenarios"].append(sid)
        statuses.setdefault(r["technique"], []).append(last_status.get(sid))
        for exp in sc.expect:
            if not any(exp.alert in rule.aliases() for rule in rules):
                broken = any(exp.alert in (p.rule, p.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]) for p in problems)
                r["gaps"].append(f"{sid}: expected {exp.alert!r} " + ("does not compile" if broken else "is missing"))
        if not sc.expect:
            r["gaps"].append(f"{sid}: no expectation")
    for tech, r in rows.items():
        if not r["scenarios"]:
            r["gaps"].append("no scenario exercises this detection")
            continue
        ran = [s for s in statuses[tech] if s]  # every scenario of the technique counts, not the last one read
        bad = sorted({s for s in ran if s != "passed"})
        r["last_run"] = bad[0] if bad else (ran[0] if ran else None)
        if len(ran) < len(statuses[tech]):
            r["gaps"].append("never run")
        r["gaps"] += [f"last run {s}" for s in bad]
    return [rows[k] for k in sorted(rows)]
