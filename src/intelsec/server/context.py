"""What every request handler can reach: workspace, database, alert service, policy engine."""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request

from intelsec.alerts.service import AlertService
from intelsec.clock import Clock, SystemClock
from intelsec.config import Workspace
from intelsec.policy.engine import Engine
from intelsec.store.db import Database


@dataclass
class AppContext:
    workspace: Workspace
    db: Database
    alerts: AlertService
    engine: Engine
    clock: Clock = field(default_factory=SystemClock)
    extras: dict[str, Any] = field(default_factory=dict)

    def authorise(self, request: Request, scope: str) -> str:
        """Return the caller's name for a valid bearer token with `scope`, else raise 401/403.

        Tokens come from the environment variables named in intelsec.yaml `api_tokens`, and are
        compared in constant time.
        """
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            raise HTTPException(status_code=401, detail="bearer token required",
                                headers={"WWW-Authenticate": "Bearer"})
        presented = header[7:].strip().encode()
        matched: str | None = None
        for tok in self.workspace.config.api_tokens:
            secret = os.environ.get(tok.token_env, "").encode()
            # compare against every configured token so timing does not reveal which one matched
            if secret and hmac.compare_digest(presented, secret) and matched is None:
                matched = tok.name
                scopes = tok.scopes
        if matched is None:
            raise HTTPException(status_code=401, detail="invalid token", headers={"WWW-Authenticate": "Bearer"})
        if scope not in scopes and "admin" not in scopes:
            raise HTTPException(status_code=403, detail=f"token {matched!r} lacks scope {scope!r}")
        return matched


    def authorise_if_configured(self, request: Request, scope: str) -> str:
        """Like `authorise`, but open when no API tokens are configured (a local, loopback-only setup)."""
        if not self.workspace.config.api_tokens:
            return "local"
        return self.authorise(request, scope)


def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
