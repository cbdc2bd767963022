"""The mTLS sidecar: inbound it terminates mTLS, verifies the caller's SVID and asks the Rego
identity policy; outbound it turns local plain HTTP into mTLS with this workload's SVID.

`--mode shadow` logs what enforce mode would refuse and forwards anyway (staged roll-out).
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram

from intelsec.clock import utcnow
from intelsec.identity.bundle import TrustBundle
from intelsec.identity.httpserver import Request, Response, json_response
from intelsec.identity.sources import SvidSource
from intelsec.identity.tlsconfig import PeerCheck, client_context, peer_chain, server_context
from intelsec.identity.upstream import UpstreamError, UpstreamPool
from intelsec.identity.verify import Verdict, verify_jwt_svid, verify_x509_svid

log = logging.getLogger("intelsec.identity.sidecar")
Mode = Literal["enforce", "shadow"]
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "host", "content-length"})
IDENTITY_HEADERS = ("x-spiffe-id", "x-spiffe-trust-domain", "x-intelsec-attested", "x-intelsec-jwt-audience")
Decide = Callable[[dict[str, Any]], tuple[bool, list[str], str]]


class SidecarMetrics:
    """Counters for the dashboard's "attested callers %": attested / (attested + unattested + denied)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("intelsec_identity_sidecar_requests", "Requests seen by the sidecar",
                                ["direction", "outcome", "mode"], registry=registry)
        self.rejections = Counter("intelsec_identity_svid_rejections", "SVIDs rejected, by reason code",
                                  ["kind", "code"], registry=registry)
        self.latency = Histogram("intelsec_identity_sidecar_seconds", "Time spent in the sidecar per request",
                                 ["direction"], registry=registry,
                                 buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5))


def rego_decider(engine: Any, query: str = "data.identity") -> Decide:
    """Adapt a policy Engine to the sidecar: (allowed, reasons, policy digest)."""
    def decide(policy_input: dict[str, Any]) -> tuple[bool, list[str], str]:
        d = engine.decide(query, policy_input)
        return bool(d.allowed), list(d.reasons), d.policy_digest
    return decide


def dot_segments(path: str) -> bool:
    """`.`/`..` segments (also percent-encoded or behind `\\`): an upstream that normalises the path
    would serve another resource than the one the policy's path globs matched, so such paths are refused."""
    return any(seg in (".", "..") for seg in re.split(r"[/\\]", unquote(path)))


def svid_input(verdict: Verdict, leaf_sans: dict[str, list[str]]) -> dict[str, Any] | None:
    if not verdict.valid or verdict.spiffe_id is None:
        return None
    tail = verdict.spiffe_id[len("spiffe://") + len(verdict.trust_domain or ""):]
    return {"spiffe_id": verdict.spiffe_id, "trust_domain": verdict.trust_domain, "path": tail,
            "uri_sans": leaf_sans.get("uri", []), "dns_sans": leaf_sans.get("dns", [])}


def _sans(chain: list[Any]) -> dict[str, list[str]]:
    from cryptography import x509

    if not chain:
        return {}
    try:
        san = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return {}
    return {"uri": san.get_values_for_type(x509.UniformResourceIdentifier),
            "dns": san.get_values_for_type(x509.DNSName)}


class DenialAlerts:
    """Raise (rate-limited) alerts for refused callers; the alert store's dedup collapses repeats."""

    max_tracked = 10_000

    def __init__(self, raise_alert: Callable[[Any], Any], interval: float = 60.0) -> None:
        self.raise_alert, self.interval = raise_alert, interval
        self._last: dict[str, float] = {}

    async def __call__(self, entity: str, attested: bool, mode: str, request: Request, reasons: list[str],
                       digest: str) -> None:
        import time

        from intelsec.alerts.models import AlertIn

        rule = "identity.denied_caller" if attested else "identity.unattested_caller"
        key = f"{rule}:{entity}"[:255]
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < self.interval:
            return
        if len(self._last) >= self.max_tracked:  # callers come from anywhere: forget the quiet ones
            self._last = {k: t for k, t in self._last.items() if now - t < self.interval}
        self._last[key] = now
        alert = AlertIn(rule=rule, source="identity", severity="low" if mode == "shadow" else "medium",
                        entity=entity[:255], dedup_key=key,
                        summary=f"{'would refuse' if mode == 'shadow' else 'refused'} {entity}: {'; '.join(reasons)}",
                        evidence={"method": request.method, "path": request.path, "reasons": reasons, "mode": mode,
                                  "policy_digest": digest})
        try:
            await asyncio.to_thread(self.raise_alert, alert)
        except Exception:  # alerting must never take the data path down
            log.warning("could not raise identity alert", exc_info=True)


@dataclass
class Attestation:
    verdict: Verdict
    policy_input: dict[str, Any]
    jwt: Verdict | None


class InboundSidecar:
    """Handler for HttpServer: verify, decide, forward (or refuse with 403 and the reasons)."""

    def __init__(self, source: SvidSource, upstream: str, decide: Decide, metrics: SidecarMetrics,
                 mode: Mode = "enforce", audience: str | None = None, timeout: float = 30.0,
                 alerts: DenialAlerts | None = None) -> None:
        self.source, self.decide, self.metrics, self.mode, self.audience = source, decide, metrics, mode, audience
        self.alerts = alerts
        self.upstream = upstream if "://" in upstream else f"http://{upstream}"
        self.pool = UpstreamPool(self.upstream, timeout)
        self._ctx: tuple[int, ssl.SSLContext] | None = None
        self._verdicts: OrderedDict[tuple[int, bytes | None], tuple[Verdict, list[Any]]] = OrderedDict()

    def context(self) -> ssl.SSLContext:
        m = self.source.material()
        if self._ctx is None or self._ctx[0] != m.version:
            # shadow mode lets callers without a certificate through (and counts them) for staged roll-out
            self._ctx = (m.version, server_context(m, require_client_cert=self.mode == "enforce"))
        return self._ctx[1]

    def _verify(self, request: Request, bundles: dict[str, TrustBundle], version: int) -> tuple[Verdict, list[Any]]:
        """Verdicts are cached per (certificate, bundle version) until the certificate expires."""
        der = request.ssl_object.getpeercert(True) if request.ssl_object is not None else None
        now = utcnow()
        key = (version, der)
        hit = self._verdicts.get(key) if der else None
        if hit is not None and (hit[0].expires_at is None or now < hit[0].expires_at):
            self._verdicts.move_to_end(key)
            return hit
        chain = peer_chain(request.ssl_object)
        result = (verify_x509_svid(chain, bundles, now, tls_verified=True), chain)
        if der:
            self._verdicts[key] = result
            if len(self._verdicts) > 1024:
                self._verdicts.popitem(last=False)
        return result

    def attest(self, request: Request) -> Attestation:
        material = self.source.material()
        bundles: dict[str, TrustBundle] = material.bundles
        verdict, chain = self._verify(request, bundles, material.version)
        for code in verdict.codes:
            self.metrics.rejections.labels("x509", code).inc()
        jwt_verdict = None
        auth = request.header("authorization") or ""
        if auth.lower().startswith("bearer ") and self.audience:
            jwt_verdict = verify_jwt_svid(auth[7:].strip(), bundles, None, utcnow())
            for code in jwt_verdict.codes:
                self.metrics.rejections.labels("jwt", code).inc()
        jwt_in = None
        if jwt_verdict is not None:
            aud = (jwt_verdict.claims or {}).get("aud", [])
            jwt_in = {"valid": jwt_verdict.valid, "spiffe_id": jwt_verdict.spiffe_id, "reasons": jwt_verdict.reasons,
                      "audience": [aud] if isinstance(aud, str) else aud}
        policy_input = {
            "peer": {"svid": svid_input(verdict, _sans(chain)), "verify_errors": verdict.reasons},
            "request": {"method": request.method, "path": request.path},
            "jwt": jwt_in,
            "destination": {"spiffe_id": material.spiffe_id, "audience": self.audience},
        }
        return Attestation(verdict, policy_input, jwt_verdict)

    async def __call__(self, request: Request) -> Response:
        with self.metrics.latency.labels("inbound").time():
            att = self.attest(request)
            allowed, reasons, digest = self.decide(att.policy_input)
            if dot_segments(request.path):
                allowed, reasons = False, [*reasons, "request path has '.' or '..' segments"]
            attested = att.verdict.valid
            outcome = "attested" if attested and allowed else ("unattested" if not attested else "denied")
            self.metrics.requests.labels("inbound", outcome, self.mode).inc()
            if not allowed:
                log.warning("%s %s %s from %s: %s (policy %s)", "would deny" if self.mode == "shadow" else "denied",
                            request.method, request.path, att.verdict.spiffe_id or "unattested caller",
                            "; ".join(reasons), digest[:12])
                if self.alerts is not None:
                    caller = att.verdict.spiffe_id or f"unattested:{(request.client or ('?',))[0]}"
                    await self.alerts(caller, attested, self.mode, request, reasons, digest)
                if self.mode == "enforce":
                    return json_response(403, {"error": "forbidden", "reasons": reasons,
                                               "spiffe_id": att.verdict.spiffe_id})
            return await self.forward(request, att)

    async def forward(self, request: Request, att: Attestation) -> Response:
        headers = [(k, v) for k, v in request.headers if k not in HOP_BY_HOP and k not in IDENTITY_HEADERS]
        svid = att.policy_input["peer"]["svid"]
        if svid is not None:
            headers += [("x-spiffe-id", svid["spiffe_id"]), ("x-spiffe-trust-domain", svid["trust_domain"]),
                        ("x-intelsec-attested", "true")]
        else:
            headers.append(("x-intelsec-attested", "false"))
        host = request.header("host")
        if host:
            headers.append(("x-forwarded-host", host))
        try:
            resp = await self.pool.send(request.method, request.target, headers, request.body)
        except UpstreamError as exc:
            log.warning("upstream %s failed: %s", request.path, exc)
            return json_response(502, {"error": "bad gateway", "reason": str(exc)[:200]})
        resp.headers = [(k, v) for k, v in resp.headers if k not in HOP_BY_HOP]
        return resp

    async def aclose(self) -> None:
        await self.pool.aclose()


async def relay(client: httpx.AsyncClient, request: Request, headers: list[tuple[str, str]]) -> Response:
    try:
        upstream = await client.send(client.build_request(request.method, request.target, headers=headers,
                                                          content=request.body), stream=True)
        try:
            body = b"".join([chunk async for chunk in upstream.aiter_raw()])
        finally:
            await upstream.aclose()
    except httpx.HTTPError as exc:
        log.warning("upstream %s failed: %s", request.path, exc)
        return json_response(502, {"error": "bad gateway", "reason": str(exc).split("\n")[0][:200]})
    out = [(k.lower(), v) for k, v in upstream.headers.multi_items() if k.lower() not in HOP_BY_HOP]
    return Response(upstream.status_code, body, out)


class OutboundSidecar:
    """Local plain HTTP in, mTLS with this workload's SVID out; the server's SPIFFE ID is checked in-handshake."""

    def __init__(self, source: SvidSource, upstream: str, check: PeerCheck, metrics: SidecarMetrics,
                 timeout: float = 30.0, jwt_svid: Callable[[], str] | None = None) -> None:
        self.source, self.check, self.metrics, self.timeout = source, check, metrics, timeout
        self.jwt_svid = jwt_svid  # adds `Authorization: Bearer <JWT-SVID>` (audience-bound calls)
        self.upstream = upstream if "://" in upstream else f"https://{upstream}"
        self._client: tuple[int, httpx.AsyncClient] | None = None
        self._retired: set[httpx.AsyncClient] = set()
        self._closing: set[asyncio.Future[None]] = set()

    async def client(self) -> httpx.AsyncClient:
        m = self.source.material()
        if self._client is None or self._client[0] != m.version:
            old = self._client
            self._client = (m.version, httpx.AsyncClient(base_url=self.upstream, timeout=self.timeout,
                                                         verify=client_context(m, self.check)))
            if old is not None:  # requests in flight on the old client may take up to `timeout` to finish
                self._retired.add(old[1])
                asyncio.get_running_loop().call_later(self.timeout + 1, self._retire, old[1])
        return self._client[1]

    def _retire(self, client: httpx.AsyncClient) -> None:
        if client in self._retired:
            self._closing.add(task := asyncio.ensure_future(client.aclose()))
            task.add_done_callback(self._closing.discard)
            self._retired.discard(client)

    async def __call__(self, request: Request) -> Response:
        with self.metrics.latency.labels("outbound").time():
            headers = [(k, v) for k, v in request.headers if k not in HOP_BY_HOP and k not in IDENTITY_HEADERS]
            if self.jwt_svid is not None:
                try:
                    token = await asyncio.to_thread(self.jwt_svid)
                except Exception as exc:  # the Workload API is down: do not send the call unauthenticated
                    log.warning("no JWT-SVID for the upstream: %s", type(exc).__name__)
                    return json_response(502, {"error": "bad gateway", "reason": "no JWT-SVID available"})
                headers = [(k, v) for k, v in headers if k != "authorization"] + [("authorization", f"Bearer {token}")]
            resp = await relay(await self.client(), request, headers)
            outcome = "attested" if resp.status != 502 else "denied"
            self.metrics.requests.labels("outbound", outcome, "enforce").inc()
            return resp

    async def aclose(self) -> None:
        for client in [*self._retired, *([self._client[1]] if self._client is not None else [])]:
            await client.aclose()
        self._retired.clear()


def parse_addr(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    from intelsec.errors import InputError

    host, _, port = text.rpartition(":")
    try:
        return (host.strip("[]") or default_host), int(port)
    except ValueError:
        raise InputError(f"invalid address {text!r}; use HOST:PORT") from None


async def serve_until(handler: Any, context: Callable[[], ssl.SSLContext | None], listen: str,
                      stop: Any, ready: Callable[[tuple[str, int]], None] | None = None) -> None:
    """Run an HttpServer for `handler` until the asyncio Event `stop` is set."""
    from intelsec.identity.httpserver import HttpServer

    server = HttpServer(handler, context)
    addr = await server.start(*parse_addr(listen))
    if ready is not None:
        ready(addr)
    try:
        await stop.wait()
    finally:
        await server.close()
        await handler.aclose()
