"""Run flows through a decider and summarise: blocked/logged by category, top destinations, exceptions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from intelsec.egress.decide import EgressDecider
from intelsec.egress.models import Flow, Verdict


@dataclass
class Summary:
    env: str
    policy_digest: str
    flows: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    blocked_by_category: Counter[str] = field(default_factory=Counter)
    logged_by_category: Counter[str] = field(default_factory=Counter)
    destinations: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    exceptions_used: Counter[str] = field(default_factory=Counter)
    bytes_by_verdict: Counter[str] = field(default_factory=Counter)

    def add(self, ns: str, flow: Flow, v: Verdict) -> None:
        self.flows += 1
        self.verdicts[v.verdict] += 1
        if flow.bytes:
            self.bytes_by_verdict[v.verdict] += flow.bytes
        if v.verdict == "block":
            self.blocked_by_category[v.category] += 1
        elif v.verdict == "log":
            self.logged_by_category[v.category] += 1
        if v.verdict in ("block", "log", "allow"):
            self.destinations[(v.verdict, ns, flow.destination, v.category)] += 1
        if v.exception:
            self.exceptions_used[v.exception] += 1

    def top(self, verdicts: tuple[str, ...] = ("block", "log"), limit: int = 20) -> list[dict[str, Any]]:
        rows = [(k, n) for k, n in self.destinations.items() if k[0] in verdicts]
        rows.sort(key=lambda r: (-r[1], r[0]))
        return [
            {"verdict": k[0], "namespace": k[1], "destination": k[2], "category": k[3], "flows": n}
            for k, n in rows[:limit]
        ]

    def to_dict(self, quarantined: int = 0, skipped: int = 0) -> dict[str, Any]:
        return {
            "env": self.env,
            "policy_digest": self.policy_digest,
            "flows": self.flows,
            "verdicts": dict(self.verdicts),
            "blocked_by_category": dict(self.blocked_by_category.most_common()),
            "logged_by_category": dict(self.logged_by_category.most_common()),
            "top_destinations": self.top(),
            "exceptions_used": dict(self.exceptions_used.most_common()),
            "quarantined": quarantined,
            "skipped": skipped,
        }


def decision_record(ns: str, flow: Flow, v: Verdict) -> dict[str, Any]:
    """The per-flow JSON shape of `egress eval` and the proxy's flow log."""
    return {
        "verdict": v.verdict,
        "reasons": list(v.reasons),
        "category": v.category,
        "namespace": ns,
        "destination": flow.destination,
        "exception": v.exception,
        "port": flow.dst_port,
        "mode": v.mode,
        "time": flow.time,
        "origin": flow.origin,
    }


def evaluate(flows: Iterable[Flow], decider: EgressDecider, summary: Summary) -> Iterator[tuple[str, Flow, Verdict]]:
    judge = decider.judge
    add = summary.add
    for flow in flows:
        ns, v = judge(flow)
        add(ns, flow, v)
        yield ns, flow, v
