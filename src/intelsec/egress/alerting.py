"""Alerts egress raises: blocked destinations, exception TTL breaches, budget overruns, drift."""

from __future__ import annotations

from typing import Any

from intelsec.alerts.models import AlertIn, Severity
from intelsec.egress.schemas import ExceptionEntry

SOURCE = "egress"


def blocked(ns: str, destination: str, category: str, flows: int, env: str, reasons: list[str]) -> AlertIn:
    sev = Severity.high if category != "unknown" else Severity.medium
    return AlertIn(
        rule="egress.blocked",
        source=SOURCE,
        severity=sev,
        entity=f"{ns}->{destination}"[:255],
        summary=f"Egress from {ns} to {destination} ({category}) blocked in {env}",
        evidence={
            "namespace": ns,
            "destination": destination,
            "category": category,
            "flows": flows,
            "env": env,
            "reasons": reasons,
        },
        dedup_key=f"egress.blocked:{env}:{ns}:{destination}"[:255],
    )


def ttl_breach(exc: ExceptionEntry) -> AlertIn:
    target = exc.destination or f"category {exc.category}"
    return AlertIn(
        rule="egress.exception_ttl_breach",
        source=SOURCE,
        severity=Severity.medium,
        entity=str(exc.id)[:255],
        summary=f"Egress exception TTL breach: {exc.ticket} for {exc.namespace} -> {target} expired "
        f"{exc.expires.isoformat()} and no longer applies; renew or remove it",
        evidence={
            "exception": exc.id,
            "ticket": exc.ticket,
            "owner": exc.owner,
            "namespace": exc.namespace,
            "target": target,
            "expired": exc.expires.isoformat(),
        },
        dedup_key=f"egress.ttl:{exc.id}"[:255],
    )


def budget_exceeded(ns: str, active: int, budget: int) -> AlertIn:
    return AlertIn(
        rule="egress.exception_budget",
        source=SOURCE,
        severity=Severity.low,
        entity=ns,
        summary=f"Namespace {ns} has {active} active egress exceptions (budget {budget})",
        evidence={"namespace": ns, "active": active, "budget": budget},
        dedup_key=f"egress.budget:{ns}",
    )


def drift(kind: str, policy: str, detail: str, evidence: dict[str, Any]) -> AlertIn:
    sev = Severity.high if kind == "allowed_live_not_in_git" else Severity.medium
    return AlertIn(
        rule=f"egress.drift.{kind}",
        source=SOURCE,
        severity=sev,
        entity=policy[:255],
        summary=f"Egress policy drift ({kind.replace('_', ' ')}): {policy}: {detail}"[:2000],
        evidence=evidence,
        dedup_key=f"egress.drift:{kind}:{policy}:{detail}"[:255],
    )
