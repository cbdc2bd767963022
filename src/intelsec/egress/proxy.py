"""The enforcing egress proxy: an asyncio HTTP forward proxy for CONNECT tunnels and plain HTTP.

Each request is mapped to a namespace (Proxy-Authorization identity, else the client's source
CIDR), judged by the same `EgressDecider` as `egress eval`, logged as a flow, and either refused
with 403 and the reasons (verdict `block`) or forwarded. Garbage gets a 400 on that connection
only; every wait has a timeout; a connection limit sheds load with 503; shutdown stops accepting,
lets open connections finish for a grace period, then closes them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import ipaddress
import json
import os
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from intelsec.egress.categories import CidrTable
from intelsec.egress.decide import EgressDecider
from intelsec.egress.evaluate import decision_record
from intelsec.egress.metrics import EgressMetrics
from intelsec.egress.models import Flow, Verdict
from intelsec.egress.readers.base import looks_like_ip
from intelsec.egress.schemas import Enforcement, ExceptionEntry

Resolver = Callable[[str, int], Awaitable[tuple[str, int]]]
BlockHook = Callable[[str, str, Verdict], None]
ExpiryHook = Callable[[list[ExceptionEntry]], None]

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$")
_HOP = {"proxy-authorization", "proxy-connection", "connection", "keep-alive", "te", "trailer", "upgrade"}


@dataclass
class ProxySettings:
    host: str = "127.0.0.1"
    port: int = 3128
    header_timeout: float = 10.0
    connect_timeout: float = 10.0
    idle_timeout: float = 60.0
    max_connections: int = 1024
    max_header_bytes: int = 64 * 1024
    grace_seconds: float = 10.0


class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


async def system_resolver(host: str, port: int) -> tuple[str, int]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=1)  # SOCK_STREAM
    if not infos:
        raise OSError(f"cannot resolve {host}")
    return str(infos[0][4][0]), port


def static_resolver(names: Mapping[str, str], fallback: Resolver | None = system_resolver) -> Resolver:
    """Resolve listed names to fixed addresses (tests, split-horizon setups); others via `fallback`."""

    async def resolve(host: str, port: int) -> tuple[str, int]:
        if host in names:
            return names[host], port
        if fallback is None:
            raise OSError(f"cannot resolve {host}")
        return await fallback(host, port)

    return resolve


class ClientMap:
    """Who is calling: a Proxy-Authorization identity wins over the source-address map."""

    def __init__(self, enforcement: Enforcement, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._users = {i.user: (i.namespace, env.get(i.password_env, "")) for i in enforcement.identities}
        self._cidrs = CidrTable()
        for s in enforcement.sources:
            self._cidrs.add(s.cidr, s.namespace)
        self.default = enforcement.default_namespace

    def identify(self, peer_ip: str | None, auth: str | None) -> str:
        if auth is not None:
            scheme, _, token = auth.strip().partition(" ")
            if scheme.lower() != "basic":
                raise BadRequest(407, "unsupported Proxy-Authorization scheme (use Basic)")
            try:
                user, _, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise BadRequest(407, "malformed Proxy-Authorization") from None
            known = self._users.get(user)
            expected = known[1] if known else ""
            # compare even for unknown users so timing does not reveal which names exist; an unset
            # password variable never authenticates
            ok = hmac.compare_digest(password.encode(), (expected or "\x00invalid").encode())
            if known is None or not expected or not ok:
                raise BadRequest(407, "proxy authentication failed")
            return known[0]
        if peer_ip:
            ns = self._cidrs.lookup(peer_ip)
            if ns:
                return ns
        return self.default


class FlowLog:
    """Appends one JSON line per decision: canonical flow fields plus the verdict (reads back as JSONL)."""

    def __init__(self, path: Path | None) -> None:
        self._fh: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("a", encoding="utf-8", buffering=1)

    def write(self, ns: str, flow: Flow, v: Verdict) -> None:
        if self._fh is not None:
            rec = flow.to_dict() | {"src_ns": ns} | decision_record(ns, flow, v)
            self._fh.write(json.dumps(rec, separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _response(status: int, reason: str, body: str = "", headers: Mapping[str, str] | None = None) -> bytes:
    data = body.encode()
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(data)}",
        "Connection: close",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Request:
    method: str
    host: str
    port: int
    head: bytes  # what to send upstream (plain HTTP only)
    auth: str | None


def canonical_host(host: str) -> str:
    """One spelling per destination, so `2130706433`, `0x7f.1`, `::ffff:127.0.0.1` or a trailing
    dot cannot dodge a CIDR or name rule while the resolver connects to the same address."""
    host = host.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if _NUMERIC_HOST.match(host):  # only what inet_aton (so also the resolver) reads as an address
            with contextlib.suppress(OSError):
                return socket.inet_ntoa(socket.inet_aton(host))
        return host
    return str(getattr(ip, "ipv4_mapped", None) or ip)


def parse_head(raw: bytes) -> Request:
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise BadRequest(400, "undecodable request") from None
    lines = text.split("\r\n")
    if any(c in line for line in lines for c in "\r\n\x00"):
        raise BadRequest(400, "bare CR, LF or NUL in the request head")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, "malformed request line")
    method, target, version = parts
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.match(name):
            raise BadRequest(400, "malformed header line")
        headers.append((name, value.strip()))
    auth = next((v for k, v in headers if k.lower() == "proxy-authorization"), None)
    if method == "CONNECT":
        host, sep, port_s = target.rpartition(":")
        host = canonical_host(host.strip("[]"))
        if not sep or not host or not port_s.isdigit() or not 0 < int(port_s) < 65536:
            raise BadRequest(400, "CONNECT target must be host:port")
        return Request(method, host, int(port_s), b"", auth)
    url = urlsplit(target)
    if url.scheme != "http" or not url.hostname or not canonical_host(url.hostname):
        raise BadRequest(400, "a proxy request needs an absolute http:// URL (use CONNECT for https)")
    try:
        port = url.port or 80
    except ValueError:
        raise BadRequest(400, "invalid port in URL") from None
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    out = [f"{method} {path} {version}", f"Host: {url.netloc.rpartition('@')[2]}"]
    # RFC 9112 3.2.2: the target's authority replaces any Host the client sent, so a judged
    # destination cannot carry another site's name to a shared front end (CDN, load balancer)
    out += [f"{k}: {v}" for k, v in headers if k.lower() not in _HOP and k.lower() != "host"]
    out.append("Connection: close")
    return Request(method, canonical_host(url.hostname), port, ("\r\n".join(out) + "\r\n\r\n").encode("latin-1"), auth)


def close_response_head(head: bytes) -> bytes:
    lines = head.rstrip(b"\r\n").split(b"\r\n")
    kept = [x for x in lines[1:] if x.split(b":", 1)[0].strip().lower().decode("latin-1") not in _HOP]
    return b"\r\n".join([lines[0], *kept, b"Connection: close"]) + b"\r\n\r\n"


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, idle: float) -> None:
    try:
        while True:
            data = await asyncio.wait_for(src.read(262144), idle)
            if not data:
                break
            dst.write(data)
            await dst.drain()
    except (TimeoutError, ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if dst.can_write_eof():
                dst.write_eof()


class EgressProxy:
    def __init__(
        self,
        decider: EgressDecider,
        clients: ClientMap,
        settings: ProxySettings | None = None,
        resolver: Resolver | None = None,
        flow_log: FlowLog | None = None,
        metrics: EgressMetrics | None = None,
        on_block: BlockHook | None = None,
        on_expired: ExpiryHook | None = None,
    ) -> None:
        self.decider = decider
        self.clients = clients
        self.settings = settings or ProxySettings()
        self.resolver = resolver or system_resolver
        self.flow_log = flow_log or FlowLog(None)
        self.metrics = metrics
        self.on_block = on_block
        self.on_expired = on_expired
        self.outcomes: Counter[str] = Counter()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.address: tuple[str, int] = (self.settings.host, self.settings.port)
        self._publish_exceptions()

    def _publish_exceptions(self) -> None:
        if self.metrics is not None:
            self.metrics.set_exceptions(
                dict(Counter(e.namespace for e in self.decider.active)), len(self.decider.expired)
            )

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> tuple[str, int]:
        self._server = await asyncio.start_server(
            self._accept, self.settings.host, self.settings.port, limit=self.settings.max_header_bytes
        )
        sock = self._server.sockets[0].getsockname()
        self.address = (str(sock[0]), int(sock[1]))
        return self.address

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop accepting, give open connections `grace` seconds, then close what is left."""
        if self._server is not None:
            self._server.close()
        pending = set(self._tasks)
        if pending:
            _, still = await asyncio.wait(pending, timeout=self.settings.grace_seconds if grace is None else grace)
            for w in list(self._writers):
                w.close()
            for t in still:
                t.cancel()
            await asyncio.gather(*still, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        self.flow_log.close()

    # -- per connection ------------------------------------------------------------------------
    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] += 1
        if self.metrics is not None:
            self.metrics.proxy_requests.labels(outcome).inc()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._tasks) >= self.settings.max_connections:
            with contextlib.suppress(OSError, ConnectionError):
                await self._refuse(reader, writer, 503, "proxy at connection limit", "overloaded")
            writer.close()
            return
        self._tasks.add(task)
        self._writers.add(writer)
        if self.metrics is not None:
            self.metrics.proxy_active.inc()
        try:
            await self._serve(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            self._count("client_error")
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            if self.metrics is not None:
                self.metrics.proxy_active.dec()
            writer.close()
            with contextlib.suppress(OSError, ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _refuse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        status: int,
        reason: str,
        outcome: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._count(outcome)
        writer.write(_response(status, _REASONS.get(status, "Error"), reason + "\n", headers))
        await writer.drain()
        # Lingering close: read what the client already sent, so closing does not reset the
        # connection before it has read our answer.
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()
        with contextlib.suppress(TimeoutError, OSError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            for _ in range(16):
                if not await asyncio.wait_for(reader.read(65536), 0.2):
                    break

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        s = self.settings
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), s.header_timeout)
        except TimeoutError:
            return await self._refuse(reader, writer, 408, "timed out waiting for the request", "timeout")
        except asyncio.LimitOverrunError:
            return await self._refuse(reader, writer, 431, "request head too large", "bad_request")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                await self._refuse(reader, writer, 400, "incomplete request", "bad_request")
            return None
        try:
            req = parse_head(raw)
            peer = writer.get_extra_info("peername")
            ns = self.clients.identify(peer[0] if peer else None, req.auth)
        except BadRequest as exc:
            extra = {"Proxy-Authenticate": 'Basic realm="intelsec-egress"'} if exc.status == 407 else None
            return await self._refuse(
                reader, writer, exc.status, str(exc), "auth_required" if exc.status == 407 else "bad_request", extra
            )
        started = time.perf_counter()
        expired = self.decider.refresh()
        if expired:
            self._publish_exceptions()
            if self.on_expired is not None:
                self.on_expired(expired)
        is_ip = looks_like_ip(req.host)
        flow = Flow(
            time=_now_iso(),
            src_ns=ns,
            src_ip=peer[0] if peer else None,
            dst_host=None if is_ip else req.host,
            dst_ip=req.host if is_ip else None,
            dst_port=req.port,
            protocol="tcp",
            direction="egress",
            origin="proxy",
        )
        ns, verdict = self.decider.judge(flow)
        if self.metrics is not None:
            self.metrics.proxy_decision_seconds.observe(time.perf_counter() - started)
            self.metrics.decisions.labels(verdict.verdict, verdict.category, "proxy").inc()
        flow.verdict_seen = verdict.verdict
        self.flow_log.write(ns, flow, verdict)
        headers = {"X-Egress-Verdict": verdict.verdict, "X-Egress-Category": verdict.category}
        if verdict.verdict == "block":
            if self.metrics is not None:
                self.metrics.blocks.labels(verdict.category, ns).inc()
            if self.on_block is not None:
                self.on_block(ns, flow.destination, verdict)
            body = "egress blocked: " + "; ".join(verdict.reasons)
            return await self._refuse(reader, writer, 403, body, "blocked", headers)
        t0 = time.perf_counter()
        try:
            ip, port = await asyncio.wait_for(self.resolver(req.host, req.port), s.connect_timeout)
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(ip, port, limit=262144), s.connect_timeout
            )
        except TimeoutError:
            return await self._refuse(
                reader, writer, 504, f"upstream {req.host}:{req.port} timed out", "upstream_error"
            )
        except OSError as exc:
            return await self._refuse(
                reader,
                writer,
                502,
                f"upstream {req.host}:{req.port} unreachable: {exc.strerror or exc}",
                "upstream_error",
            )
        if self.metrics is not None:
            self.metrics.proxy_upstream_connect_seconds.observe(time.perf_counter() - t0)
        self._writers.add(up_writer)
        try:
            if req.method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
                self._count("tunnel")
                await asyncio.gather(_pipe(reader, up_writer, s.idle_timeout), _pipe(up_reader, writer, s.idle_timeout))
            else:
                up_writer.write(req.head)
                await up_writer.drain()
                self._count("forwarded")
                upload = asyncio.create_task(_pipe(reader, up_writer, s.idle_timeout))
                try:
                    head = await asyncio.wait_for(up_reader.readuntil(b"\r\n\r\n"), s.idle_timeout)
                except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    upload.cancel()
                    return await self._refuse(reader, writer, 502, "upstream sent no valid response", "upstream_error")
                # one request per client connection: say so, so clients do not reuse it
                writer.write(close_response_head(head))
                await _pipe(up_reader, writer, s.idle_timeout)
                upload.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await upload
        finally:
            self._writers.discard(up_writer)
            up_writer.close()
        return None


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ProxyThread:
    """Runs an `EgressProxy` on its own event loop thread, for hosts that are not async (the server)."""

    def __init__(self, proxy: EgressProxy) -> None:
        self.proxy = proxy
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="egress-proxy", daemon=True)

    def start(self, timeout: float = 30) -> tuple[str, int]:
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self.proxy.start(), self._loop).result(timeout)

    def stop(self, grace: float | None = None) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.proxy.shutdown(grace), self._loop).result(
                (grace or self.proxy.settings.grace_seconds) + 30
            )
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()
