"""Plain types shared by the compiler, the engine and the alert bridge."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CompiledRule:
    """One Sigma rule (or correlation rule) turned into SQLite queries over the `logs` table."""

    id: str
    title: str
    name: str | None
    level: str
    tags: tuple[str, ...]
    path: str
    queries: tuple[str, ...] = ()
    required_fields: tuple[str, ...] = ()
    plan: dict[str, Any] | None = None
    keywords: bool = False  # has fieldless values, matched against all of an event's values

    @property
    def key(self) -> str:
        """The identifier alerts carry: the rule's `name` if it has one, else its id, else its title."""
        return self.name or self.id or self.title

    @property
    def is_correlation(self) -> bool:
        return self.plan is not None

    def aliases(self) -> set[str]:
        return {v for v in (self.name, self.id, self.title) if v}


@dataclass(frozen=True)
class RuleProblem:
    """A file (or a rule in it) that could not be compiled, with the reason in words."""

    path: str
    reason: str
    rule: str | None = None


@dataclass
class Match:
    """A rule hit: the events it matched (indexes into the input) and, for correlations, group keys."""

    rule: CompiledRule
    events: list[int]
    group: dict[str, Any] = field(default_factory=dict)
    window: tuple[float, float] | None = None
