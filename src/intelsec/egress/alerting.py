"""Alerts egress raises: blocked destinations, exception TTL breaches, budget overruns, drift."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
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


class BlockThrottle:
    """Lets a block alert out at most once a `window` per (namespace, destination) and `limit` per
    window in all, so a client hammering random names cannot flood the alert bus; every block is
    still counted in the metrics and the flow log."""

    def __init__(self, limit: int = 30, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._last: dict[tuple[str, str], float] = {}
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()

    def allow(self, ns: str, destination: str) -> bool:
        now = self.clock()
        with self._lock:
            while self._recent and self._recent[0] <= now - self.window:
                self._recent.popleft()
            if len(self._last) > 2 * self.limit:  # keys older than the window mute nothing any more
                self._last = {k: t for k, t in self._last.items() if now - t < self.window}
            if now - self._last.get((ns, destination), -self.window) < self.window or len(self._recent) >= self.limit:
                return False
            self._last[(ns, destination)] = now
            self._recent.append(now)
            return True


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
