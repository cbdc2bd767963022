"""Decision audit records and run records, on both backends."""

from __future__ import annotations

from sqlalchemy import select

from intelsec.clock import FrozenClock
from intelsec.policy.audit import input_digest, record_decision
from intelsec.policy.engine import Engine, PolicySource
from intelsec.store.db import Database
from intelsec.store.models import DecisionRecord
from intelsec.store.runs import finish_run, recent_runs, start_run


def test_decision_is_recorded_with_reasons_and_digest(migrated_db: Database) -> None:
    engine = Engine()
    engine.add_source(PolicySource("p.rego", 'package p\ndeny contains "no" if input.bad\n'))
    decision = engine.decide("data.p.deny", {"bad": True})
    rid = record_decision(migrated_db, "egress", decision, {"bad": True}, subject="ns/dev", clock=FrozenClock())
    with migrated_db.session() as s:
        row = s.scalars(select(DecisionRecord).where(DecisionRecord.id == rid)).one()
        assert row.verdict == "deny" and row.reasons == ["no"]
        assert row.policy_digest == engine.digest and row.input_digest == input_digest({"bad": True})


def test_runs_are_recorded(migrated_db: Database) -> None:
    clock = FrozenClock()
    rid = start_run(migrated_db, "sbom.triage", clock)
    clock.advance(5)
    finish_run(migrated_db, rid, "ok", {"critical": 0, "high": 2}, clock)
    (run,) = recent_runs(migrated_db, "sbom.triage")
    assert run.status == "ok" and run.summary["high"] == 2
    assert (run.finished_at - run.started_at).total_seconds() == 5
