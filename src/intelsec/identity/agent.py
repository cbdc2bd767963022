"""A SPIFFE Workload API server (gRPC over a Unix socket) backed by the local CA.

gRPC does not expose the peer's socket credentials, so the public Unix socket is served by a
small relay: it reads SO_PEERCRED for each connection, then relays the bytes to the gRPC server on
a loopback TCP port and remembers which relay port belongs to which process. Connections that do
not come through the relay have no credentials and get PERMISSION_DENIED.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import struct_pb2
from spiffe._proto import workload_pb2, workload_pb2_grpc

from intelsec.clock import Clock, SystemClock, parse_duration
from intelsec.errors import ConfigError
from intelsec.identity.attest import PeerCred, matching, needs_sha256, peer_cred, unix_selectors
from intelsec.identity.ca import IssuedSvid, LocalCA
from intelsec.identity.k8s import K8sAttestor
from intelsec.identity.schemas import WorkloadRegistration
from intelsec.identity.verify import verify_jwt_svid

log = logging.getLogger("intelsec.identity.agent")
HEADER = ("workload.spiffe.io", "true")


@dataclass
class _Held:
    svid: IssuedSvid
    rotate_at: datetime


class SvidCache:
    """One current X.509-SVID per SPIFFE ID, re-issued once `rotate_fraction` of its life has passed."""

    def __init__(self, ca: LocalCA, ttl: timedelta, rotate_fraction: float = 0.5, clock: Clock | None = None) -> None:
        self.ca, self.ttl, self.fraction = ca, ttl, rotate_fraction
        self.clock = clock or SystemClock()
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def get(self, spiffe_id: str, ttl: timedelta | None = None) -> _Held:
        now = self.clock.now()
        with self._lock:
            held = self._held.get(spiffe_id)
            if held is None or now >= held.rotate_at:
                life = ttl or self.ttl
                svid = self.ca.issue_x509(spiffe_id, life)
                held = _Held(svid, now + (svid.expires_at - now) * self.fraction)
                self._held[spiffe_id] = held
                self.issued += 1
            return held


class PeerTable:
    """Relay source port -> credentials of the process on the Unix socket."""

    def __init__(self) -> None:
        self._by_port: dict[int, PeerCred] = {}
        self._lock = threading.Lock()

    def put(self, port: int, cred: PeerCred) -> None:
        with self._lock:
            self._by_port[port] = cred

    def drop(self, port: int) -> None:
        with self._lock:
            self._by_port.pop(port, None)

    def lookup(self, grpc_peer: str) -> PeerCred | None:
        if not grpc_peer.startswith("ipv4:127.0.0.1:"):
            return None
        try:
            port = int(grpc_peer.rsplit(":", 1)[1])
        except ValueError:
            return None
        with self._lock:
            return self._by_port.get(port)


class WorkloadApi(workload_pb2_grpc.SpiffeWorkloadAPIServicer):
    def __init__(self, ca: LocalCA, entries: list[WorkloadRegistration], peers: PeerTable, cache: SvidCache,
                 jwt_ttl: timedelta = timedelta(minutes=5), poll: float = 0.2, k8s: K8sAttestor | None = None) -> None:
        self.ca, self.entries, self.peers, self.cache, self.k8s = ca, entries, peers, cache, k8s
        self.jwt_ttl, self.poll = jwt_ttl, poll
        self._sha = needs_sha256(entries)

    # -- helpers ---------------------------------------------------------------------------------
    def _attest(self, context: grpc.ServicerContext) -> list[WorkloadRegistration]:
        md = {k: v for k, v in context.invocation_metadata()}
        if md.get(HEADER[0]) != HEADER[1]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "security header missing from request")
        cred = self.peers.lookup(context.peer())
        if cred is None:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "could not attest the caller")
        assert cred is not None
        selectors = unix_selectors(cred, self._sha)
        if self.k8s is not None:
            selectors |= self.k8s.selectors(cred.pid)
        found = matching(self.entries, selectors)
        if not found:
            log.info("no registration for pid %s uid %s gid %s", cred.pid, cred.uid, cred.gid)
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "no identity issued")
        return found

    def _svids(self, entries: list[WorkloadRegistration]) -> list[_Held]:
        seen: dict[str, _Held] = {}
        for e in entries:
            if e.spec.spiffe_id not in seen:
                ttl = parse_duration(e.spec.ttl) if e.spec.ttl else None
                seen[e.spec.spiffe_id] = self.cache.get(e.spec.spiffe_id, ttl)
        return list(seen.values())

    def _x509_response(self, held: list[_Held]) -> workload_pb2.X509SVIDResponse:
        bundle = self.ca.bundle().der()
        return workload_pb2.X509SVIDResponse(svids=[
            workload_pb2.X509SVID(spiffe_id=h.svid.spiffe_id, x509_svid=h.svid.chain_der(),
                                  x509_svid_key=h.svid.key_der(), bundle=bundle) for h in held])

    def _wait(self, context: grpc.ServicerContext, until: datetime | None) -> bool:
        """Sleep until `until` (or forever); False when the client went away."""
        while context.is_active():
            if until is not None and self.cache.clock.now() >= until:
                return True
            time.sleep(self.poll)
        return False

    # -- RPCs ------------------------------------------------------------------------------------
    def FetchX509SVID(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        entries = self._attest(context)
        while True:
            held = self._svids(entries)
            yield self._x509_response(held)
            if not self._wait(context, min(h.rotate_at for h in held)):
                return

    def FetchX509Bundles(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._attest(context)
        yield workload_pb2.X509BundlesResponse(bundles={self.ca.trust_domain: self.ca.bundle().der()})
        self._wait(context, None)

    def FetchJWTSVID(self, request: Any, context: grpc.ServicerContext) -> Any:
        entries = self._attest(context)
        if not request.audience:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "audience must be specified")
        ids = sorted({e.spec.spiffe_id for e in entries})
        if request.spiffe_id:
            if request.spiffe_id not in ids:
                context.abort(grpc.StatusCode.PERMISSION_DENIED, "no identity issued for the requested SPIFFE ID")
            ids = [request.spiffe_id]
        return workload_pb2.JWTSVIDResponse(svids=[
            workload_pb2.JWTSVID(spiffe_id=sid, svid=self.ca.issue_jwt(sid, list(request.audience), self.jwt_ttl))
            for sid in ids])

    def FetchJWTBundles(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._attest(context)
        jwks = json.dumps(self.ca.bundle().jwt_jwks()).encode()
        yield workload_pb2.JWTBundlesResponse(bundles={self.ca.trust_domain: jwks})
        self._wait(context, None)

    def ValidateJWTSVID(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._attest(context)
        if not request.audience or not request.svid:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "audience and svid must be specified")
        verdict = verify_jwt_svid(request.svid, self.ca.bundle(), request.audience, self.cache.clock.now())
        if not verdict.valid:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(verdict.reasons))
        claims = struct_pb2.Struct()
        claims.update(verdict.claims or {})
        return workload_pb2.ValidateJWTSVIDResponse(spiffe_id=verdict.spiffe_id or "", claims=claims)


class PeerRelay:
    """Unix socket -> loopback TCP relay that records each connection's SO_PEERCRED (one thread pair each)."""

    def __init__(self, socket_path: Path, target_port: int, peers: PeerTable) -> None:
        self.path, self.target_port, self.peers = socket_path, target_port, peers
        self._sock: socket.socket | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        if self.path.exists():
            if not stat.S_ISSOCK(self.path.stat().st_mode):
                raise ConfigError(f"{self.path}: exists and is not a socket; refusing to replace it")
            self.path.unlink()  # a stale socket from an earlier run
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            sock.bind(str(self.path))
            os.chmod(self.path, 0o777)  # noqa: S103 - any local workload may ask; attestation decides what it gets
        except OSError as exc:
            sock.close()
            raise ConfigError(f"{self.path}: cannot create the Workload API socket: {exc.strerror or exc}") from None
        sock.listen(64)
        sock.settimeout(0.5)
        self._sock = sock
        threading.Thread(target=self._accept, daemon=True, name="workload-api-relay").start()

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            cred = peer_cred(client)
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        port = upstream.getsockname()[1]
        self.peers.put(port, cred)
        done = threading.Event()

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while chunk := src.recv(65536):
                    dst.sendall(chunk)
            except OSError:
                pass
            finally:
                done.set()

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)
        done.wait(1)
        self.peers.drop(port)
        for s in (client, upstream):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:  # only remove the socket this relay created
            self._sock.close()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


class Agent:
    """The Workload API agent: gRPC server + peer-credential relay on `socket_path`."""

    def __init__(self, ca: LocalCA, entries: list[WorkloadRegistration], socket_path: Path,
                 ttl: timedelta = timedelta(hours=1), rotate_fraction: float = 0.5, clock: Clock | None = None,
                 max_workers: int = 64, k8s: K8sAttestor | None = None) -> None:
        self.peers = PeerTable()
        self.cache = SvidCache(ca, ttl, rotate_fraction, clock)
        self.api = WorkloadApi(ca, entries, self.peers, self.cache, k8s=k8s)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers))
        workload_pb2_grpc.add_SpiffeWorkloadAPIServicer_to_server(self.api, self.server)  # type: ignore[no-untyped-call]
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.relay = PeerRelay(socket_path, self.port, self.peers)

    def start(self) -> None:
        self.relay.start()  # first: a socket that cannot be created leaves no gRPC server running
        self.server.start()

    def stop(self, grace: float = 1.0) -> None:
        self.relay.stop()
        self.server.stop(grace).wait(grace + 1)
