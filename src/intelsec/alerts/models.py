"""Pydantic types at the alert bus's edges."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Severity(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class AlertStatus(StrEnum):
    new = "new"
    acked = "acked"
    resolved = "resolved"


class AlertIn(BaseModel):
    """What a capability raises. `evidence` must never carry secret material."""

    rule: str = Field(min_length=1, max_length=128)
    source: str = Field(min_length=1, max_length=64)
    severity: Severity = Severity.medium
    entity: str | None = Field(default=None, max_length=255)
    summary: str = Field(min_length=1)
    evidence: dict[str, Any] = Field(default_factory=dict)
    dedup_key: str | None = Field(default=None, max_length=255)
    test: bool = False

    def effective_dedup_key(self) -> str:
        if self.dedup_key:
            return self.dedup_key
        raw = f"{self.source}\x00{self.rule}\x00{self.entity or ''}"
        return hashlib.sha256(raw.encode()).hexdigest()[:40]


class AlertView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    rule: str
    source: str
    severity: str
    entity: str | None
    summary: str
    evidence: dict[str, Any]
    dedup_key: str
    count: int
    status: str
    test: bool
    triage: str | None
    created_at: datetime
    last_seen_at: datetime
    acked_at: datetime | None
    acked_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None

    def payload(self) -> dict[str, Any]:
        """The JSON document sinks deliver."""
        return self.model_dump(mode="json")


class RaiseResult(BaseModel):
    alert: AlertView
    deduplicated: bool


class MttaStats(BaseModel):
    acked: int
    unacked: int
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None
