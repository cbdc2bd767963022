"""The httpx transport and the ASGI middleware for services that terminate TLS themselves; the CLI sidecar."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from intelsec.identity.ca import LocalCA, write_svid
from intelsec.identity.helpers import SpiffeAsgiMiddleware, SpiffeTransport
from intelsec.identity.tlsconfig import Material, expect_id
from tests.identity.netutil import LoopThread, echo, start_server, wait_for_output
from tests.pgserver import free_port

API = "spiffe://example.com/ns/prod/sa/api-gw"
PAY = "spiffe://example.com/ns/prod/sa/payments"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = json.dumps(scope.get("spiffe")).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def call(mw: SpiffeAsgiMiddleware, chain: list[str], path: str = "/x") -> tuple[int, Any]:
    import asyncio

    sent: list[dict[str, Any]] = []

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
             "extensions": {"tls": {"client_cert_chain": chain}}}
    asyncio.run(mw(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_asgi_middleware(ca: LocalCA, other_ca: LocalCA) -> None:
    mw = SpiffeAsgiMiddleware(app, lambda: {"example.com": ca.bundle()})
    # the CA's frozen clock is behind the wall clock; issue with a long TTL so it is valid now
    svid = ca.issue_x509(API, timedelta(days=3650))
    pem = [c.public_bytes(serialization.Encoding.PEM).decode() for c in svid.chain]
    status, body = call(mw, pem)
    assert status == 200 and body == {"spiffe_id": API, "trust_domain": "example.com"}
    status, body = call(mw, [])
    assert status == 403 and body["reasons"] == ["no certificate presented"]
    foreign = other_ca.issue_x509("spiffe://other.org/x", timedelta(days=3650))
    status, body = call(mw, [foreign.chain_pem().decode()])
    assert status == 403 and "no trust bundle for trust domain other.org" in body["reasons"]
    deny_all = SpiffeAsgiMiddleware(app, lambda: {"example.com": ca.bundle()},
                                    decide=lambda i: (False, ["nope"], "d"))
    assert call(deny_all, pem) == (403, {"error": "forbidden", "reasons": ["nope"]})
    for sneaky in ("/v1/../admin", "/v1/%2e%2e/admin", "/./x"):
        status, body = call(mw, pem, sneaky)
        assert status == 403 and body["reasons"] == ["request path has '.' or '..' segments"], sneaky


def test_spiffe_transport_against_sidecar_cli(tmp_path: Path, workspace_dir: Path) -> None:
    """The real `intelsec identity sidecar` process, called through SpiffeTransport."""
    ca = LocalCA.init(tmp_path / "ca", "example.com")
    files = write_svid(ca.issue_x509(PAY), ca.bundle(), tmp_path / "pay")
    lt = LoopThread()
    _, upstream = start_server(lt, echo)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "intelsec", "identity", "sidecar", "--listen", f"127.0.0.1:{port}",
         "--upstream", upstream, "--cert", files["cert"], "--key", files["key"],
         "--bundle", str(ca.directory / "bundle.json"), "-w", str(workspace_dir)],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stderr is not None
        wait_for_output(proc.stderr, "listening on")
        svid = ca.issue_x509(API)
        m = Material(API, svid.chain_pem(), svid.key_pem(), {"example.com": ca.bundle()})

        class Static:
            def material(self) -> Material:
                return m

        with httpx.Client(transport=SpiffeTransport(Static(), expect_id(PAY)), timeout=10) as c:
            r = c.get(f"https://127.0.0.1:{port}/hello")
            assert r.status_code == 200 and r.json()["headers"]["x-spiffe-id"] == API
        with httpx.Client(transport=SpiffeTransport(Static(), expect_id(API)), timeout=10) as c, \
                pytest.raises(httpx.ConnectError, match="expected " + API):
            c.get(f"https://127.0.0.1:{port}/hello")
    finally:
        proc.terminate()
        proc.wait(10)
        lt.stop()
    assert proc.returncode in (0, -15)


def test_outbound_sidecar_refuses_non_loopback_listen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.clirunner import invoke

    ca = LocalCA.init(tmp_path / "ca", "example.com")
    files = write_svid(ca.issue_x509(API), ca.bundle(), tmp_path / "s")
    res = invoke(capsys, "identity", "sidecar", "--direction", "outbound", "--listen", "0.0.0.0:15001",
                 "--upstream", "https://127.0.0.1:1", "--cert", files["cert"], "--key", files["key"],
                 "--bundle", files["bundle"])
    assert res.code == 2 and "loopback only" in res.err
    res = invoke(capsys, "identity", "sidecar", "--listen", "127.0.0.1:1", "--upstream", "127.0.0.1:2")
    assert res.code == 2 and "--cert" in res.err
    other = write_svid(ca.issue_x509(PAY), ca.bundle(), tmp_path / "o")
    res = invoke(capsys, "identity", "sidecar", "--listen", "127.0.0.1:1", "--upstream", "127.0.0.1:2",
                 "--cert", files["cert"], "--key", other["key"], "--bundle", files["bundle"])
    assert res.code == 2 and "cannot use its certificate and key (KEY_VALUES_MISMATCH)" in res.err


def test_spiffe_transport_rotation_keeps_requests_in_flight(tmp_path: Path) -> None:
    import asyncio
    import threading
    import time

    from intelsec.identity.httpserver import Request, Response, json_response
    from intelsec.identity.tlsconfig import server_context

    ca = LocalCA.init(tmp_path / "ca", "example.com")

    def make(sid: str, version: int) -> Material:
        s = ca.issue_x509(sid)
        return Material(sid, s.chain_pem(), s.key_pem(), {"example.com": ca.bundle()}, version)

    async def slow(request: Request) -> Response:
        await asyncio.sleep(1.0 if request.path == "/slow" else 0)
        return json_response(200, {})

    pay = make(PAY, 1)
    lt = LoopThread()
    try:
        _, addr = start_server(lt, slow, lambda: server_context(pay))

        class Rotating:
            m = make(API, 1)

            def material(self) -> Material:
                return self.m

        source = Rotating()
        with httpx.Client(transport=SpiffeTransport(source, expect_id(PAY)), timeout=10) as c:
            results: list[int] = []
            t = threading.Thread(target=lambda: results.append(c.get(f"https://{addr}/slow").status_code))
            t.start()
            time.sleep(0.4)
            source.m = make(API, 2)
            assert c.get(f"https://{addr}/fast").status_code == 200
            t.join(10)
            assert results == [200]
    finally:
        lt.stop()
