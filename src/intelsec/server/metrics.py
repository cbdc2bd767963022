"""Prometheus metrics (prefix `intelsec_`). Store-backed gauges are computed at scrape time."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from intelsec.alerts.dispatcher import Dispatcher
from intelsec.alerts.service import AlertService

log = logging.getLogger("intelsec.server.metrics")


class StoreCollector(Collector):
    """Alert counts by severity/status and dispatcher backlog, read from the store per scrape."""

    def __init__(self, alerts: AlertService, dispatcher: Dispatcher | None) -> None:
        self.alerts = alerts
        self.dispatcher = dispatcher

    def collect(self) -> Iterator[Any]:
        g = GaugeMetricFamily("intelsec_alerts", "Alerts in the store by severity and status",
                              labels=["severity", "status"])
        try:
            for (sev, status), n in sorted(self.alerts.counts_by_severity().items()):
                g.add_metric([sev, status], n)
        except Exception:  # a scrape must not fail because the database blipped
            log.warning("alert counts unavailable for /metrics", exc_info=True)
        yield g
        b = GaugeMetricFamily("intelsec_dispatcher_backlog", "Alert deliveries by status", labels=["status"])
        if self.dispatcher is not None:
            try:
                backlog = self.dispatcher.backlog()
                for status in ("pending", "delivered", "dead"):
                    b.add_metric([status], backlog.get(status, 0))
            except Exception:
                log.warning("dispatcher backlog unavailable for /metrics", exc_info=True)
        yield b


def build_registry(alerts: AlertService, dispatcher: Dispatcher | None) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StoreCollector(alerts, dispatcher))
    return registry


def http_metrics(registry: CollectorRegistry) -> tuple[Counter, Histogram]:
    requests = Counter("intelsec_http_requests", "HTTP requests served", ["route", "status"], registry=registry)
    latency = Histogram("intelsec_http_request_seconds", "HTTP request latency", ["route"], registry=registry)
    return requests, latency
