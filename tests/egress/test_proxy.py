"""The enforcing proxy with real clients (httpx, raw sockets) and real upstream servers on 127.0.0.1.

Test hostnames resolve to 127.0.0.1 through the proxy's injectable resolver; nothing touches
/etc/hosts.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from intelsec.config import Workspace
from intelsec.egress.decide import EgressDecider
from intelsec.egress.metrics import EgressMetrics
from intelsec.egress.models import ReadStats
from intelsec.egress.proxy import BadRequest, ClientMap, EgressProxy, FlowLog, ProxySettings, static_resolver
from intelsec.egress.readers import read_flows
from tests.egress.proxyharness import RunningProxy, tls_material, upstream

NAMES = {
    "allowed.test": "127.0.0.1",
    "unlisted.test": "127.0.0.1",
    "vendor.test": "127.0.0.1",
    "pastebin.com": "127.0.0.1",
}


@pytest.fixture
def ws(workspace_dir: Path) -> Path:
    (workspace_dir / "egress" / "allowlist.yaml").write_text(
        "namespaces:\n  dev: [allowed.test]\n  batch: [vendor.test]\n"
    )
    enf = workspace_dir / "egress" / "enforcement.yaml"
    enf.write_text(
        enf.read_text()
        .replace("sources: []", "sources:\n  - cidr: 127.0.0.0/8\n    namespace: dev")
        .replace(
            "identities: []",
            "identities:\n  - user: batch-job\n    namespace: batch\n    password_env: TEST_EGRESS_PROXY_PW",
        )
    )
    return workspace_dir


def make_proxy(ws: Path, env: str, tmp_path: Path, **settings: float) -> tuple[EgressProxy, CollectorRegistry]:
    decider = EgressDecider(Workspace.load(ws), env=env)
    registry = CollectorRegistry()
    blocked: list[tuple[str, str]] = []
    proxy = EgressProxy(
        decider,
        ClientMap(decider.cfg.enforcement, {"TEST_EGRESS_PROXY_PW": "s3cret"}),
        ProxySettings(host="127.0.0.1", port=0, **settings),  # type: ignore[arg-type]
        resolver=static_resolver(NAMES, fallback=None),
        flow_log=FlowLog(tmp_path / "flows.jsonl"),
        metrics=EgressMetrics(registry),
        on_block=lambda ns, d, v: blocked.append((ns, d)),
    )
    proxy.blocked = blocked  # type: ignore[attr-defined]
    return proxy, registry


def test_staging_blocks_prod_logs_same_destination(ws: Path, tmp_path: Path) -> None:
    with upstream() as port:
        for env, expected in (("staging", 403), ("prod", 200)):
            proxy, registry = make_proxy(ws, env, tmp_path / env)
            with RunningProxy(proxy) as rp, httpx.Client(proxy=rp.url, timeout=10) as client:
                r = client.get(f"http://unlisted.test:{port}/x")
                assert r.status_code == expected, r.text
                if expected == 403:
                    assert "egress blocked" in r.text and "enforce mode in staging" in r.text
                    assert r.headers["x-egress-verdict"] == "block"
                    assert proxy.blocked == [("dev", "unlisted.test")]  # type: ignore[attr-defined]
                    assert (
                        registry.get_sample_value(
                            "intelsec_egress_blocks_total", {"category": "unknown", "namespace": "dev"}
                        )
                        == 1
                    )
                else:
                    assert r.text == f"upstream saw /x host=unlisted.test:{port}"
            lines = [json.loads(x) for x in (tmp_path / env / "flows.jsonl").read_text().splitlines()]
            assert lines[-1]["verdict"] == ("block" if env == "staging" else "log")
            assert lines[-1]["namespace"] == "dev" and lines[-1]["destination"] == "unlisted.test"


def test_allowed_http_and_connect_tunnel(ws: Path, tmp_path: Path) -> None:
    server_tls, client_tls = tls_material(tmp_path, "allowed.test")
    with upstream() as http_port, upstream(server_tls) as https_port:
        proxy, registry = make_proxy(ws, "staging", tmp_path)
        with RunningProxy(proxy) as rp, httpx.Client(proxy=rp.url, verify=client_tls, timeout=10) as client:
            r = client.get(f"http://allowed.test:{http_port}/plain?q=1")
            assert r.status_code == 200 and r.text.startswith("upstream saw /plain?q=1")
            assert r.headers["connection"] == "close"  # one request per proxied HTTP connection
            r = client.post(f"http://allowed.test:{http_port}/up", content=b"payload")
            assert r.text == "echo:payload"
            for i in range(3):  # several requests over one tunnel
                r = client.get(f"https://allowed.test:{https_port}/tls{i}")
                assert r.status_code == 200 and r.text.startswith(f"upstream saw /tls{i}")
            with pytest.raises(httpx.ProxyError):
                client.get(f"https://pastebin.com:{https_port}/")
        assert registry.get_sample_value("intelsec_egress_proxy_requests_total", {"outcome": "tunnel"}) >= 1
        assert registry.get_sample_value("intelsec_egress_proxy_requests_total", {"outcome": "forwarded"}) == 2
        assert (
            registry.get_sample_value("intelsec_egress_blocks_total", {"category": "paste-sites", "namespace": "dev"})
            == 1
        )
    stats = ReadStats()
    flows = list(read_flows([tmp_path / "flows.jsonl"], stats))
    assert stats.quarantined == [] and {f.dst_host for f in flows} == {"allowed.test", "pastebin.com"}


def _raw(port: int, payload: bytes, read_timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(payload)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def test_garbage_gets_400_and_proxy_keeps_serving(ws: Path, tmp_path: Path) -> None:
    with upstream() as port:
        proxy, _ = make_proxy(ws, "staging", tmp_path)
        with RunningProxy(proxy) as rp:
            assert _raw(rp.port, b"\x16\x03\x01garbage\r\n\r\n").startswith(b"HTTP/1.1 400")
            assert _raw(rp.port, b"GET /relative HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 400")
            assert _raw(rp.port, b"CONNECT nohostport HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400")
            assert _raw(rp.port, b"GET http://a.test/ HTTP/1.1\r\nBad Header\r\n\r\n").startswith(b"HTTP/1.1 400")
            assert _raw(rp.port, b"GET http://a.test/ HTTP/1.1\r\n" + b"X: " + b"a" * 70000 + b"\r\n\r\n").startswith(
                b"HTTP/1.1 431"
            )
            with httpx.Client(proxy=rp.url, timeout=10) as client:
                assert client.get(f"http://allowed.test:{port}/ok").status_code == 200
        assert proxy.outcomes["bad_request"] == 5


def test_proxy_authorization_identity(ws: Path, tmp_path: Path) -> None:
    with upstream() as port:
        proxy, _ = make_proxy(ws, "staging", tmp_path)
        with RunningProxy(proxy) as rp:
            good = httpx.Client(proxy=httpx.Proxy(rp.url, auth=("batch-job", "s3cret")), timeout=10)
            bad = httpx.Client(proxy=httpx.Proxy(rp.url, auth=("batch-job", "wrong")), timeout=10)
            with good, bad:
                # batch may reach vendor.test; the source-CIDR namespace (dev) may not
                assert good.get(f"http://vendor.test:{port}/").status_code == 200
                assert good.get(f"http://allowed.test:{port}/").status_code == 403
                r = bad.get(f"http://vendor.test:{port}/")
                assert r.status_code == 407 and "s3cret" not in r.text
            unknown = base64.b64encode(b"nobody:x").decode()
            raw = _raw(
                rp.port,
                f"GET http://vendor.test:{port}/ HTTP/1.1\r\nProxy-Authorization: Basic {unknown}\r\n\r\n".encode(),
            )
            assert raw.startswith(b"HTTP/1.1 407")


def test_limits_timeouts_upstream_errors_and_graceful_shutdown(ws: Path, tmp_path: Path) -> None:
    proxy, _ = make_proxy(ws, "prod", tmp_path, max_connections=1, header_timeout=0.5, connect_timeout=2)
    with RunningProxy(proxy) as rp:
        idle = socket.create_connection(("127.0.0.1", rp.port), timeout=10)
        time.sleep(0.1)
        assert _raw(rp.port, b"GET http://x.test/ HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 503")
        assert idle.recv(100).startswith(b"HTTP/1.1 408")  # header timeout frees the slot
        idle.close()
        time.sleep(0.1)
        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        assert _raw(rp.port, f"GET http://allowed.test:{dead}/ HTTP/1.1\r\n\r\n".encode()).startswith(b"HTTP/1.1 502")
        assert _raw(rp.port, b"GET http://nowhere.test/ HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 502")
        start = time.monotonic()
        rp.shutdown(grace=0.5)
        assert time.monotonic() - start < 10
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", rp.port), timeout=2).close()


def test_graceful_shutdown_lets_open_tunnel_finish(ws: Path, tmp_path: Path) -> None:
    with upstream() as port:
        proxy, _ = make_proxy(ws, "staging", tmp_path)
        with RunningProxy(proxy) as rp:
            s = socket.create_connection(("127.0.0.1", rp.port), timeout=10)
            s.sendall(f"CONNECT allowed.test:{port} HTTP/1.1\r\n\r\n".encode())
            assert s.recv(100).startswith(b"HTTP/1.1 200")
            import threading

            t = threading.Thread(target=rp.shutdown, kwargs={"grace": 5})
            t.start()
            time.sleep(0.2)
            s.sendall(b"GET /inflight HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n")
            body = b""
            while chunk := s.recv(65536):
                body += chunk
            assert b"upstream saw /inflight" in body
            s.close()
            t.join(15)
            assert not t.is_alive()


def test_exception_expiring_while_proxy_runs(ws: Path, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from intelsec.clock import FrozenClock

    (ws / "egress" / "exceptions.yaml").write_text(
        "exceptions:\n  - namespace: dev\n    destination: vendor.test\n    ticket: SEC-9\n    owner: erin\n"
        "    expires: 2026-06-01T13:00:00Z\n"
    )
    clock = FrozenClock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    decider = EgressDecider(Workspace.load(ws), env="staging", clock=clock)
    expired: list[str] = []
    registry = CollectorRegistry()
    proxy = EgressProxy(
        decider,
        ClientMap(decider.cfg.enforcement),
        ProxySettings(port=0),
        resolver=static_resolver(NAMES, fallback=None),
        metrics=EgressMetrics(registry),
        on_expired=lambda es: expired.extend(e.ticket for e in es),
    )
    assert registry.get_sample_value("intelsec_egress_exceptions_active", {"namespace": "dev"}) == 1
    with upstream() as port, RunningProxy(proxy) as rp, httpx.Client(proxy=rp.url, timeout=10) as client:
        r = client.get(f"http://vendor.test:{port}/")
        assert r.status_code == 200 and r.text.startswith("upstream saw")
        clock.advance(timedelta(hours=2))
        r = client.get(f"http://vendor.test:{port}/")
        assert r.status_code == 403 and "not approved for namespace dev" in r.text
    assert expired == ["SEC-9"]
    assert registry.get_sample_value("intelsec_egress_exceptions_expired") == 1


def test_address_spellings_cannot_dodge_a_cidr_category(ws: Path, tmp_path: Path) -> None:
    """Decimal, hex, IPv4-mapped and trailing-dot spellings resolve to the same address, so they are
    judged as that address: prod enforces anonymizers, whose CIDR holds 203.0.113.7."""
    cat = ws / "egress" / "categories" / "anonymizers.yaml"
    cat.write_text(cat.read_text().replace("cidrs: []", "cidrs: [203.0.113.0/24]"))
    proxy, _ = make_proxy(ws, "prod", tmp_path)
    with RunningProxy(proxy) as rp:
        for target in ("203.0.113.7", "3405803783", "0xcb.0.0x71.7", "[::ffff:203.0.113.7]", "torproject.org."):
            answer = _raw(rp.port, f"CONNECT {target}:443 HTTP/1.1\r\n\r\n".encode())
            assert answer.startswith(b"HTTP/1.1 403") and b"anonymizers" in answer, (target, answer[:200])
    assert proxy.outcomes["blocked"] == 5


def test_bare_line_feed_in_head_is_refused_not_forwarded(ws: Path, tmp_path: Path) -> None:
    with upstream() as port:
        proxy, _ = make_proxy(ws, "staging", tmp_path)
        with RunningProxy(proxy) as rp:
            smuggle = f"GET http://allowed.test:{port}/ HTTP/1.1\r\nX-A: 1\nHost: other\r\n\r\n".encode()
            assert _raw(rp.port, smuggle).startswith(b"HTTP/1.1 400")
            assert _raw(rp.port, f"GET http://allowed.test:{port}/ HTTP/1.1\nX: y\r\n\r\n".encode()).startswith(
                b"HTTP/1.1 400"
            )


def test_identity_without_password_is_refused_at_load(ws: Path) -> None:
    from intelsec.errors import ConfigError

    enf = ws / "egress" / "enforcement.yaml"
    enf.write_text(enf.read_text().replace("    password_env: TEST_EGRESS_PROXY_PW\n", "\n"))
    with pytest.raises(ConfigError, match="password_env"):
        EgressDecider(Workspace.load(ws), env="prod")


def test_unset_password_variable_never_authenticates(ws: Path) -> None:
    decider = EgressDecider(Workspace.load(ws), env="prod")
    clients = ClientMap(decider.cfg.enforcement, {})
    for password in ("", "anything"):
        token = base64.b64encode(f"batch-job:{password}".encode()).decode()
        with pytest.raises(BadRequest):
            clients.identify("127.0.0.1", f"Basic {token}")


def test_plain_http_host_header_is_the_judged_destination(ws: Path, tmp_path: Path) -> None:
    """A Host naming another site behind the same front end would bypass the decision: it is replaced."""
    with upstream() as port:
        proxy, _ = make_proxy(ws, "staging", tmp_path)
        with RunningProxy(proxy) as rp:
            raw = _raw(
                rp.port,
                f"GET http://allowed.test:{port}/p HTTP/1.1\r\nHost: pastebin.com\r\nHost: other\r\n\r\n".encode(),
            )
    assert raw.startswith(b"HTTP/1.1 200") and raw.endswith(f"upstream saw /p host=allowed.test:{port}".encode())


def test_block_alert_throttle_per_destination_and_in_all() -> None:
    from intelsec.egress.alerting import BlockThrottle

    now = [0.0]
    t = BlockThrottle(limit=3, window=60, clock=lambda: now[0])
    assert t.allow("dev", "a.io") and not t.allow("dev", "a.io") and t.allow("web", "a.io")
    assert [t.allow("dev", f"r{i}.evil.io") for i in range(5)] == [True, False, False, False, False]
    now[0] = 61.0
    assert t.allow("dev", "a.io") and t.allow("dev", "r4.evil.io")
    for i in range(1000):  # memory stays bounded while names keep changing
        now[0] += 30
        t.allow("dev", f"n{i}.evil.io")
    assert len(t._last) <= 2 * t.limit + 1
