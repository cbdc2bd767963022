"""Noise budget and response times: false positives per asset per week, MTTA per asset."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from intelsec.alerts.models import AlertIn, AlertView, Severity
from intelsec.alerts.service import AlertService
from intelsec.deception.registry import Registry
from intelsec.deception.touches import RULE, SOURCE
from intelsec.store.models import Alert

WEEK = timedelta(days=7)
BUDGET_RULE = "deception_fp_budget_exceeded"


@dataclass
class AssetNoise:
    asset_id: str
    alerts: int
    tp: int
    fp: int
    budget: int
    mtta_seconds: float | None

    @property
    def fp_rate(self) -> float | None:
        triaged = self.tp + self.fp
        return self.fp / triaged if triaged else None

    @property
    def over_budget(self) -> bool:
        return self.fp > self.budget


def noise(registry: Registry, since: datetime | None = None) -> dict[str, AssetNoise]:
    """Per active asset: live (non-test) alerts since `since` (default: one week), triage and MTTA."""
    start = since or registry.clock.now() - WEEK
    assets = {a.id: a for a in registry.assets()}
    out = {a.id: AssetNoise(a.id, 0, 0, 0, int(a.spec.get("fp_budget_per_week", 1)), None) for a in assets.values()}
    acks: dict[str, list[float]] = {}
    q = (select(Alert.entity, Alert.triage, Alert.created_at, Alert.acked_at)
         .where(Alert.source == SOURCE, Alert.rule == RULE, Alert.test.is_(False), Alert.created_at >= start))
    with registry.db.session() as s:
        rows = s.execute(q).all()
    for entity, triage, created, acked in rows:
        n = out.get(entity or "")
        if n is None:
            continue
        n.alerts += 1
        n.tp += triage == "tp"
        n.fp += triage == "fp"
        if acked is not None:
            acks.setdefault(n.asset_id, []).append((acked - created).total_seconds())
    for asset_id, durations in acks.items():
        out[asset_id].mtta_seconds = statistics.fmean(durations)
    return out


def check_budgets(registry: Registry, alerts: AlertService, asset_id: str | None = None) -> list[AssetNoise]:
    """Raise one alert per asset and ISO week when its false positives exceed the weekly budget."""
    over = [n for n in noise(registry).values() if n.over_budget and (asset_id is None or n.asset_id == asset_id)]
    year, week, _ = registry.clock.now().isocalendar()
    for n in over:
        alerts.raise_alert(AlertIn(
            rule=BUDGET_RULE, source=SOURCE, severity=Severity.medium, entity=n.asset_id,
            summary=f"deceptive asset {n.asset_id} exceeded its noise budget: {n.fp} false positives in 7 days "
                    f"(budget {n.budget}); review placement or retire it",
            evidence={"asset": n.asset_id, "false_positives": n.fp, "budget_per_week": n.budget},
            dedup_key=f"deception:budget:{n.asset_id}:{year}-W{week:02d}",
        ))
    return over


def triage(registry: Registry, alerts: AlertService, alert_id: str, verdict: str) -> tuple[AlertView, bool]:
    """Mark a deception alert tp/fp; returns (alert, whether its asset is now over budget)."""
    alert = alerts.triage(alert_id, verdict)
    over = bool(alert.entity) and alert.source == SOURCE and bool(check_budgets(registry, alerts, alert.entity))
    return alert, over
