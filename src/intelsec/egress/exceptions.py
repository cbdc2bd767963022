"""Exception lifecycle: which are active at a given time, which have expired, budget use."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from intelsec.egress.schemas import ExceptionEntry, ExceptionsFile


def partition(entries: list[ExceptionEntry], now: datetime) -> tuple[list[ExceptionEntry], list[ExceptionEntry]]:
    """(active, expired): an exception applies strictly before its expiry instant."""
    active = [e for e in entries if e.expires > now]
    expired = [e for e in entries if e.expires <= now]
    return active, expired


@dataclass(frozen=True)
class BudgetUse:
    namespace: str
    active: int
    budget: int

    @property
    def exceeded(self) -> bool:
        return self.active > self.budget


def budget_use(file: ExceptionsFile, active: list[ExceptionEntry]) -> list[BudgetUse]:
    counts = Counter(e.namespace for e in active)
    return [BudgetUse(ns, n, file.budget.for_namespace(ns)) for ns, n in sorted(counts.items())]
