"""FastAPI application factory and the dispatcher's lifecycle inside the service."""

from __future__ import annotations

import contextlib
import importlib
import logging
import pkgutil
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from intelsec import __version__
from intelsec.alerts.dispatcher import Dispatcher
from intelsec.alerts.factory import alert_service
from intelsec.alerts.factory import dispatcher as make_dispatcher
from intelsec.clock import Clock
from intelsec.config import Workspace
from intelsec.policy.workspace import engine_for_workspace
from intelsec.server import console, routes
from intelsec.server.context import AppContext
from intelsec.server.metrics import build_registry, http_metrics
from intelsec.store.db import Database

log = logging.getLogger("intelsec.server")


def _route_modules() -> list[Any]:
    mods = []
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        mods.append(importlib.import_module(f"{routes.__name__}.{info.name}"))
    return mods


def create_app(workspace: Workspace, db: Database, clock: Clock | None = None,
               run_dispatcher: bool = True) -> FastAPI:
    """Build the control plane. The database must already be migrated."""
    alerts = alert_service(workspace, db, clock)
    engine = engine_for_workspace(workspace)
    ctx = AppContext(workspace=workspace, db=db, alerts=alerts, engine=engine)
    if clock is not None:
        ctx.clock = clock
    disp: Dispatcher = make_dispatcher(workspace, db, clock)
    registry = build_registry(alerts, disp)
    req_counter, req_latency = http_metrics(registry)
    stop = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = None
        for mod in _route_modules():
            starter = getattr(mod, "on_startup", None)
            if callable(starter):
                starter(ctx)
        if run_dispatcher:
            thread = threading.Thread(target=disp.run_forever, args=(stop,), name="alert-dispatcher", daemon=True)
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=10)
            for mod in _route_modules():
                stopper = getattr(mod, "on_shutdown", None)
                if callable(stopper):
                    stopper(ctx)
            disp.close()

    app = FastAPI(title="intelsec control plane", version=__version__, lifespan=lifespan)
    app.state.ctx = ctx
    app.state.registry = registry
    app.state.dispatcher = disp
    ctx.extras["registry"] = registry

    @app.middleware("http")
    async def _measure(request: Request, call_next: Any) -> Response:
        start = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        req_counter.labels(name, str(response.status_code)).inc()
        req_latency.labels(name).observe(time.perf_counter() - start)
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(console.router)
    for mod in _route_modules():
        router = getattr(mod, "router", None)
        if router is not None:
            app.include_router(router)
    return app
