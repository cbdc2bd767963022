"""`intelsec deception serve`: a decoy server for canary routes of services behind a gateway.

The gateway forwards canary paths here. Every path answers like a FastAPI service's unknown path
(404 `{"detail":"Not Found"}`), so a decoy route looks exactly like any other missing route.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from intelsec.deception.client import Sender
from intelsec.deception.middleware import Canary, CanaryMiddleware


def decoy_app(canaries: list[Canary], sender: Sender, trust_forwarded: bool = True) -> Any:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    return CanaryMiddleware(app, canaries, sender, trust_forwarded=trust_forwarded)


def canaries_from_registry(registry: Any, routes: list[Any]) -> list[Canary]:
    """Canaries (with their current keys) for the given canary_route specs."""
    out = []
    for spec in routes:
        material = registry.current(spec.id)
        out.append(Canary(asset_id=spec.id, route=spec.extra["route"], method=spec.extra["method"],
                          response=spec.extra["response"], key=material.key))
    return out
