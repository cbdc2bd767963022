"""Raising, de-duplicating, acknowledging and resolving alerts, and computing MTTA.

An alert and its outbox rows are written in one transaction; the dispatcher delivers later, so an
alert is never lost between "decided" and "delivered".
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select

from intelsec.alerts.models import AlertIn, AlertStatus, AlertView, MttaStats, RaiseResult
from intelsec.clock import Clock, SystemClock
from intelsec.errors import InputError, NotFoundError
from intelsec.store.db import Database
from intelsec.store.models import Alert, AlertDelivery


class AlertService:
    def __init__(
        self,
        db: Database,
        sinks: Sequence[str] = (),
        clock: Clock | None = None,
        dedup_window: timedelta = timedelta(minutes=10),
    ) -> None:
        self.db = db
        self.sinks = list(sinks)
        self.clock = clock or SystemClock()
        self.dedup_window = dedup_window

    def raise_alert(self, alert: AlertIn) -> RaiseResult:
        """Store an alert (or bump the count of an open duplicate) together with its outbox rows."""
        now = self.clock.now()
        key = alert.effective_dedup_key()
        with self.db.session() as s:
            existing = s.scalars(
                select(Alert)
                .where(Alert.dedup_key == key, Alert.status != AlertStatus.resolved.value)
                .where(Alert.last_seen_at >= now - self.dedup_window)
                .order_by(Alert.created_at.desc())
                .limit(1)
                .with_for_update()
            ).first()
            if existing is not None and self.dedup_window > timedelta(0):
                existing.count += 1
                existing.last_seen_at = now
                s.flush()
                return RaiseResult(alert=AlertView.model_validate(existing), deduplicated=True)
            row = Alert(
                rule=alert.rule,
                source=alert.source,
                severity=alert.severity.value,
                entity=alert.entity,
                summary=alert.summary,
                evidence=alert.evidence,
                dedup_key=key,
                count=1,
                status=AlertStatus.new.value,
                test=alert.test,
                created_at=now,
                last_seen_at=now,
            )
            s.add(row)
            s.flush()
            for sink in self.sinks:
                s.add(AlertDelivery(alert_id=row.id, sink=sink, status="pending", attempts=0, next_attempt_at=now))
            s.flush()
            return RaiseResult(alert=AlertView.model_validate(row), deduplicated=False)

    def get(self, alert_id: str) -> AlertView:
        with self.db.session() as s:
            row = s.get(Alert, alert_id)
            if row is None:
                # a unique id prefix is enough, as with git
                matches = s.scalars(select(Alert).where(Alert.id.startswith(alert_id)).limit(2)).all()
                if len(matches) != 1 or not alert_id:
                    raise NotFoundError(f"no alert with id {alert_id!r}")
                row = matches[0]
            return AlertView.model_validate(row)

    def list(
        self,
        status: str | None = None,
        source: str | None = None,
        severity: str | None = None,
        limit: int = 100,
        include_test: bool = True,
    ) -> list[AlertView]:
        q = select(Alert).order_by(Alert.created_at.desc()).limit(limit)
        if status:
            q = q.where(Alert.status == status)
        if source:
            q = q.where(Alert.source == source)
        if severity:
            q = q.where(Alert.severity == severity)
        if not include_test:
            q = q.where(Alert.test.is_(False))
        with self.db.session() as s:
            return [AlertView.model_validate(r) for r in s.scalars(q)]

    def _transition(self, alert_id: str, to: AlertStatus, by: str) -> AlertView:
        full_id = self.get(alert_id).id
        now = self.clock.now()
        with self.db.session() as s:
            row = s.get(Alert, full_id, with_for_update=True)
            assert row is not None
            if to is AlertStatus.acked:
                if row.status == AlertStatus.resolved.value:
                    raise InputError(f"alert {row.id} is already resolved")
                if row.acked_at is None:
                    row.acked_at, row.acked_by = now, by
                row.status = AlertStatus.acked.value
            else:
                if row.acked_at is None:
                    # Resolving implies acknowledging; MTTA counts the first human touch.
                    row.acked_at, row.acked_by = now, by
                row.status = AlertStatus.resolved.value
                row.resolved_at, row.resolved_by = now, by
            s.flush()
            return AlertView.model_validate(row)

    def ack(self, alert_id: str, by: str = "cli") -> AlertView:
        return self._transition(alert_id, AlertStatus.acked, by)

    def resolve(self, alert_id: str, by: str = "cli") -> AlertView:
        return self._transition(alert_id, AlertStatus.resolved, by)

    def triage(self, alert_id: str, verdict: str) -> AlertView:
        """Mark an alert a true or false positive (used by noise budgets)."""
        if verdict not in ("tp", "fp"):
            raise InputError("triage verdict must be 'tp' (true positive) or 'fp' (false positive)")
        full_id = self.get(alert_id).id
        with self.db.session() as s:
            row = s.get(Alert, full_id)
            assert row is not None
            row.triage = verdict
            s.flush()
            return AlertView.model_validate(row)

    def mtta(self, since: datetime | None = None, source: str | None = None, include_test: bool = False) -> MttaStats:
        """Mean/median/p90 time from creation to first acknowledgement."""
        q = select(Alert.created_at, Alert.acked_at)
        if since is not None:
            q = q.where(Alert.created_at >= since)
        if source:
            q = q.where(Alert.source == source)
        if not include_test:
            q = q.where(Alert.test.is_(False))
        with self.db.session() as s:
            rows = s.execute(q).all()
        durations = sorted((a - c).total_seconds() for c, a in rows if a is not None)
        unacked = sum(1 for _, a in rows if a is None)
        if not durations:
            return MttaStats(acked=0, unacked=unacked, mean_seconds=None, median_seconds=None, p90_seconds=None)
        p90 = durations[min(len(durations) - 1, round(0.9 * (len(durations) - 1)))]
        return MttaStats(
            acked=len(durations),
            unacked=unacked,
            mean_seconds=statistics.fmean(durations),
            median_seconds=statistics.median(durations),
            p90_seconds=p90,
        )

    def counts_by_severity(self) -> dict[tuple[str, str], int]:
        """(severity, status) -> number of alerts, for metrics."""
        with self.db.session() as s:
            rows = s.execute(select(Alert.severity, Alert.status, func.count()).group_by(Alert.severity, Alert.status))
            return {(sev, st): n for sev, st, n in rows}
