"""Read stored core `Event` rows as detection documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from intelsec.store.db import Database
from intelsec.store.models import Event


def event_document(event: Event) -> dict[str, Any]:
    """The event's `data`, with its stored time as `timestamp` and its origin for rules to use."""
    doc = dict(event.data or {})
    doc["timestamp"] = event.time.isoformat()
    doc.setdefault("event_source", event.source)
    doc.setdefault("event_kind", event.kind)
    return doc


def load_events(db: Database, since: datetime | None = None, until: datetime | None = None,
                source: str | None = None, limit: int = 1_000_000) -> list[dict[str, Any]]:
    q = select(Event).order_by(Event.time).limit(limit)
    if since is not None:
        q = q.where(Event.time >= since)
    if until is not None:
        q = q.where(Event.time <= until)
    if source:
        q = q.where(Event.source == source)
    with db.session() as s:
        return [event_document(e) for e in s.scalars(q)]
