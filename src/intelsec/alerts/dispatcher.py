"""Delivers outbox rows to sinks: at-least-once, with exponential backoff and leases.

A row is leased before delivery and marked delivered only after the sink confirmed, so a dispatcher
killed mid-delivery leaves the row to be retried by the next one (receivers dedup on the key).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import func, or_, select, update

from intelsec.alerts.models import AlertView
from intelsec.alerts.sinks.interface import DeliveryError, Sink
from intelsec.clock import Clock, SystemClock
from intelsec.config import DispatcherConfig
from intelsec.store.db import Database
from intelsec.store.models import Alert, AlertDelivery

log = logging.getLogger("intelsec.alerts.dispatcher")


class Dispatcher:
    def __init__(
        self,
        db: Database,
        sinks: Mapping[str, Sink],
        config: DispatcherConfig | None = None,
        clock: Clock | None = None,
        batch_size: int = 50,
    ) -> None:
        self.db = db
        self.sinks = dict(sinks)
        self.config = config or DispatcherConfig()
        self.clock = clock or SystemClock()
        self.batch_size = batch_size

    def backoff(self, attempts: int) -> timedelta:
        """Full-jitter exponential backoff, capped."""
        cap = min(self.config.backoff_max_seconds, self.config.backoff_base_seconds * (2 ** max(0, attempts - 1)))
        return timedelta(seconds=cap * (0.5 + random.random() / 2))

    def _claim(self) -> list[str]:
        now = self.clock.now()
        lease = now + timedelta(seconds=self.config.lease_seconds)
        with self.db.session() as s:
            ids = s.scalars(
                select(AlertDelivery.id)
                .where(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= now)
                .where(or_(AlertDelivery.lease_until.is_(None), AlertDelivery.lease_until < now))
                .order_by(AlertDelivery.next_attempt_at)
                .limit(self.batch_size)
            ).all()
        claimed = []
        for did in ids:
            with self.db.session() as s:
                res = s.execute(
                    update(AlertDelivery)
                    .where(AlertDelivery.id == did, AlertDelivery.status == "pending")
                    .where(or_(AlertDelivery.lease_until.is_(None), AlertDelivery.lease_until < now))
                    .values(lease_until=lease)
                )
                if res.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(did)
        return claimed

    def _deliver_one(self, delivery_id: str) -> bool:
        with self.db.session() as s:
            d = s.get(AlertDelivery, delivery_id)
            assert d is not None
            alert = s.get(Alert, d.alert_id)
            assert alert is not None
            payload = AlertView.model_validate(alert).payload()
            sink_name = d.sink
        sink = self.sinks.get(sink_name)
        error: DeliveryError | None = None
        if sink is None:
            error = DeliveryError(f"sink {sink_name!r} is not configured", retryable=True)
        else:
            try:
                sink.deliver(payload, idempotency_key=delivery_id)
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # a sink bug must not kill the dispatcher
                error = DeliveryError(f"{sink_name}: unexpected {type(exc).__name__}")
        now = self.clock.now()
        with self.db.session() as s:
            d = s.get(AlertDelivery, delivery_id)
            assert d is not None
            d.attempts += 1
            d.lease_until = None
            if error is None:
                d.status, d.delivered_at, d.last_error = "delivered", now, None
                return True
            d.last_error = str(error)[:500]
            if not error.retryable or d.attempts >= self.config.max_attempts:
                d.status = "dead"
                log.error("alert delivery %s to %s given up after %d attempts: %s", delivery_id, sink_name,
                          d.attempts, d.last_error)
            else:
                d.next_attempt_at = now + self.backoff(d.attempts)
                log.warning("alert delivery %s to %s failed (attempt %d): %s", delivery_id, sink_name,
                            d.attempts, d.last_error)
            return False

    def run_once(self) -> int:
        """Deliver everything due now; returns the number delivered."""
        return sum(1 for did in self._claim() if self._deliver_one(did))

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                delivered = self.run_once()
            except Exception:  # database hiccup: keep the loop alive
                log.exception("dispatcher iteration failed")
                delivered = 0
            if delivered == 0:
                stop.wait(self.config.poll_interval_seconds)

    def backlog(self) -> dict[str, int]:
        """Outbox rows by status (pending, delivered, dead)."""
        with self.db.session() as s:
            rows = s.execute(select(AlertDelivery.status, func.count()).group_by(AlertDelivery.status))
            return {status: n for status, n in rows}

    def retry_dead(self) -> int:
        """Requeue deliveries that were given up on (after fixing a sink)."""
        with self.db.session() as s:
            res = s.execute(
                update(AlertDelivery).where(AlertDelivery.status == "dead")
                .values(status="pending", attempts=0, next_attempt_at=self.clock.now())
            )
            return int(res.rowcount)  # type: ignore[attr-defined]

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.close()
