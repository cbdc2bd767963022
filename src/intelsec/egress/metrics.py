"""Prometheus metrics for egress: decisions and blocks by category, exceptions in force, proxy health."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class EgressMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.decisions = Counter(
            "intelsec_egress_decisions",
            "Egress decisions by verdict and category",
            ["verdict", "category", "source"],
            registry=registry,
        )
        self.blocks = Counter(
            "intelsec_egress_blocks",
            "Blocked egress by category and namespace",
            ["category", "namespace"],
            registry=registry,
        )
        self.exceptions_active = Gauge(
            "intelsec_egress_exceptions_active", "Egress exceptions in force", ["namespace"], registry=registry
        )
        self.exceptions_expired = Gauge(
            "intelsec_egress_exceptions_expired",
            "Expired egress exceptions still listed (TTL breaches)",
            registry=registry,
        )
        self.proxy_requests = Counter(
            "intelsec_egress_proxy_requests", "Proxy requests by outcome", ["outcome"], registry=registry
        )
        self.proxy_active = Gauge(
            "intelsec_egress_proxy_active_connections", "Open client connections", registry=registry
        )
        self.proxy_decision_seconds = Histogram(
            "intelsec_egress_proxy_decision_seconds",
            "Time to decide one proxy request",
            registry=registry,
            buckets=(0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05),
        )
        self.proxy_upstream_connect_seconds = Histogram(
            "intelsec_egress_proxy_upstream_connect_seconds", "Time to connect upstream", registry=registry
        )

    def set_exceptions(self, active_by_ns: dict[str, int], expired: int) -> None:
        self.exceptions_active.clear()
        for ns, n in active_by_ns.items():
            self.exceptions_active.labels(ns).set(n)
        self.exceptions_expired.set(expired)
