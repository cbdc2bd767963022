"""Prometheus metrics (prefix `intelsec_`). Store-backed gauges are computed at scrape time."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from intelsec.alerts.dispatcher import Dispatcher
from intelsec.alerts.service import AlertService
from intelsec.store.models import Alert, Run

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


# Numeric fields of run summaries worth a time series (dashboards: PII tokens/min, PR velocity).
RUN_SUMMARY_FIELDS: dict[str, tuple[str, ...]] = {
    "privacy.tokenize": ("records", "fields_tokenized", "quarantined"),
    "sbom.fix": ("prs_created", "prs_updated", "prs_open", "issues_created", "issues_closed"),
}


class RunAndRuleCollector(Collector):
    """Runs by kind/status, summed run summaries, and alert occurrences by rule, from the store."""

    def __init__(self, alerts: AlertService) -> None:
        self.db = alerts.db

    def collect(self) -> Iterator[Any]:
        runs = GaugeMetricFamily("intelsec_runs", "Recorded runs by kind and status", labels=["kind", "status"])
        summed = CounterMetricFamily("intelsec_run_summary", "Sum of a run summary field over all runs",
                                     labels=["kind", "field"])
        last = GaugeMetricFamily("intelsec_run_summary_last", "A run summary field of the latest run",
                                 labels=["kind", "field"])
        events = CounterMetricFamily("intelsec_alert_events", "Alert occurrences (duplicates included) by rule",
                                     labels=["source", "rule"])
        try:
            with self.db.session() as s:
                for kind, status, n in s.execute(select(Run.kind, Run.status, func.count())
                                                 .group_by(Run.kind, Run.status)):
                    runs.add_metric([kind, status], n)
                for kind, fields in RUN_SUMMARY_FIELDS.items():
                    rows = s.execute(select(Run.summary).where(Run.kind == kind)
                                     .order_by(Run.started_at)).scalars().all()
                    for f in fields:
                        values = [float(r[f]) for r in rows
                                  if isinstance(r, dict) and isinstance(r.get(f), int | float)]
                        summed.add_metric([kind, f], sum(values))
                        if values:
                            last.add_metric([kind, f], values[-1])
                for source, rule, n in s.execute(select(Alert.source, Alert.rule, func.sum(Alert.count))
                                                 .where(Alert.test.is_(False)).group_by(Alert.source, Alert.rule)):
                    events.add_metric([source, rule], float(n or 0))
        except Exception:
            log.warning("run and rule metrics unavailable for /metrics", exc_info=True)
        yield from (runs, summed, last, events)


def build_registry(alerts: AlertService, dispatcher: Dispatcher | None) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StoreCollector(alerts, dispatcher))
    registry.register(RunAndRuleCollector(alerts))
    return registry


def http_metrics(registry: CollectorRegistry) -> tuple[Counter, Histogram]:
    requests = Counter("intelsec_http_requests", "HTTP requests served", ["route", "status"], registry=registry)
    latency = Histogram("intelsec_http_request_seconds", "HTTP request latency", ["route"], registry=registry)
    return requests, latency
