"""Health, readiness, alerts API and the OPA-compatible Data API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from intelsec.errors import IntelsecError, NotFoundError
from intelsec.server.context import AppContext, get_context

router = APIRouter()
Ctx = Annotated[AppContext, Depends(get_context)]


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(ctx: Ctx) -> JSONResponse:
    try:
        ctx.db.check()
    except IntelsecError as exc:
        return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
    return JSONResponse({"status": "ready", "database": ctx.db.dialect, "policy_digest": ctx.engine.digest})


@router.get("/api/v1/alerts")
def list_alerts(request: Request, ctx: Ctx, status: str | None = None, source: str | None = None,
                severity: str | None = None, limit: int = 100) -> dict[str, Any]:
    ctx.authorise_if_configured(request, "read")
    alerts = ctx.alerts.list(status=status, source=source, severity=severity, limit=min(max(limit, 1), 1000))
    return {"alerts": [a.model_dump(mode="json") for a in alerts]}


@router.get("/api/v1/alerts/{alert_id}")
def get_alert(alert_id: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    ctx.authorise_if_configured(request, "read")
    try:
        return ctx.alerts.get(alert_id).model_dump(mode="json")
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/api/v1/alerts/{alert_id}/ack")
def ack_alert(alert_id: str, request: Request, ctx: Ctx,
              body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
    caller = ctx.authorise_if_configured(request, "ack")
    by = str((body or {}).get("by", caller))[:128]
    try:
        return ctx.alerts.ack(alert_id, by=by).model_dump(mode="json")
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except IntelsecError as exc:
        raise HTTPException(409, str(exc)) from None


@router.post("/api/v1/alerts/{alert_id}/resolve")
def resolve_alert(alert_id: str, request: Request, ctx: Ctx,
                  body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
    caller = ctx.authorise_if_configured(request, "ack")
    by = str((body or {}).get("by", caller))[:128]
    try:
        return ctx.alerts.resolve(alert_id, by=by).model_dump(mode="json")
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None


def _opa_query(ctx: AppContext, path: str, input_doc: Any) -> dict[str, Any]:
    query = "data" + "".join(f".{p}" for p in path.strip("/").split("/") if p)
    try:
        defined, result = ctx.engine.evaluate(query, input_doc)
    except IntelsecError as exc:
        raise HTTPException(500, {"code": "internal_error", "message": str(exc)}) from None
    # OPA answers an undefined document with an empty object (no "result" key).
    return {"result": result} if defined else {}


@router.post("/v1/data/{path:path}")
async def opa_data_post(path: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    """OPA Data API: POST {"input": ...} -> {"result": ...}."""
    raw = await request.body()
    doc: Any = {}
    if raw.strip():
        try:
            doc = await request.json()
        except ValueError:
            raise HTTPException(400, {"code": "invalid_parameter", "message": "body is not valid JSON"}) from None
    if not isinstance(doc, dict):
        raise HTTPException(400, {"code": "invalid_parameter", "message": "body must be a JSON object"})
    return _opa_query(ctx, path, doc.get("input"))


@router.get("/v1/data/{path:path}")
def opa_data_get(path: str, ctx: Ctx) -> dict[str, Any]:
    return _opa_query(ctx, path, None)


@router.get("/health")
def opa_health() -> dict[str, Any]:
    """OPA-compatible health endpoint (OPA clients probe it)."""
    return {}


@router.get("/v1/policies")
@router.get("/v1/policies/")
def opa_policies(ctx: Ctx) -> dict[str, Any]:
    return {"result": [{"id": s.path, "raw": s.text} for s in ctx.engine.sources]}
