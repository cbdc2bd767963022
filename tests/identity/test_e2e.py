"""End to end: the `intelsec identity agent` process feeds the sidecar its SVID over the Workload API;
the sidecar's certificate rotates without a restart."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
from cryptography import x509
from prometheus_client import CollectorRegistry

from intelsec.config import Workspace
from intelsec.identity.ca import LocalCA
from intelsec.identity.sidecar import InboundSidecar, SidecarMetrics, rego_decider
from intelsec.identity.tlsconfig import client_context, expect_id
from intelsec.identity.workload import WorkloadApiSource
from intelsec.policy.workspace import engine_for_workspace
from tests.identity.netutil import LoopThread, echo, start_server, wait_for_output

ME = "spiffe://example.com/ns/test/sa/me"


def server_serial(addr: str, ctx: ssl.SSLContext) -> int:
    with httpx.Client(verify=ctx, timeout=10) as c:
        r = c.get(f"https://{addr}/")
        assert r.status_code == 200, r.text
        sslobj = r.extensions["network_stream"].get_extra_info("ssl_object")
        return x509.load_der_x509_certificate(sslobj.getpeercert(True)).serial_number


def test_agent_process_feeds_sidecar_with_rotation(tmp_path: Path, workspace_dir: Path) -> None:
    LocalCA.init(tmp_path / "ca", "example.com")
    regs = tmp_path / "regs.yaml"
    regs.write_text(f"""- apiVersion: spiffe.io/v1alpha1
  kind: WorkloadRegistration
  metadata: {{name: me}}
  spec:
    spiffeID: {ME}
    selectors: [{{"unix:uid": "{os.getuid()}"}}, {{"unix:path": "{os.readlink('/proc/self/exe')}"}}]
""")
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen([sys.executable, "-m", "intelsec", "identity", "agent", "--socket", str(sock),
                              "--ca-dir", str(tmp_path / "ca"), "--registrations", str(regs), "--ttl", "4s",
                              "-w", str(workspace_dir)], stderr=subprocess.PIPE, text=True)
    lt = LoopThread()
    source = None
    try:
        assert agent.stderr is not None
        wait_for_output(agent.stderr, "Workload API on")
        source = WorkloadApiSource(str(sock))
        _, upstream = start_server(lt, echo)
        sidecar = InboundSidecar(source, upstream, rego_decider(engine_for_workspace(Workspace.load(workspace_dir))),
                                 SidecarMetrics(CollectorRegistry()))
        _, addr = start_server(lt, sidecar, sidecar.context)
        first = source.material()
        ctx = client_context(first, expect_id(ME))
        serial = server_serial(addr, ctx)
        deadline = time.monotonic() + 20
        while source.material().version == first.version and time.monotonic() < deadline:
            time.sleep(0.2)
        assert source.material().version > first.version, "no rotation pushed by the agent"
        assert server_serial(addr, client_context(source.material(), expect_id(ME))) != serial
    finally:
        if source is not None:
            source.close()
        lt.stop()
        agent.terminate()
        agent.wait(10)


def test_audience_bound_calls_through_both_sidecars(tmp_path: Path, workspace_dir: Path) -> None:
    """outbound sidecar (SVID + JWT-SVID from the agent) -> inbound sidecar (checks both) -> upstream."""
    from intelsec.identity.sidecar import OutboundSidecar

    LocalCA.init(tmp_path / "ca", "example.com")
    regs = tmp_path / "regs.yaml"
    regs.write_text(f"""- apiVersion: spiffe.io/v1alpha1
  kind: WorkloadRegistration
  metadata: {{name: me}}
  spec:
    spiffeID: {ME}
    selectors: [{{"unix:uid": "{os.getuid()}"}}]
""")
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen([sys.executable, "-m", "intelsec", "identity", "agent", "--socket", str(sock),
                              "--ca-dir", str(tmp_path / "ca"), "--registrations", str(regs),
                              "-w", str(workspace_dir)], stderr=subprocess.PIPE, text=True)
    lt = LoopThread()
    source = None
    try:
        assert agent.stderr is not None
        wait_for_output(agent.stderr, "Workload API on")
        source = WorkloadApiSource(str(sock))
        src = source
        _, upstream = start_server(lt, echo)
        engine = engine_for_workspace(Workspace.load(workspace_dir))
        inbound = InboundSidecar(source, upstream, rego_decider(engine), SidecarMetrics(CollectorRegistry()),
                                 audience="svc-me")
        _, in_addr = start_server(lt, inbound, inbound.context)
        outs = {}
        for aud in ("svc-me", "someone-else"):
            out = OutboundSidecar(source, f"https://{in_addr}", expect_id(ME), SidecarMetrics(CollectorRegistry()),
                                  jwt_svid=lambda a=aud: src.jwt_svid(a))  # type: ignore[misc]
            outs[aud] = start_server(lt, out)[1]
        r = httpx.get(f"http://{outs['svc-me']}/v1/x", timeout=10)
        assert r.status_code == 200, r.text
        seen = r.json()["headers"]
        assert seen["x-spiffe-id"] == ME and seen["authorization"].startswith("Bearer ey")
        r = httpx.get(f"http://{outs['someone-else']}/v1/x", timeout=10)
        assert r.status_code == 403 and any("audience" in x for x in r.json()["reasons"])
    finally:
        if source is not None:
            source.close()
        lt.stop()
        agent.terminate()
        agent.wait(10)
