"""Helpers for services that terminate TLS themselves: an httpx transport and an ASGI middleware."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from cryptography import x509

from intelsec.clock import utcnow
from intelsec.identity.bundle import TrustBundle
from intelsec.identity.sidecar import dot_segments
from intelsec.identity.sources import SvidSource
from intelsec.identity.tlsconfig import PeerCheck, client_context
from intelsec.identity.verify import verify_x509_svid


class SpiffeTransport(httpx.BaseTransport):
    """httpx transport speaking mTLS with the workload's current SVID; refuses servers `check` rejects.

    A rotated SVID (new `Material.version`) swaps the inner transport for the next request.
    """

    def __init__(self, source: SvidSource, check: PeerCheck, **transport_kwargs: Any) -> None:
        self.source, self.check, self.kwargs = source, check, transport_kwargs
        self._lock = threading.Lock()
        self._inner: tuple[int, httpx.HTTPTransport] | None = None
        self._retired: httpx.HTTPTransport | None = None  # may still carry requests of other threads

    def _transport(self) -> httpx.HTTPTransport:
        m = self.source.material()
        with self._lock:
            if self._inner is None or self._inner[0] != m.version:
                old = self._inner
                self._inner = (m.version, httpx.HTTPTransport(verify=client_context(m, self.check), **self.kwargs))
                if old is not None:  # close the one retired a rotation ago: its requests are long done
                    if self._retired is not None:
                        self._retired.close()
                    self._retired = old[1]
            return self._inner[1]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._transport().handle_request(request)

    def close(self) -> None:
        for t in (self._retired, self._inner[1] if self._inner is not None else None):
            if t is not None:
                t.close()


Decide = Callable[[dict[str, Any]], tuple[bool, list[str], str]]


class SpiffeAsgiMiddleware:
    """Verify the caller's X.509-SVID from the ASGI TLS extension (`client_cert_chain`) before the app runs.

    The app sees `scope["spiffe"] = {"spiffe_id", "trust_domain"}`; unattested callers or callers the
    optional `decide` refuses get 403 with the reasons.
    """

    def __init__(self, app: Any, bundles: Callable[[], Mapping[str, TrustBundle]],
                 decide: Decide | None = None) -> None:
        self.app, self.bundles, self.decide = app, bundles, decide

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = (scope.get("extensions") or {}).get("tls") or {}
        pems = tls.get("client_cert_chain") or []
        try:
            chain = [x509.load_pem_x509_certificate(p.encode() if isinstance(p, str) else p) for p in pems]
        except ValueError:
            chain = []
        verdict = verify_x509_svid(chain, dict(self.bundles()), utcnow())
        reasons = list(verdict.reasons)
        allowed = verdict.valid
        if allowed and self.decide is not None:
            allowed, reasons, _ = self.decide({
                "peer": {"svid": {"spiffe_id": verdict.spiffe_id, "trust_domain": verdict.trust_domain}},
                "request": {"method": scope.get("method"), "path": scope.get("path")}})
        raw = scope.get("raw_path")
        if allowed and dot_segments(raw.decode("latin-1") if isinstance(raw, bytes) else scope.get("path") or ""):
            # as in the sidecar: a normalising app would serve another path than the policy matched
            allowed, reasons = False, [*reasons, "request path has '.' or '..' segments"]
        if not allowed:
            body = json.dumps({"error": "forbidden", "reasons": reasons}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        scope = {**scope, "spiffe": {"spiffe_id": verdict.spiffe_id, "trust_domain": verdict.trust_domain}}
        await self.app(scope, receive, send)
