"""Audit trail of policy decisions: every allow/deny/log with its reasons and policy digest."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from intelsec.clock import Clock, SystemClock
from intelsec.policy.engine import Decision
from intelsec.store.db import Database
from intelsec.store.models import DecisionRecord


def input_digest(doc: Any) -> str:
    """A stable digest of the input, so the record proves what was judged without storing it."""
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def verdict_of(decision: Decision) -> str:
    if decision.allowed is True:
        return "allow"
    if decision.allowed is False:
        return "deny"
    return "undefined" if not decision.defined else "result"


def record_decision(db: Database, source: str, decision: Decision, input_doc: Any = None,
                    subject: str | None = None, verdict: str | None = None, clock: Clock | None = None) -> str:
    """Store one decision; returns its id."""
    row = DecisionRecord(
        time=(clock or SystemClock()).now(), source=source, query=decision.query, subject=subject,
        verdict=verdict or verdict_of(decision), reasons=list(decision.reasons),
        policy_digest=decision.policy_digest,
        input_digest=input_digest(input_doc) if input_doc is not None else None,
        result=decision.result,
    )
    with db.session() as s:
        s.add(row)
        s.flush()
        return row.id
