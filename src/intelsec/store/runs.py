"""Record job runs (triage, deploy, tokenize, ...) with their summaries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from intelsec.clock import Clock, SystemClock
from intelsec.store.db import Database
from intelsec.store.models import Run


def start_run(db: Database, kind: str, clock: Clock | None = None) -> str:
    with db.session() as s:
        run = Run(kind=kind, status="running", started_at=(clock or SystemClock()).now(), summary={})
        s.add(run)
        s.flush()
        return run.id


def finish_run(db: Database, run_id: str, status: str, summary: dict[str, Any], clock: Clock | None = None) -> None:
    with db.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise KeyError(run_id)
        run.status, run.summary, run.finished_at = status, summary, (clock or SystemClock()).now()


def recent_runs(db: Database, kind: str, limit: int = 100) -> list[Run]:
    with db.session() as s:
        return list(s.scalars(select(Run).where(Run.kind == kind).order_by(Run.started_at.desc()).limit(limit)))


def record_run(db: Database, kind: str, status: str, summary: dict[str, Any], clock: Clock | None = None) -> str:
    """Record a run that already finished (one-shot commands)."""
    now = (clock or SystemClock()).now()
    with db.session() as s:
        run = Run(kind=kind, status=status, started_at=now, finished_at=now, summary=summary)
        s.add(run)
        s.flush()
        return run.id
