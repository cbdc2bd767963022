"""Server-rendered console: one card per sprint area, with honest empty states."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from intelsec import __version__
from intelsec.server.context import AppContext, get_context
from intelsec.store.models import Alert, Run

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter()


@dataclass
class Area:
    key: str
    title: str
    goal: str
    get_started: str
    stats: list[tuple[str, Any]] = field(default_factory=list)


AREAS = [
    Area("identity", "Attested identity", "Tier-0 services call each other only with a valid SPIFFE identity.",
         "intelsec identity ca init --trust-domain example.com"),
    Area("deception", "Deception", "Canary routes, beacons, honey users and honeytokens alert on any touch.",
         "intelsec deception deploy"),
    Area("egress", "Egress governance", "Egress to non-approved destinations is logged or blocked by policy.",
         "intelsec egress eval flows.jsonl --env staging"),
    Area("sbom", "SBOM -> fix", "Findings ranked, fixes proposed as PRs, criticals burned down to zero.",
         "intelsec sbom triage --findings trivy.json"),
    Area("validation", "Continuous validation", "ATT&CK-mapped scenarios prove detections still fire.",
         "intelsec validation run --due"),
    Area("privacy", "Privacy-safe telemetry", "Sensitive fields tokenized; exports pass DLP checks.",
         "intelsec privacy dlp scan export.jsonl"),
]


def area_stats(ctx: AppContext) -> list[Area]:
    with ctx.db.session() as s:
        open_alerts = dict(s.execute(select(Alert.source, func.count()).where(Alert.status != "resolved")
                                     .group_by(Alert.source)).all())
        runs = dict(s.execute(select(Run.kind, func.count()).group_by(Run.kind)).all())
    out = []
    for a in AREAS:
        stats: list[tuple[str, Any]] = []
        n_alerts = int(open_alerts.get(a.key, 0))
        n_runs = sum(int(v) for k, v in runs.items() if k == a.key or k.startswith(a.key + "."))
        if n_alerts or n_runs:
            stats = [("open alerts", n_alerts), ("runs recorded", n_runs)]
        hook = ctx.extras.get(f"console.{a.key}")
        if callable(hook):
            try:
                stats.extend(hook(ctx))
            except Exception as exc:
                stats.append(("error", type(exc).__name__))
        if not any(isinstance(v, int | float) and v for _, v in stats):
            stats = []  # nothing counted yet: show the honest empty state rather than a table of zeros
        out.append(Area(a.key, a.title, a.goal, a.get_started, stats))
    return out


@router.get("/", response_class=HTMLResponse)
def home(request: Request, ctx: AppContext = Depends(get_context)) -> HTMLResponse:
    alerts = ctx.alerts.list(limit=10)
    mtta = ctx.alerts.mtta()
    return templates.TemplateResponse(request, "console.html", {
        "areas": area_stats(ctx), "alerts": alerts, "mtta": mtta, "version": __version__,
        "workspace": ctx.workspace.config.name, "digest": ctx.engine.digest[:12],
    })
