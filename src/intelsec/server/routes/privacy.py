"""`POST /api/v1/privacy/detokenize`: bearer-token callers with the `detokenize` scope, audited, rate-limited."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from intelsec.errors import IntelsecError
from intelsec.privacy.detokenize import Detokenizer
from intelsec.server.context import AppContext, get_context

router = APIRouter()
Ctx = Annotated[AppContext, Depends(get_context)]
STATE = "privacy.detokenizer"
MAX_BODY = 1 << 20


class PrivacyState:
    def __init__(self, ctx: AppContext) -> None:
        from intelsec.privacy.detokenize import detokenizer_for

        self.error: str | None = None
        self.svc: Detokenizer | None
        try:
            self.svc = detokenizer_for(ctx.workspace, ctx.db, ctx.clock)
        except IntelsecError as exc:  # a broken schema must not stop the control plane
            self.svc = None
            self.error = str(exc)
        reg: CollectorRegistry = ctx.extras["registry"]
        self.requests = Counter("intelsec_privacy_detokenize_requests", "Detokenization requests by result "
                                "(granted, denied, limited, unauthorised, invalid)", ["result"], registry=reg)
        self.tokens = Counter("intelsec_privacy_detokenized_tokens", "Tokens reversed through the API",
                              registry=reg)


def on_startup(ctx: AppContext) -> None:
    state = PrivacyState(ctx)
    ctx.extras[STATE] = state

    def card(c: AppContext) -> list[tuple[str, Any]]:
        from datetime import timedelta

        from sqlalchemy import func, select

        from intelsec.privacy.tables import DetokenizeAudit

        since = c.clock.now() - timedelta(days=1)
        with c.db.session() as s:
            rows = s.execute(select(DetokenizeAudit.granted, func.count()).where(DetokenizeAudit.time >= since)
                             .group_by(DetokenizeAudit.granted)).all()
        counts = {bool(g): int(n) for g, n in rows}
        mine = [("detokenizations granted (24h)", counts.get(True, 0)),
                ("detokenizations denied (24h)", counts.get(False, 0))] if counts else []
        return (list(previous(c)) if callable(previous) else []) + mine

    previous = ctx.extras.get("console.privacy")  # another privacy router (DLP) may have a card too
    ctx.extras["console.privacy"] = card


def _alert(ctx: AppContext, rule: str, caller: str, summary: str, audit_id: str, field: str | None) -> None:
    """Detokenization pressure is worth a human look: wrong-scope callers and rate-limit hits."""
    from intelsec.alerts.models import AlertIn

    ctx.alerts.raise_alert(AlertIn(rule=rule, source="privacy", severity="medium", entity=caller, summary=summary,
                                   evidence={"audit_id": audit_id, "field": field}))


def _error(status: int, message: str, audit_id: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": message}
    if audit_id:
        body["audit_id"] = audit_id
    return JSONResponse(body, status_code=status)


@router.post("/api/v1/privacy/detokenize")
async def detokenize(request: Request, ctx: Ctx) -> JSONResponse:
    """Body: {"field", "tokens": [...], "reason", "ticket"?, "key_version"?} -> values in token order."""
    from intelsec.privacy.detokenize import Denied, DetokenizeRequest

    state: PrivacyState = ctx.extras[STATE]
    if state.svc is None:
        return _error(503, f"detokenization unavailable: {state.error}")
    svc = state.svc
    raw = await request.body()
    try:
        doc = json.loads(raw[:MAX_BODY]) if len(raw) <= MAX_BODY else None
    except ValueError:
        doc = None
    meta = doc if isinstance(doc, dict) else {}
    field = str(meta.get("field") or "")[:255] or None
    tokens = meta.get("tokens")
    count = len(tokens) if isinstance(tokens, list) else 0
    reason, ticket = meta.get("reason"), meta.get("ticket")
    reason = str(reason)[:2000] if reason is not None else None
    ticket = str(ticket)[:128] if ticket is not None else None
    try:
        caller = ctx.authorise(request, "detokenize")
    except HTTPException as exc:
        parts = str(exc.detail).split("'")
        who = parts[1] if exc.status_code == 403 and len(parts) > 1 else "anonymous"
        audit_id = svc.audit(who, "api", False, f"unauthorised: {exc.detail}", field_name=field, count=count,
                             reason=reason, ticket=ticket)
        state.requests.labels("unauthorised").inc()
        if exc.status_code == 403:
            _alert(ctx, "privacy.detokenize_without_scope", who, f"API token {who!r} tried to detokenize without "
                   "the detokenize scope", audit_id, field)
        raise HTTPException(exc.status_code, {"detail": exc.detail, "audit_id": audit_id},
                            headers=exc.headers) from None
    try:
        req = DetokenizeRequest.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = f"invalid request: {'.'.join(str(x) for x in first['loc']) or 'body'}: {first['msg']}"
        audit_id = svc.audit(caller, "api", False, msg[:255], field_name=field, count=count, reason=reason,
                             ticket=ticket)
        state.requests.labels("invalid").inc()
        return _error(422, msg, audit_id)
    try:  # off the event loop: the key provider may be a network call (KMS) and the audit a database write
        res = await run_in_threadpool(svc.detokenize, caller, "api", req)
    except Denied as exc:
        state.requests.labels("limited" if exc.status == 429 else "denied").inc()
        if exc.status == 429 and exc.audit_id:
            _alert(ctx, "privacy.detokenize_rate_limited", caller, f"{caller!r} hit the detokenization rate limit",
                   exc.audit_id, req.field)
        return _error(exc.status, str(exc), exc.audit_id)
    state.requests.labels("granted").inc()
    state.tokens.inc(len(req.tokens) - len(res.errors))
    return JSONResponse({"field": req.field, "values": res.values,
                         "errors": [{"index": i, "reason": r} for i, r in sorted(res.errors.items())],
                         "audit_id": res.audit_id, "key_id": res.key_id, "key_version": res.key_version})
