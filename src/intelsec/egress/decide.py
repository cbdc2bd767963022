"""Turn flows into verdicts through the workspace's Rego policy, memoised per flow shape.

Rego runs once per distinct (namespace, destination name, ip, port) under one policy digest (the
category is a function of name and ip, so it is implied); every repeat is a dict lookup. The
digest covers the policies and all data the policy sees, including the set of active exceptions,
so when an exception expires the policy data is rebuilt, the digest changes and memoised verdicts
are dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from intelsec.clock import Clock, SystemClock
from intelsec.config import Workspace
from intelsec.egress.categories import Categorizer, CidrTable
from intelsec.egress.config import EgressConfig, load_egress
from intelsec.egress.exceptions import partition
from intelsec.egress.models import Flow, Verdict
from intelsec.egress.readers.base import looks_like_ip
from intelsec.egress.schemas import ExceptionEntry
from intelsec.errors import ConfigError, PolicyError
from intelsec.policy.engine import Engine

QUERY = "data.egress.decision"
MEMO_LIMIT = 1_000_000


class EgressDecider:
    def __init__(
        self, ws: Workspace, env: str | None = None, clock: Clock | None = None, cfg: EgressConfig | None = None
    ) -> None:
        self.ws = ws
        self.cfg = cfg or load_egress(ws)
        self.clock = clock or SystemClock()
        enf = self.cfg.enforcement
        self.env = env or enf.default_environment
        if enf.environments and self.env not in enf.environments:
            raise ConfigError(
                f"unknown environment {self.env!r}; egress/enforcement.yaml defines: {', '.join(enf.environments)}"
            )
        self.categorizer = Categorizer(self.cfg.categories)
        self._internal = CidrTable()
        for c in enf.internal_cidrs:
            self._internal.add(c, "internal")
        self._internal_suffixes = tuple("." + d for d in enf.internal_domains)
        self._internal_names = frozenset(enf.internal_domains)
        self._sources = CidrTable()
        for s in enf.sources:
            self._sources.add(s.cidr, s.namespace)
        self.default_namespace = enf.default_namespace
        self._ip_cache: dict[str, tuple[bool, str | None]] = {}
        self._memo: dict[tuple[Any, ...], Verdict] = {}
        self.evaluations = 0
        self.active: list[ExceptionEntry] = []
        self.expired: list[ExceptionEntry] = []
        self.next_expiry: datetime | None = None
        self.engine = Engine()
        self.digest = ""
        self._build(self.clock.now())

    # -- policy --------------------------------------------------------------------------------
    def _build(self, now: datetime) -> None:
        from intelsec.policy.workspace import engine_for_workspace

        self.active, self.expired = partition(self.cfg.exceptions.exceptions, now)
        engine = engine_for_workspace(self.ws)
        engine.set_data("workspace.egress.allowlist", self.cfg.allowlist.model_dump())
        engine.set_data(
            "workspace.egress.categories",
            {c.name: {"risk": c.risk, "approved": c.approved} for c in self.cfg.categories},
        )
        engine.set_data(
            "workspace.egress.enforcement",
            self.cfg.enforcement.model_dump(include={"default_environment", "environments"}),
        )
        engine.set_data("workspace.egress.exceptions", [e.policy_view() for e in self.active])
        engine.compile()
        if "data.egress" not in engine.packages():
            raise PolicyError("the workspace has no `package egress` policy (policies/egress.rego)")
        self.engine = engine
        self.digest = engine.digest
        self.next_expiry = min((e.expires for e in self.active), default=None)
        self._memo = {}  # a new dict: a judge() still holding the old one cannot refill this one

    def refresh(self) -> list[ExceptionEntry]:
        """Rebuild when an active exception has expired; return the ones that just expired."""
        now = self.clock.now()
        if self.next_expiry is None or now < self.next_expiry:
            return []
        before = {e.id for e in self.expired}
        self._build(now)
        return [e for e in self.expired if e.id not in before]

    # -- classification ------------------------------------------------------------------------
    def _ip_facts(self, ip: str) -> tuple[bool, str | None]:
        facts = self._ip_cache.get(ip)
        if facts is None:
            facts = (self._internal.lookup(ip) is not None, self._sources.lookup(ip))
            if len(self._ip_cache) > MEMO_LIMIT:
                self._ip_cache.clear()
            self._ip_cache[ip] = facts
        return facts

    def namespace_of(self, flow: Flow) -> str:
        if flow.src_ns:
            return flow.src_ns
        if flow.src_ip:
            ns = self._ip_facts(flow.src_ip)[1]
            if ns:
                return ns
        return self.default_namespace

    def is_internal(self, flow: Flow) -> bool:
        if flow.internal is not None:
            return flow.internal
        host = flow.dst_host
        if host:
            return host in self._internal_names or host.endswith(self._internal_suffixes)
        return bool(flow.dst_ip) and self._ip_facts(flow.dst_ip)[0]  # type: ignore[arg-type]

    # -- decisions -----------------------------------------------------------------------------
    def judge(self, flow: Flow) -> tuple[str, Verdict]:
        """(namespace, verdict) for one flow. The hot path: keep it to dict lookups."""
        ns = flow.src_ns
        if not ns:
            ns = self.namespace_of(flow)
        if flow.reply or flow.direction == "ingress":
            return ns, _IGNORED
        host = flow.dst_host
        ip = flow.dst_ip
        internal = flow.internal
        if internal is None:
            if host:
                internal = host in self._internal_names or host.endswith(self._internal_suffixes)
            elif ip:
                facts = self._ip_cache.get(ip)
                internal = (facts or self._ip_facts(ip))[0]
        if internal:
            return ns, _INTERNAL
        key = (ns, host, ip, flow.dst_port)
        memo = self._memo  # before the engine: a rebuild swaps the engine first, then the memo
        verdict = memo.get(key)
        if verdict is None:
            category = self.categorizer.categorize(host, ip)
            verdict = self._evaluate(ns, host, ip, flow.dst_port, category)
            if len(memo) > MEMO_LIMIT:
                memo.clear()
            memo[key] = verdict
        return ns, verdict

    def decide(self, ns: str, host: str | None, ip: str | None, port: int | None) -> Verdict:
        """Judge a destination directly (the proxy's path)."""
        return self.judge(Flow(src_ns=ns, dst_host=host, dst_ip=ip, dst_port=port, direction="egress"))[1]

    def _evaluate(self, ns: str, host: str | None, ip: str | None, port: int | None, category: str) -> Verdict:
        if ip is None and host and looks_like_ip(host):
            ip = host
        dest: dict[str, Any] = {"host": host or ip or "", "category": category}
        if ip:
            dest["ip"] = ip
        if port is not None:
            dest["port"] = port
        self.evaluations += 1
        defined, result = self.engine.evaluate(QUERY, {"env": self.env, "ns": ns, "internal": False, "dest": dest})
        if not defined or not isinstance(result, dict) or "verdict" not in result:
            raise PolicyError(
                f"{QUERY} is undefined or malformed for namespace {ns!r}, destination "
                f"{host or ip!r}: the egress policy must define `decision`"
            )
        return Verdict(
            str(result["verdict"]),
            tuple(result.get("reasons") or ()),
            category,
            result.get("mode"),
            result.get("exception"),
            self.digest,
        )


_INTERNAL = Verdict("internal", ("in-cluster destination: counted, not judged",), "internal", judged=False)
_IGNORED = Verdict("ignored", ("reply or ingress traffic: not egress",), "-", judged=False)
