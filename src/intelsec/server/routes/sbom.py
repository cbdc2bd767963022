"""SBOM burn-down API, Prometheus gauges and the console card."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from intelsec.clock import parse_duration
from intelsec.sbom.burndown import burndown
from intelsec.server.context import AppContext, get_context

router = APIRouter()
Ctx = Annotated[AppContext, Depends(get_context)]
log = logging.getLogger("intelsec.server.sbom")


@router.get("/api/v1/sbom/burndown")
def get_burndown(ctx: Ctx, since: str = "30d", project: str | None = None) -> dict[str, Any]:
    """Same data as `intelsec sbom burndown --format json`."""
    try:
        window = parse_duration(since)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return burndown(ctx.db, project, window, ctx.clock)


class _Collector(Collector):
    """Open vulnerabilities by severity from the latest triage run of each project (read per scrape)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Any]:
        from datetime import timedelta

        g = GaugeMetricFamily("intelsec_sbom_open_vulnerabilities",
                              "Open vulnerabilities in the latest sbom triage run", labels=["project", "severity"])
        try:
            data = burndown(self.ctx.db, None, timedelta(days=3650), self.ctx.clock)
            latest: dict[str, dict[str, Any]] = {}
            for p in data["runs"]:
                latest[str(p["project"])] = p
            for project, p in sorted(latest.items()):
                g.add_metric([project, "critical"], p["critical"])
                g.add_metric([project, "high"], p["high"])
                g.add_metric([project, "all"], p["open"])
        except Exception:  # a scrape must not fail because the database blipped
            log.warning("sbom burn-down unavailable for /metrics", exc_info=True)
        yield g


def _card(ctx: AppContext) -> list[tuple[str, Any]]:
    from datetime import timedelta

    data = burndown(ctx.db, None, timedelta(days=30), ctx.clock)
    slope = data["weekly_slope"]
    return [("open vulnerabilities", data["open"] if data["open"] is not None else "-"),
            ("criticals outstanding", data["criticals_outstanding"] if data["runs"] else "-"),
            ("weekly slope", "-" if slope is None else slope)]


def on_startup(ctx: AppContext) -> None:
    registry = ctx.extras.get("registry")
    if registry is not None and not ctx.extras.get("sbom.collector"):
        collector = _Collector(ctx)
        registry.register(collector)
        ctx.extras["sbom.collector"] = collector
    ctx.extras["console.sbom"] = _card
