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

    def row(tech: str) -> dict[str, Any]:
        return rows.setdefault(tech, {"technique": tech, "scenarios": [], "detections": [], "last_run": None,
                                      "gaps": []})

    for rule in rules:
        for tech in rule_techniques(rule):
            row(tech)["detections"].append(rule.key)
    for sid, sc in scenarios:
        r = row(sc.technique or "-")
        r["scenarios"].append(sid)
        status = last_status.get(sid)
        if status and r["last_run"] != "failed":
            r["last_run"] = status
        for exp in sc.expect:
            if not any(exp.alert in rule.aliases() for rule in rules):
                broken = any(exp.alert in (p.rule, p.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]) for p in problems)
                r["gaps"].append(f"{sid}: expected {exp.alert!r} " + ("does not compile" if broken else "is missing"))
        if not sc.expect:
            r["gaps"].append(f"{sid}: no expectation")
    for r in rows.values():
        if not r["scenarios"]:
            r["gaps"].append("no scenario exercises this detection")
        elif r["last_run"] is None:
            r["gaps"].append("never run")
        elif r["last_run"] != "passed":
            r["gaps"].append(f"last run {r['last_run']}")
    return [rows[k] for k in sorted(rows)]
