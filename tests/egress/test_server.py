"""Egress in the control plane: compliance view, decisions API, metrics, and the in-process proxy."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from intelsec.config import Workspace
from intelsec.server.app import create_app
from intelsec.store.db import Database, upgrade
from tests.liveserver import free_port, serve


def test_control_plane_egress(workspace_dir: Path) -> None:
    port = free_port()
    cfg = workspace_dir / "intelsec.yaml"
    cfg.write_text(cfg.read_text() + f"egress:\n  proxy:\n    listen: 127.0.0.1:{port}\n    env: staging\n")
    (workspace_dir / "egress" / "exceptions.yaml").write_text(
        "exceptions:\n  - namespace: prod\n    destination: old.vendor.io\n    ticket: SEC-1\n    owner: o\n"
        "    expires: 2020-01-01\n"
    )
    ws = Workspace.load(workspace_dir)
    url = ws.database_url()
    upgrade(url)
    db = Database(url)
    app = create_app(ws, db, run_dispatcher=False)
    with serve(app) as base:
        c = httpx.get(f"{base}/api/v1/egress/compliance", params={"env": "prod"}, timeout=10).json()
        prod = next(n for n in c["namespaces"] if n["namespace"] == "prod")
        assert prod["mode"] == "audit" and prod["allowlist_entries"] == 2 and prod["exceptions_expired"] == 1
        paste = next(x for x in c["categories"] if x["name"] == "paste-sites")
        assert paste["mode"] == "enforce" and paste["risk"] == "high"
        assert httpx.get(f"{base}/api/v1/egress/compliance", params={"env": "qa"}, timeout=10).status_code == 400
        r = httpx.post(
            f"{base}/api/v1/egress/decide",
            json={"namespace": "dev", "host": "pastebin.com", "port": 443, "env": "prod"},
            timeout=10,
        ).json()
        assert r["verdict"] == "block" and r["category"] == "paste-sites"
        r = httpx.post(
            f"{base}/api/v1/egress/decide", json={"namespace": "dev", "host": "x.io", "env": "prod"}, timeout=10
        ).json()
        assert r["verdict"] == "log"
        assert httpx.post(f"{base}/api/v1/egress/decide", json={"namespace": "dev"}, timeout=10).status_code == 422
        # the proxy started by the control plane (staging: block non-approved)
        with httpx.Client(proxy=f"http://127.0.0.1:{port}", timeout=10) as client:
            r = client.get("http://x.io/")
        assert r.status_code == 403 and "enforce mode in staging" in r.text
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
        assert 'intelsec_egress_decisions_total{category="paste-sites",source="api",verdict="block"} 1.0' in metrics
        assert 'intelsec_egress_blocks_total{category="unknown",namespace="unknown"} 1.0' in metrics
        assert "intelsec_egress_exceptions_expired 1.0" in metrics
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rules = {
                a["rule"]
                for a in httpx.get(f"{base}/api/v1/alerts", params={"source": "egress"}, timeout=10).json()["alerts"]
            }
            if {"egress.blocked", "egress.exception_ttl_breach"} <= rules:
                break
            time.sleep(0.2)
        assert {"egress.blocked", "egress.exception_ttl_breach"} <= rules
    with pytest.raises(httpx.TransportError):
        httpx.get("http://x.io/", proxy=f"http://127.0.0.1:{port}", timeout=3)
    db.dispose()


def test_exception_expiring_under_the_decide_api_stops_applying_and_alerts(workspace_dir: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from intelsec.clock import FrozenClock

    (workspace_dir / "egress" / "exceptions.yaml").write_text(
        "exceptions:\n  - namespace: dev\n    destination: new.vendor.io\n    ticket: SEC-7\n    owner: o\n"
        "    expires: 2026-06-01T13:00:00Z\n"
    )
    clock = FrozenClock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    ws = Workspace.load(workspace_dir)
    upgrade(ws.database_url())
    db = Database(ws.database_url())
    ask = {"namespace": "dev", "host": "new.vendor.io", "env": "staging"}
    with serve(create_app(ws, db, clock=clock, run_dispatcher=False)) as base:
        r = httpx.post(f"{base}/api/v1/egress/decide", json=ask, timeout=10).json()
        assert r["verdict"] == "allow" and r["exception"]
        clock.advance(timedelta(hours=2))
        r = httpx.post(f"{base}/api/v1/egress/decide", json=ask, timeout=10).json()
        assert r["verdict"] == "block" and r["exception"] is None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alerts = httpx.get(f"{base}/api/v1/alerts", params={"source": "egress"}, timeout=10).json()["alerts"]
            if any(a["rule"] == "egress.exception_ttl_breach" for a in alerts):
                break
            time.sleep(0.2)
        breaches = [a["entity"] for a in alerts if a["rule"] == "egress.exception_ttl_breach"]
        assert breaches == ["SEC-7:dev:new.vendor.io"]
        assert "intelsec_egress_exceptions_expired 1.0" in httpx.get(f"{base}/metrics", timeout=10).text
    db.dispose()


def test_proxy_block_alerts_are_throttled(workspace_dir: Path) -> None:
    """A client hammering random names in staging: every block is counted, alerts stop at the cap."""
    port = free_port()
    cfg = workspace_dir / "intelsec.yaml"
    cfg.write_text(cfg.read_text() + f"egress:\n  proxy:\n    listen: 127.0.0.1:{port}\n    env: staging\n")
    ws = Workspace.load(workspace_dir)
    upgrade(ws.database_url())
    db = Database(ws.database_url())
    with serve(create_app(ws, db, run_dispatcher=False)) as base:
        with httpx.Client(proxy=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert {client.get(f"http://h{i}.example.net/").status_code for i in range(45)} == {403}

        def blocked() -> int:
            alerts = httpx.get(f"{base}/api/v1/alerts", params={"source": "egress"}, timeout=10).json()["alerts"]
            return sum(a["rule"] == "egress.blocked" for a in alerts)

        deadline = time.monotonic() + 10
        while blocked() < 30 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        assert blocked() == 30
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
        assert 'intelsec_egress_blocks_total{category="unknown",namespace="unknown"} 45.0' in metrics
    db.dispose()
