"""Plain types in the middle of egress: a normalised flow, a quarantined line, a verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Flow:
    """One network flow, whatever log it came from. Missing fields stay None."""

    time: str | None = None
    src_ns: str | None = None
    src_workload: str | None = None
    src_ip: str | None = None
    dst_host: str | None = None
    dst_ip: str | None = None
    dst_port: int | None = None
    protocol: str | None = None
    bytes: int | None = None
    verdict_seen: str | None = None
    direction: str | None = None  # "egress", "ingress" or None when the log does not say
    reply: bool = False
    internal: bool | None = None  # the reader knows the destination is inside the cluster
    origin: str = ""  # file:line

    @property
    def destination(self) -> str:
        return self.dst_host or self.dst_ip or "-"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True, frozen=True)
class Quarantined:
    """A line that could not be read as a flow, kept with where it was and why."""

    path: str
    line: int
    reason: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "reason": self.reason, "text": self.text}


@dataclass(slots=True, frozen=True)
class Verdict:
    """The decision for one (namespace, destination, port, category) under one policy digest."""

    verdict: str  # allow | log | block | internal | ignored
    reasons: tuple[str, ...]
    category: str
    mode: str | None = None
    exception: str | None = None
    policy_digest: str = ""
    judged: bool = True  # False for in-cluster and non-egress flows (counted, not judged)


@dataclass
class ReadStats:
    lines: int = 0
    flows: int = 0
    skipped: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)
