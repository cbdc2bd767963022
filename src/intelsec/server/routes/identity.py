"""Identity API (credential audit, SVID verification), Prometheus gauges and the console card."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from intelsec.server.context import AppContext, get_context

router = APIRouter()
Ctx = Annotated[AppContext, Depends(get_context)]
log = logging.getLogger("intelsec.server.identity")


def _counts(ctx: AppContext) -> tuple[int, int]:
    """(active broker credentials, credentials issued in the last 24 h)."""
    from intelsec.identity.tables import CredentialIssue

    now = ctx.clock.now()
    with ctx.db.session() as s:
        active = s.scalar(select(func.count()).select_from(CredentialIssue).where(
            CredentialIssue.dropped_at.is_(None), CredentialIssue.valid_until > now)) or 0
        recent = s.scalar(select(func.count()).select_from(CredentialIssue).where(
            CredentialIssue.issued_at >= now - timedelta(days=1))) or 0
    return int(active), int(recent)


@router.get("/api/v1/identity/credentials")
def list_credentials(ctx: Ctx, request: Request, limit: int = 100) -> dict[str, Any]:
    """The broker's audit trail (never passwords)."""
    from intelsec.identity.tables import CredentialIssue

    ctx.authorise(request, "read")
    with ctx.db.session() as s:
        rows = s.scalars(select(CredentialIssue).order_by(CredentialIssue.issued_at.desc())
                         .limit(min(max(limit, 1), 1000)))
        return {"credentials": [{"id": r.id, "spiffe_id": r.spiffe_id, "method": r.method, "backend": r.backend,
                                 "role_name": r.role_name, "group_role": r.group_role,
                                 "issued_at": r.issued_at.isoformat(), "valid_until": r.valid_until.isoformat(),
                                 "dropped_at": r.dropped_at.isoformat() if r.dropped_at else None} for r in rows]}


@router.post("/api/v1/identity/verify")
def verify(ctx: Ctx, request: Request, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Verify a PEM chain against the workspace CA bundle: same answer as `intelsec identity verify`."""
    from intelsec.errors import IntelsecError
    from intelsec.identity.bundle import load_bundle, load_pem_certs
    from intelsec.identity.verify import verify_x509_svid

    ctx.authorise(request, "read")
    pem = body.get("certificate")
    if not isinstance(pem, str):
        raise HTTPException(400, "body needs `certificate` (PEM chain, leaf first)")
    try:
        chain = load_pem_certs(pem.encode(), "certificate")
        # the published bundle, not the CA: the API server never needs to load CA private keys
        bundle = load_bundle(ctx.workspace.state_dir / "identity" / "ca" / "bundle.json")
    except IntelsecError as exc:
        raise HTTPException(400, str(exc)) from None
    td = body.get("trust_domain")
    v = verify_x509_svid(chain, bundle, ctx.clock.now(), td if isinstance(td, str) else None)
    return v.model_dump(mode="json", include={"valid", "spiffe_id", "trust_domain", "reasons", "codes"})


class _Collector(Collector):
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Any]:
        g = GaugeMetricFamily("intelsec_identity_broker_credentials_active",
                              "Broker-issued database credentials still valid and not reaped")
        try:
            g.add_metric([], _counts(self.ctx)[0])
        except Exception:  # a scrape must not fail because the database blipped
            log.warning("identity credential counts unavailable for /metrics", exc_info=True)
        yield g


def _card(ctx: AppContext) -> list[tuple[str, Any]]:
    active, recent = _counts(ctx)
    return [("trust domain", ctx.workspace.config.trust_domain), ("active DB credentials", active),
            ("credentials issued (24 h)", recent)]


def on_startup(ctx: AppContext) -> None:
    registry = ctx.extras.get("registry")
    if registry is not None and not ctx.extras.get("identity.collector"):
        collector = _Collector(ctx)
        registry.register(collector)
        ctx.extras["identity.collector"] = collector
    ctx.extras["console.identity"] = _card
