"""Store and alert bus on SQLite and on a real PostgreSQL: dedup, lifecycle, MTTA, outbox retries."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select

from intelsec.alerts.dispatcher import Dispatcher
from intelsec.alerts.models import AlertIn, Severity
from intelsec.alerts.service import AlertService
from intelsec.alerts.sinks import DeliveryError, JsonlSink, Sink
from intelsec.clock import FrozenClock
from intelsec.config import DispatcherConfig
from intelsec.errors import InputError, NotFoundError, StoreError
from intelsec.store.db import Database, current_heads, script_heads, upgrade
from intelsec.store.models import AlertDelivery, Run


class FlakySink(Sink):
    """Fails the first `failures` deliveries, then records payloads."""

    def __init__(self, failures: int, retryable: bool = True) -> None:
        self.name = "flaky"
        self.failures = failures
        self.retryable = retryable
        self.calls = 0
        self.got: list[tuple[str, dict[str, Any]]] = []

    def deliver(self, payload: dict[str, Any], idempotency_key: str) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise DeliveryError("HTTP 503", retryable=self.retryable)
        self.got.append((idempotency_key, payload))


def _alert(**kw: Any) -> AlertIn:
    base = dict(rule="canary_touch", source="deception", severity=Severity.high, entity="payments",
                summary="decoy route touched")
    base.update(kw)
    return AlertIn(**base)


def test_migrations_create_core_tables(migrated_db: Database, db_url: str) -> None:
    tables = set(inspect(migrated_db.engine).get_table_names())
    assert {"events", "alerts", "alert_deliveries", "decisions", "runs"} <= tables
    assert current_heads(db_url) == script_heads()
    upgrade(db_url)  # idempotent
    with migrated_db.session() as s:
        s.add(Run(kind="sbom.triage", started_at=FrozenClock().now(), summary={"critical": 0}))
    with migrated_db.session() as s:
        run = s.scalars(select(Run)).one()
        assert run.started_at.tzinfo is not None and run.summary == {"critical": 0}


def test_duplicates_within_window_collapse_with_count(migrated_db: Database) -> None:
    clock = FrozenClock()
    svc = AlertService(migrated_db, sinks=["a", "b"], clock=clock, dedup_window=timedelta(minutes=10))
    first = svc.raise_alert(_alert())
    clock.advance(60)
    second = svc.raise_alert(_alert())
    assert second.deduplicated and second.alert.id == first.alert.id and second.alert.count == 2
    other = svc.raise_alert(_alert(entity="ledger"))
    assert not other.deduplicated
    clock.advance(timedelta(minutes=11))
    third = svc.raise_alert(_alert())
    assert not third.deduplicated and third.alert.id != first.alert.id
    with migrated_db.session() as s:
        # outbox rows only for new alerts, one per sink
        assert s.query(AlertDelivery).count() == 3 * 2


def test_resolved_alert_is_not_reused_for_dedup(migrated_db: Database) -> None:
    svc = AlertService(migrated_db, clock=FrozenClock())
    a = svc.raise_alert(_alert()).alert
    svc.resolve(a.id)
    assert svc.raise_alert(_alert()).alert.id != a.id


def test_ack_resolve_lifecycle_and_mtta(migrated_db: Database) -> None:
    clock = FrozenClock()
    svc = AlertService(migrated_db, clock=clock)
    a = svc.raise_alert(_alert(entity="a")).alert
    b = svc.raise_alert(_alert(entity="b")).alert
    t = svc.raise_alert(_alert(entity="t", test=True)).alert
    clock.advance(120)
    acked = svc.ack(a.id[:8], by="alice")
    assert acked.status == "acked" and acked.acked_by == "alice"
    clock.advance(240)
    svc.resolve(b.id, by="bob")  # resolving counts as the first acknowledgement
    svc.ack(t.id)
    stats = svc.mtta()
    assert stats.acked == 2 and stats.unacked == 0
    assert stats.mean_seconds == pytest.approx(240.0)  # (120 + 360) / 2, test alert excluded
    with pytest.raises(InputError):
        svc.ack(b.id)
    with pytest.raises(NotFoundError):
        svc.get("doesnotexist")
    assert [x.id for x in svc.list(status="resolved")] == [b.id]
    assert svc.counts_by_severity()[("high", "acked")] == 2


def test_dispatcher_retries_with_backoff_then_delivers(migrated_db: Database) -> None:
    clock = FrozenClock()
    svc = AlertService(migrated_db, sinks=["flaky"], clock=clock)
    alert = svc.raise_alert(_alert()).alert
    sink = FlakySink(failures=2)
    disp = Dispatcher(migrated_db, {"flaky": sink}, DispatcherConfig(backoff_base_seconds=10), clock=clock)
    assert disp.run_once() == 0
    assert disp.run_once() == 0  # not due yet: backoff holds it
    assert sink.calls == 1
    clock.advance(20)
    assert disp.run_once() == 0 and sink.calls == 2
    clock.advance(60)
    assert disp.run_once() == 1
    key, payload = sink.got[0]
    assert payload["id"] == alert.id and payload["summary"] == "decoy route touched"
    assert disp.backlog() == {"delivered": 1}


def test_permanent_failure_goes_dead_and_can_be_requeued(migrated_db: Database) -> None:
    clock = FrozenClock()
    AlertService(migrated_db, sinks=["flaky"], clock=clock).raise_alert(_alert())
    sink = FlakySink(failures=1, retryable=False)
    disp = Dispatcher(migrated_db, {"flaky": sink}, clock=clock)
    disp.run_once()
    assert disp.backlog() == {"dead": 1}
    assert disp.retry_dead() == 1
    assert disp.run_once() == 1


def test_jsonl_sink_writes_alert_with_idempotency_key(migrated_db: Database, tmp_path: Path) -> None:
    clock = FrozenClock()
    AlertService(migrated_db, sinks=["file"], clock=clock).raise_alert(_alert())
    out = tmp_path / "alerts.jsonl"
    Dispatcher(migrated_db, {"file": JsonlSink(out, name="file")}, clock=clock).run_once()
    line = json.loads(out.read_text().splitlines()[0])
    assert line["alert"]["rule"] == "canary_touch" and len(line["idempotency_key"]) == 32


def test_unreachable_database_is_a_clear_error() -> None:
    db = Database("postgresql://nobody:secretpw@127.0.0.1:1/none")
    with pytest.raises(StoreError) as err:
        db.check()
    assert "unreachable" in str(err.value) and "secretpw" not in str(err.value)
