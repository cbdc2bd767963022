"""Egress API: compliance view, ad-hoc decisions, metrics, and the proxy when intelsec.yaml asks for it."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, Field

from intelsec.errors import IntelsecError
from intelsec.server.context import AppContext, get_context

router = APIRouter()
Ctx = Annotated[AppContext, Depends(get_context)]
log = logging.getLogger(__name__)


class EgressState:
    def __init__(self, ctx: AppContext) -> None:
        from intelsec.egress.metrics import EgressMetrics

        self.ctx = ctx
        self.metrics = EgressMetrics(ctx.extras["registry"]) if "registry" in ctx.extras else None
        self.deciders: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.proxy: Any = None

    def decider(self, env: str | None) -> Any:
        from intelsec.egress.decide import EgressDecider

        key = env or ""
        with self.lock:
            d = self.deciders.get(key)
            if d is None:
                d = EgressDecider(self.ctx.workspace, env=env, clock=self.ctx.clock)
                self.deciders[key] = d
                self._publish(d)
            expired = d.refresh()
        if expired:
            self.on_expired(d, expired)
        return d

    def _publish(self, d: Any) -> None:
        if self.metrics is not None:
            self.metrics.set_exceptions(dict(Counter(e.namespace for e in d.active)), len(d.expired))

    def on_expired(self, d: Any, expired: list[Any]) -> None:
        """Whichever caller (API or proxy) notices an expiry first alerts; the store de-duplicates."""
        from intelsec.egress import alerting

        self._publish(d)
        for e in expired:
            threading.Thread(target=self.ctx.alerts.raise_alert, args=(alerting.ttl_breach(e),), daemon=True).start()


def _start_proxy(ctx: AppContext, state: EgressState) -> None:
    from intelsec.egress import alerting
    from intelsec.egress.proxy import ClientMap, EgressProxy, FlowLog, ProxySettings, ProxyThread, static_resolver
    from intelsec.egress.schemas import EgressSection

    section = EgressSection.model_validate(ctx.workspace.config.egress)
    if section.proxy is None:
        return
    cfg = section.proxy
    host, _, port = cfg.listen.rpartition(":")
    decider = state.decider(cfg.env)

    throttle = alerting.BlockThrottle()

    def on_block(ns: str, dest: str, v: Any) -> None:
        if throttle.allow(ns, dest):
            alert = alerting.blocked(ns, dest, v.category, 1, decider.env, list(v.reasons))
            threading.Thread(target=ctx.alerts.raise_alert, args=(alert,), daemon=True).start()

    proxy = EgressProxy(
        decider,
        ClientMap(decider.cfg.enforcement),
        ProxySettings(
            host=host or "127.0.0.1",
            port=int(port),
            max_connections=cfg.max_connections,
            connect_timeout=cfg.connect_timeout,
            idle_timeout=cfg.idle_timeout,
        ),
        resolver=static_resolver(cfg.resolve),
        flow_log=FlowLog(ctx.workspace.path(cfg.flow_log)),
        metrics=state.metrics,
        on_block=on_block,
        on_expired=lambda expired: state.on_expired(decider, expired),
    )
    state.proxy = ProxyThread(proxy)
    bound = state.proxy.start()
    log.info("egress proxy listening on %s:%s", *bound)


def on_startup(ctx: AppContext) -> None:
    state = EgressState(ctx)
    ctx.extras["egress"] = state

    def card(c: AppContext) -> list[tuple[str, Any]]:
        try:
            d = state.decider(None)
        except IntelsecError:
            return [("status", "configuration error")]
        return [
            ("environment", d.env),
            ("namespaces", len(d.cfg.allowlist.namespaces)),
            ("exceptions active", len(d.active)),
            ("exceptions expired", len(d.expired)),
        ]

    ctx.extras["console.egress"] = card
    try:
        from intelsec.egress import alerting

        for e in state.decider(None).expired:  # TTL breaches are alerted at start; the store de-duplicates
            ctx.alerts.raise_alert(alerting.ttl_breach(e))
        _start_proxy(ctx, state)
    except (IntelsecError, ValueError, OSError) as exc:
        log.error("egress proxy not started: %s", exc)


def on_shutdown(ctx: AppContext) -> None:
    state = ctx.extras.get("egress")
    if state is not None and state.proxy is not None:
        state.proxy.stop(grace=5)
        state.proxy = None


def _state(ctx: AppContext) -> EgressState:
    state = ctx.extras.get("egress")
    if state is None:  # app used without its lifespan
        state = EgressState(ctx)
        ctx.extras["egress"] = state
    return state  # type: ignore[no-any-return]


@router.get("/api/v1/egress/compliance")
def compliance(ctx: Ctx, env: str | None = None) -> dict[str, Any]:
    """Per-namespace roll-out state: mode, allowlist size, exceptions in force and expired, budget use."""
    from intelsec.egress.exceptions import budget_use
    from intelsec.egress.render import namespace_mode, namespaces

    try:
        d = _state(ctx).decider(env)
    except IntelsecError as exc:
        raise HTTPException(400, str(exc)) from None
    cfg = d.cfg
    budgets = {b.namespace: b for b in budget_use(cfg.exceptions, d.active)}
    rows = []
    for ns in namespaces(cfg, d.env):
        b = budgets.get(ns)
        rows.append(
            {
                "namespace": ns,
                "mode": namespace_mode(cfg, d.env, ns),
                "allowlist_entries": len(cfg.allowlist.namespaces.get(ns, [])),
                "exceptions_active": sum(1 for e in d.active if e.namespace == ns),
                "exceptions_expired": sum(1 for e in d.expired if e.namespace == ns),
                "exception_budget": cfg.exceptions.budget.for_namespace(ns),
                "budget_exceeded": bool(b and b.exceeded),
            }
        )
    modes = cfg.enforcement.environments.get(d.env)
    return {
        "env": d.env,
        "policy_digest": d.digest,
        "namespaces": rows,
        "categories": [
            {
                "name": c.name,
                "risk": c.risk,
                "approved": c.approved,
                "mode": (modes.categories.get(c.name) if modes else None) or (modes.mode if modes else "audit"),
                "domains": len(c.domains),
                "cidrs": len(c.cidrs),
            }
            for c in cfg.categories
        ],
        "expired_exceptions": [e.policy_view() for e in d.expired],
    }


class DecideIn(BaseModel):
    namespace: str = Field(min_length=1, max_length=253)
    host: str | None = Field(default=None, max_length=253)
    ip: str | None = Field(default=None, max_length=64)
    port: int | None = Field(default=None, ge=0, le=65535)
    env: str | None = None


@router.post("/api/v1/egress/decide")
def decide(ctx: Ctx, body: Annotated[DecideIn, Body()]) -> dict[str, Any]:
    """Judge one destination for a namespace, as the proxy would."""
    if not body.host and not body.ip:
        raise HTTPException(422, "give host or ip")
    state = _state(ctx)
    try:
        d = state.decider(body.env)
        v = d.decide(body.namespace, body.host.lower().rstrip(".") if body.host else None, body.ip, body.port)
    except IntelsecError as exc:
        raise HTTPException(400, str(exc)) from None
    if state.metrics is not None:
        state.metrics.decisions.labels(v.verdict, v.category, "api").inc()
    return {
        "verdict": v.verdict,
        "reasons": list(v.reasons),
        "category": v.category,
        "namespace": body.namespace,
        "destination": body.host or body.ip,
        "exception": v.exception,
        "mode": v.mode,
        "policy_digest": v.policy_digest,
        "env": d.env,
    }
