"""Run flows through a decider and summarise: blocked/logged by category, top destinations, exceptions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from intelsec.egress.decide import EgressDecider
from intelsec.egress.models import Flow, Verdict


@dataclass
class Summary:
    """Counts per (namespace, destination, verdict); every other view is derived at the end."""

    env: str
    policy_digest: str
    flows: int = 0
    _counts: dict[tuple[str, str, int] | int, int] = field(default_factory=dict)
    _verdicts: dict[int, Verdict] = field(default_factory=dict)
    bytes_by_verdict: Counter[str] = field(default_factory=Counter)

    def add(self, ns: str, flow: Flow, v: Verdict) -> None:
        self.flows += 1
        vid = id(v)
        if vid not in self._verdicts:
            self._verdicts[vid] = v
        # destinations matter only for judged flows; in-cluster/ignored ones are just counted
        key = (ns, flow.dst_host or flow.dst_ip or "-", vid) if v.judged else vid
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1
        if flow.bytes:
            self.bytes_by_verdict[v.verdict] += flow.bytes

    def _rows(self) -> Iterator[tuple[str, str, Verdict, int]]:
        for key, n in self._counts.items():
            if isinstance(key, int):
                yield "-", "-", self._verdicts[key], n
            else:
                yield key[0], key[1], self._verdicts[key[2]], n

    @property
    def verdicts(self) -> Counter[str]:
        c: Counter[str] = Counter()
        for _, _, v, n in self._rows():
            c[v.verdict] += n
        return c

    def by_category(self, verdict: str) -> Counter[str]:
        c: Counter[str] = Counter()
        for _, _, v, n in self._rows():
            if v.verdict == verdict:
                c[v.category] += n
        return c

    @property
    def exceptions_used(self) -> Counter[str]:
        c: Counter[str] = Counter()
        for _, _, v, n in self._rows():
            if v.exception:
                c[v.exception] += n
        return c

    def top(self, verdicts: tuple[str, ...] = ("block", "log"), limit: int = 20) -> list[dict[str, Any]]:
        agg: Counter[tuple[str, str, str, str]] = Counter()
        for ns, dest, v, n in self._rows():
            if v.verdict in verdicts:
                agg[(v.verdict, ns, dest, v.category)] += n
        rows = sorted(agg.items(), key=lambda r: (-r[1], r[0]))
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
            "blocked_by_category": dict(self.by_category("block").most_common()),
            "logged_by_category": dict(self.by_category("log").most_common()),
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


def run(
    flows: Iterable[Flow],
    decider: EgressDecider,
    summary: Summary,
    sink: Callable[[str, Flow, Verdict], None] | None = None,
    refresh_every: int = 4096,
) -> None:
    """Judge every flow into `summary`; `sink` sees each decision when per-flow output is wanted.

    Every `refresh_every` flows the decider drops exceptions that have expired meanwhile, so a
    long stream (`hubble observe --follow | egress eval -`) stops applying them too.
    """
    judge = decider.judge
    add = summary.add
    for i, flow in enumerate(flows):
        if i % refresh_every == 0:
            decider.refresh()
        ns, v = judge(flow)
        add(ns, flow, v)
        if sink is not None:
            sink(ns, flow, v)
