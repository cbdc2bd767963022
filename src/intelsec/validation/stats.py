"""Validation run statistics for metrics and the console (pass rate, outcomes, coverage gaps)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from intelsec.store.db import Database
from intelsec.store.models import Alert, Run

OUTCOMES = ("passed", "failed", "aborted", "blocked", "running")


def run_stats(db: Database, now: datetime, window: timedelta = timedelta(days=30)) -> dict[str, Any]:
    with db.session() as s:
        rows = s.execute(select(Run.status, func.count()).where(Run.kind == "validation",
                                                               Run.started_at >= now - window)
                         .group_by(Run.status)).all()
        gaps = s.scalar(select(func.count()).select_from(Alert).where(
            Alert.rule == "validation.coverage_gap", Alert.status != "resolved")) or 0
    counts = Counter({status: int(n) for status, n in rows})
    decided = counts["passed"] + counts["failed"]
    return {
        "outcomes": {o: counts.get(o, 0) for o in OUTCOMES},
        "pass_rate": (counts["passed"] / decided) if decided else None,
        "open_coverage_gaps": int(gaps),
    }
