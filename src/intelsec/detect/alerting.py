"""Turn detection matches into alerts on the bus (source "detect").

Evidence carries only what the rule looked at (its required fields) for a few events, never the
whole raw event, so a log that happens to hold a secret does not copy it into alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from intelsec.alerts import AlertIn, AlertService
from intelsec.alerts.models import RaiseResult
from intelsec.detect.events import event_time, flatten
from intelsec.detect.models import Match

SOURCE = "detect"
LEVELS = {"informational": "info", "low": "low", "medium": "medium", "high": "high", "critical": "critical"}
# Fields naming who did it, in the formats the shipped rules cover.
PRINCIPAL_FIELDS = ("userIdentity.arn", "userIdentity.userName", "actor.alternateId", "user.username",
                    "user.name", "UserPrincipalName", "principal", "User", "src_ip", "c-ip")
MAX_EVIDENCE_EVENTS = 5


def _entity(match: Match, flats: list[dict[str, Any]]) -> str | None:
    if match.group:
        return ",".join(f"{k}={v}" for k, v in sorted(match.group.items()))[:255]
    for field in PRINCIPAL_FIELDS:
        values = {str(f[field]) for f in flats if f.get(field) not in (None, "")}
        if len(values) == 1:
            return values.pop()[:255]
    return None


def _is_simulation(doc: dict[str, Any]) -> bool:
    sim = doc.get("simulation")
    return sim is True or (isinstance(sim, dict) and bool(sim))


def to_alert(match: Match, events: Sequence[dict[str, Any]]) -> AlertIn:
    rule = match.rule
    docs = [events[i] for i in match.events]
    flats = [flatten(d) for d in docs]
    shown = []
    for flat in flats[:MAX_EVIDENCE_EVENTS]:
        fields = {f: flat[f] for f in rule.required_fields if f in flat}
        shown.append({"time": event_time(flat), "fields": fields})
    evidence: dict[str, Any] = {
        "sigma_id": rule.id, "title": rule.title, "name": rule.name, "level": rule.level,
        "tags": list(rule.tags), "rule_file": rule.path, "matched_events": len(docs), "events": shown,
    }
    if match.group:
        evidence["group"] = match.group
    if match.window:
        evidence["window"] = {"start": match.window[0], "end": match.window[1]}
    nested = [d["simulation"].get("run_id") for d in docs if isinstance(d.get("simulation"), dict)]
    run_ids = sorted({str(r) for r in [*nested, *(d.get("simulation_run") for d in docs)] if r})
    if run_ids:
        evidence["simulation_runs"] = run_ids
    return AlertIn(
        rule=rule.key[:128],
        source=SOURCE,
        severity=LEVELS.get(rule.level.lower(), "medium"),  # type: ignore[arg-type]
        entity=_entity(match, flats),
        summary=f"Sigma: {rule.title} ({len(docs)} event{'s' if len(docs) != 1 else ''})",
        evidence=evidence,
        test=bool(docs) and all(_is_simulation(d) for d in docs),
    )


def raise_matches(service: AlertService, matches: Sequence[Match],
                  events: Sequence[dict[str, Any]]) -> list[RaiseResult]:
    return [service.raise_alert(to_alert(m, events)) for m in matches]
