"""One detection pass: compile rules, load events, match, optionally raise alerts; a report comes back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intelsec.alerts import AlertService
from intelsec.detect.alerting import raise_matches, to_alert
from intelsec.detect.compile import compile_paths
from intelsec.detect.engine import run_rules
from intelsec.detect.events import Quarantined, read_events
from intelsec.detect.models import CompiledRule, Match, RuleProblem

WORKSPACE_DETECTIONS = "detections"


@dataclass
class DetectReport:
    rules: list[CompiledRule]
    events: int
    matches: list[Match]
    problems: list[RuleProblem] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    alert_ids: list[str] = field(default_factory=list)
    match_rows: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rules": len(self.rules),
            "events": self.events,
            "matches": self.match_rows,
            "problems": [vars(p) for p in self.problems],
            "quarantined": [vars(q) for q in self.quarantined],
            "alerts": self.alert_ids,
        }


def detect(rules: Sequence[CompiledRule], events: Sequence[dict[str, Any]], alerts: AlertService | None = None,
           problems: Sequence[RuleProblem] = (), quarantined: Sequence[Quarantined] = ()) -> DetectReport:
    matches, runtime_problems = run_rules(rules, events)
    report = DetectReport(list(rules), len(events), matches, [*problems, *runtime_problems], list(quarantined))
    for m in matches:
        a = to_alert(m, events)
        report.match_rows.append({"rule": a.rule, "title": m.rule.title, "level": m.rule.level,
                                  "events": len(m.events), "entity": a.entity, "group": m.group or None})
    if alerts is not None:
        report.alert_ids = [r.alert.id for r in raise_matches(alerts, matches, events)]
    return report


def detect_files(rule_paths: Sequence[str | Path], event_files: Sequence[Path],
                 alerts: AlertService | None = None) -> DetectReport:
    rules, problems = compile_paths(rule_paths)
    events: list[dict[str, Any]] = []
    quarantined: list[Quarantined] = []
    for f in event_files:
        ev, bad = read_events(f)
        events.extend(ev)
        quarantined.extend(bad)
    return detect(rules, events, alerts, problems, quarantined)
