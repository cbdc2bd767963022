"""The Workload API agent served to py-spiffe's own WorkloadApiClient and X509Source over a Unix socket."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from spiffe import SpiffeId, WorkloadApiClient, X509Source
from spiffe._proto import workload_pb2, workload_pb2_grpc
from spiffe.workloadapi.errors import FetchJwtSvidError, FetchX509SvidError

from intelsec.errors import ConfigError
from intelsec.identity.agent import Agent
from intelsec.identity.attest import load_registrations
from intelsec.identity.ca import LocalCA
from intelsec.identity.workload import WorkloadApiSource

ME = "spiffe://example.com/ns/test/sa/me"
EXE = os.readlink("/proc/self/exe")


def registrations(tmp_path: Path, selectors: list[str], sid: str = ME, extra: str = "") -> Path:
    sel = "\n".join(f"      - {s}" for s in selectors)
    p = tmp_path / "spiffeids.yaml"
    p.write_text(f"""- apiVersion: spiffe.io/v1alpha1
  kind: WorkloadRegistration
  metadata: {{name: me}}
  spec:
    spiffeID: {sid}
    selectors:
{sel}
{extra}""")
    return p


@pytest.fixture
def sock(tmp_path: Path) -> Path:
    return tmp_path / "agent.sock"


def start(tmp_path: Path, sock: Path, selectors: list[str], ttl: timedelta = timedelta(hours=1)) -> Agent:
    ca_dir = tmp_path / "ca"
    ca = LocalCA.load(ca_dir) if ca_dir.exists() else LocalCA.init(ca_dir, "example.com", intermediate=True)
    agent = Agent(ca, load_registrations(registrations(tmp_path, selectors)), sock, ttl=ttl)
    agent.start()
    return agent


@pytest.fixture
def agent(tmp_path: Path, sock: Path) -> Iterator[Agent]:
    a = start(tmp_path, sock, [f'"unix:uid": "{os.getuid()}"', f'"unix:path": "{EXE}"'])
    yield a
    a.stop()


def test_py_spiffe_client_fetches_svids_bundles_and_jwts(agent: Agent, sock: Path) -> None:
    client = WorkloadApiClient(f"unix:{sock}", default_timeout=10)
    try:
        svid = client.fetch_x509_svid()
        assert str(svid.spiffe_id) == ME and len(svid.cert_chain) == 2
        ctx = client.fetch_x509_context()
        assert ctx.x509_bundle_set.get_bundle_for_trust_domain(svid.spiffe_id.trust_domain) is not None
        assert client.fetch_x509_bundles().bundles
        jwt_svid = client.fetch_jwt_svid(audience={"broker"})
        assert str(jwt_svid.spiffe_id) == ME and jwt_svid.audience == {"broker"}
        bundles = client.fetch_jwt_bundles()
        assert bundles.bundles
        validated = client.validate_jwt_svid(jwt_svid.token, "broker")
        assert str(validated.spiffe_id) == ME
        with pytest.raises(Exception, match="audience"):
            client.validate_jwt_svid(jwt_svid.token, "someone-else")
        with pytest.raises(FetchJwtSvidError):  # an ID this workload is not registered for
            client.fetch_jwt_svids(audience={"x"}, subject=SpiffeId("spiffe://example.com/x"))
    finally:
        client.close()


def test_x509_source_receives_rotated_svids(tmp_path: Path, sock: Path) -> None:
    agent = start(tmp_path, sock, [f'"unix:uid": "{os.getuid()}"'], ttl=timedelta(seconds=4))
    updates = threading.Semaphore(0)
    try:
        source = X509Source(socket_path=f"unix:{sock}", timeout_in_seconds=10)
        try:
            source.subscribe_for_updates(updates.release)
            first = source.svid.leaf.serial_number
            assert updates.acquire(timeout=15), "no rotation pushed"
            second = source.svid.leaf.serial_number
            assert second != first
            assert agent.cache.issued >= 2
        finally:
            source.close()
    finally:
        agent.stop()


def test_wrong_uid_gets_no_identity(tmp_path: Path, sock: Path) -> None:
    agent = start(tmp_path, sock, [f'"unix:uid": "{os.getuid() + 4242}"'])
    try:
        client = WorkloadApiClient(f"unix:{sock}", default_timeout=5)
        with pytest.raises(FetchX509SvidError, match="PERMISSION_DENIED|no identity"):
            client.fetch_x509_svid()
        client.close()
    finally:
        agent.stop()


def test_wrong_binary_path_gets_no_identity(tmp_path: Path, sock: Path) -> None:
    agent = start(tmp_path, sock, [f'"unix:uid": "{os.getuid()}"', '"unix:path": "/usr/bin/not-this-one"'])
    try:
        client = WorkloadApiClient(f"unix:{sock}", default_timeout=5)
        with pytest.raises(FetchX509SvidError):
            client.fetch_x509_svid()
        client.close()
    finally:
        agent.stop()


def test_security_header_required(agent: Agent, sock: Path) -> None:
    channel = grpc.insecure_channel(f"unix:{sock}")
    stub = workload_pb2_grpc.SpiffeWorkloadAPIStub(channel)  # type: ignore[no-untyped-call]
    with pytest.raises(grpc.RpcError) as err:
        next(stub.FetchX509SVID(workload_pb2.X509SVIDRequest(), timeout=5))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    ok = next(stub.FetchX509SVID(workload_pb2.X509SVIDRequest(), timeout=5,
                                 metadata=[("workload.spiffe.io", "true")]))
    assert ok.svids[0].spiffe_id == ME
    channel.close()


def test_direct_tcp_callers_are_not_attested(agent: Agent) -> None:
    """Bypassing the Unix socket relay leaves no credentials, so nothing is issued."""
    channel = grpc.insecure_channel(f"127.0.0.1:{agent.port}")
    stub = workload_pb2_grpc.SpiffeWorkloadAPIStub(channel)  # type: ignore[no-untyped-call]
    with pytest.raises(grpc.RpcError) as err:
        next(stub.FetchX509SVID(workload_pb2.X509SVIDRequest(), timeout=5, metadata=[("workload.spiffe.io", "true")]))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    channel.close()


def test_workload_api_source_feeds_material(agent: Agent, sock: Path) -> None:
    src = WorkloadApiSource(str(sock))
    try:
        m = src.material()
        assert m.spiffe_id == ME and b"PRIVATE KEY" in m.key_pem and "example.com" in m.bundles
        assert m.bundles["example.com"].x509_roots and m.bundles["example.com"].jwt_keys
    finally:
        src.close()


@pytest.mark.parametrize(("body", "message"), [
    ("- apiVersion: v1\n  kind: Nope\n  metadata: {name: a}\n"
     "  spec: {spiffeID: 'spiffe://a/b', selectors: [{'unix:uid': '1'}]}\n", "kind must be WorkloadRegistration"),
    ("- apiVersion: v1\n  kind: WorkloadRegistration\n  metadata: {name: a}\n"
     "  spec: {spiffeID: 'spiffe://A/b', selectors: [{'unix:uid': '1'}]}\n", "lowercase"),
    ("- apiVersion: v1\n  kind: WorkloadRegistration\n  metadata: {name: a}\n"
     "  spec: {spiffeID: 'spiffe://a/b', selectors: [{'unix:uid': 'root'}]}\n", "numeric"),
    ("- apiVersion: v1\n  kind: WorkloadRegistration\n  metadata: {name: a}\n"
     "  spec: {spiffeID: 'spiffe://a/b', selectors: [{'unix:pid': '1'}]}\n", "unknown unix selector"),
    ("- [unclosed\n", "spiffeids.yaml:"),
    ("- apiVersion: v1\n  kind: WorkloadRegistration\n  metadata: {name: a}\n"
     "  spec: {spiffeID: 'spiffe://a/b', ttl: soon, selectors: [{'unix:uid': '1'}]}\n", "invalid duration"),
])
def test_malformed_registration_file(tmp_path: Path, body: str, message: str) -> None:
    p = tmp_path / "spiffeids.yaml"
    p.write_text(body)
    with pytest.raises(ConfigError) as err:
        load_registrations(p)
    assert message in str(err.value) and "spiffeids.yaml" in str(err.value)


def test_template_registrations_load(workspace_dir: Path) -> None:
    entries = load_registrations(workspace_dir / "identity" / "spiffeids.yaml")
    assert {e.metadata.name for e in entries} >= {"api-gateway", "payments", "ledger"}


def test_k8s_attestor_matches_pod_selectors(tmp_path: Path, sock: Path) -> None:
    """k8s selectors from an emulated kubelet `/pods` endpoint (a local HTTP server: no cluster here)
    and a cgroup file placing this process in a pod."""
    from intelsec.identity.httpserver import Request, Response, json_response
    from intelsec.identity.k8s import K8sAttestor, pod_of
    from tests.identity.netutil import LoopThread, start_server

    uid, cid = "0f8e2a9c-1b2c-4d5e-8f90-a1b2c3d4e5f6", "ab" * 32
    proc = tmp_path / "proc" / str(os.getpid())
    proc.mkdir(parents=True)
    (proc / "cgroup").write_text(
        f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid.replace('-', '_')}.slice/"
        f"cri-containerd-{cid}.scope\n")
    assert pod_of(os.getpid(), tmp_path / "proc") == (uid, cid)
    pods = {"items": [
        {"metadata": {"uid": "other", "namespace": "prod", "name": "x"}, "spec": {"serviceAccountName": "x"}},
        {"metadata": {"uid": uid, "namespace": "prod", "name": "payments-7d9", "labels": {"app": "payments"}},
         "spec": {"serviceAccountName": "payments", "nodeName": "n1"},
         "status": {"containerStatuses": [{"name": "app", "image": "payments:1", "containerID": f"containerd://{cid}"}]}},
    ]}
    seen_auth: list[str | None] = []

    async def kubelet(request: Request) -> Response:
        seen_auth.append(request.header("authorization"))
        return json_response(200, pods) if request.path == "/pods" else Response(404)

    lt = LoopThread()
    try:
        _, addr = start_server(lt, kubelet)
        token = tmp_path / "token"
        token.write_text("kubelet-token\n")
        att = K8sAttestor(f"http://{addr}/pods", token, proc_root=tmp_path / "proc")
        sel = att.selectors(os.getpid())
        assert {("k8s:ns", "prod"), ("k8s:sa", "payments"), ("k8s:pod-label", "app:payments"),
                ("k8s:container-name", "app"), ("k8s:node-name", "n1")} <= sel
        assert seen_auth == ["Bearer kubelet-token"]
        assert att.selectors(1) == set()  # not in a pod (no such cgroup under the fake /proc)
        ca = LocalCA.init(tmp_path / "ca", "example.com")
        regs = tmp_path / "k8s.yaml"
        regs.write_text("""- apiVersion: spiffe.io/v1alpha1
  kind: WorkloadRegistration
  metadata: {name: payments}
  spec:
    spiffeID: spiffe://example.com/ns/prod/sa/payments
    selectors: [{"k8s:ns": prod}, {"k8s:sa": payments}]
""")
        agent = Agent(ca, load_registrations(regs), sock, k8s=att)
        agent.start()
        try:
            client = WorkloadApiClient(f"unix:{sock}", default_timeout=10)
            assert str(client.fetch_x509_svid().spiffe_id) == "spiffe://example.com/ns/prod/sa/payments"
            client.close()
        finally:
            agent.stop()
        plain = Agent(ca, load_registrations(regs), tmp_path / "plain.sock")  # no k8s attestor: no match
        plain.start()
        try:
            client = WorkloadApiClient(f"unix:{tmp_path / 'plain.sock'}", default_timeout=5)
            with pytest.raises(FetchX509SvidError):
                client.fetch_x509_svid()
            client.close()
        finally:
            plain.stop()
    finally:
        lt.stop()


def test_agent_refuses_to_replace_a_regular_file(tmp_path: Path) -> None:
    target = tmp_path / "not-a-socket"
    target.write_text("keep me")
    ca = LocalCA.init(tmp_path / "ca", "example.com")
    agent = Agent(ca, [], target)
    with pytest.raises(ConfigError, match="not a socket"):
        agent.start()
    agent.stop()
    assert target.read_text() == "keep me"


def test_agent_socket_that_cannot_be_created_is_a_config_error(tmp_path: Path) -> None:
    ca = LocalCA.init(tmp_path / "ca", "example.com")
    blocker = tmp_path / "file"
    blocker.write_text("")
    agent = Agent(ca, [], blocker / "agent.sock")  # parent is a regular file
    with pytest.raises(ConfigError, match="cannot create the Workload API socket"):
        agent.start()
    agent.stop()


@pytest.mark.parametrize("doc", ["[1, 2]", '{"items": 5}', '"text"'])
def test_k8s_attestor_odd_pod_list_gives_no_selectors(tmp_path: Path, doc: str) -> None:
    from intelsec.identity.k8s import K8sAttestor

    uid = "0f8e2a9c-1b2c-4d5e-8f90-a1b2c3d4e5f6"
    proc = tmp_path / "proc" / "42"
    proc.mkdir(parents=True)
    (proc / "cgroup").write_text(f"0::/kubepods/pod{uid}/" + "ab" * 32 + "\n")
    (tmp_path / "pods.json").write_text(doc)
    assert K8sAttestor(str(tmp_path / "pods.json"), proc_root=tmp_path / "proc").selectors(42) == set()
