"""ASGI middleware answering canary routes exactly like the service's own 404, and firing a beacon.

A canary route is, by construction, a path the service does not serve, so the middleware hands the
request on to the app unchanged: the client gets the app's real 404 (status, headers, body), and
the beacon goes out from a background thread. Requests to any other path cost one dict lookup.

    from intelsec.deception.middleware import install_canaries, load_canaries
    from intelsec.deception.client import BackgroundBeacons, BeaconClient
    cfg = load_canaries("canaries.json")          # `intelsec deception export --service payments`
    install_canaries(app, cfg.canaries, BackgroundBeacons(BeaconClient(cfg.control_plane_url)))
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from intelsec.deception.client import Sender
from intelsec.errors import ConfigError

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


@dataclass(frozen=True)
class Canary:
    asset_id: str
    route: str
    method: str = "GET"
    response: int = 404
    key: str = field(default="", repr=False)


@dataclass
class CanaryConfig:
    control_plane_url: str
    canaries: list[Canary]


def load_canaries(path: str | Path) -> CanaryConfig:
    """Read the JSON file written by `intelsec deception export` (it holds keys: mode 0600)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        return CanaryConfig(doc["control_plane_url"], [Canary(**c) for c in doc["canaries"]])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{p}: not a canary export: {exc}") from None


class CanaryMiddleware:
    def __init__(self, app: ASGIApp, canaries: list[Canary], sender: Sender, trust_forwarded: bool = False,
                 identity_headers: tuple[str, ...] = ("x-spiffe-id", "x-forwarded-user")) -> None:
        self.app = app
        self.sender = sender
        self.trust_forwarded = trust_forwarded
        self.identity_headers = tuple(h.encode() for h in identity_headers)
        self.by_path: dict[str, Canary] = {c.route: c for c in canaries}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        canary = self.by_path.get(scope["path"]) if scope["type"] == "http" else None
        if canary is None:
            await self.app(scope, receive, send)
            return
        self._fire(canary, scope)
        if canary.response == 404:
            await self.app(scope, receive, send)  # the app's own 404, byte for byte
            return
        phrase = HTTPStatus(canary.response).phrase
        body = json.dumps({"detail": phrase}).encode()
        await send({"type": "http.response.start", "status": canary.response,
                    "headers": [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    def _fire(self, canary: Canary, scope: Scope) -> None:
        headers = dict(scope.get("headers") or [])
        client = scope.get("client")
        source = client[0] if client else None
        if self.trust_forwarded and b"x-forwarded-for" in headers:
            source = headers[b"x-forwarded-for"].decode("latin-1").split(",")[0].strip()
        identity = next((headers[h].decode("latin-1") for h in self.identity_headers if h in headers), None)
        test = headers.get(b"x-intelsec-test")
        self.sender.submit(canary.asset_id, canary.key, {
            "channel": "middleware", "source_ip": source, "path": scope["path"], "method": scope.get("method"),
            "user_agent": headers.get(b"user-agent", b"").decode("latin-1")[:1024] or None, "identity": identity,
            "test_token": test.decode("latin-1")[:128] if test else None,
        })


def collisions(app: Any, canaries: list[Canary]) -> list[str]:
    """Canary routes that a real route of a Starlette/FastAPI app would serve (any method)."""
    from starlette.routing import Match

    routes = getattr(app, "routes", None)
    if routes is None:
        return []
    out = []
    for c in canaries:
        scope = {"type": "http", "path": c.route, "method": c.method, "root_path": "", "headers": [],
                 "query_string": b""}
        for r in routes:
            match, _ = r.matches(scope)
            if match != Match.NONE:
                out.append(f"canary {c.method} {c.route} ({c.asset_id}) collides with real route "
                           f"{getattr(r, 'path', r)!s} ({getattr(r, 'name', '?')})")
                break
    return out


def install_canaries(app: Any, canaries: list[Canary], sender: Sender, **options: Any) -> None:
    """Add the middleware to a Starlette/FastAPI app after refusing canaries that shadow real routes."""
    problems = collisions(app, canaries)
    if problems:
        raise ConfigError("; ".join(problems))
    app.add_middleware(CanaryMiddleware, canaries=canaries, sender=sender, **options)
