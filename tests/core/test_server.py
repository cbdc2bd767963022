"""The control plane served by real uvicorn on 127.0.0.1, queried by real HTTP and OPA clients."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opa_client.opa import OpaClient

from intelsec.alerts.models import AlertIn
from intelsec.config import Workspace
from intelsec.server.app import create_app
from intelsec.store.db import Database, upgrade
from tests.liveserver import serve


@pytest.fixture
def live(workspace_dir: Path, db_url: str) -> Iterator[tuple[str, object]]:
    upgrade(db_url)
    db = Database(db_url)
    app = create_app(Workspace.load(workspace_dir), db)
    with serve(app) as base:
        yield base, app
    db.dispose()


def test_health_ready_and_metrics(live: tuple[str, object]) -> None:
    base, app = live
    ctx = app.state.ctx  # type: ignore[attr-defined]
    ctx.alerts.raise_alert(AlertIn(rule="r", source="egress", severity="critical", summary="blocked"))
    with httpx.Client(base_url=base, timeout=10) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz").json()
        assert ready["status"] == "ready" and len(ready["policy_digest"]) == 64
        text = c.get("/metrics").text
    assert 'intelsec_alerts{severity="critical",status="new"} 1.0' in text
    assert "intelsec_dispatcher_backlog" in text


def test_alerts_api_list_and_ack(live: tuple[str, object]) -> None:
    base, app = live
    alert = app.state.ctx.alerts.raise_alert(  # type: ignore[attr-defined]
        AlertIn(rule="canary", source="deception", summary="touch")).alert
    with httpx.Client(base_url=base, timeout=10) as c:
        listed = c.get("/api/v1/alerts").json()["alerts"]
        assert [a["id"] for a in listed] == [alert.id]
        acked = c.post(f"/api/v1/alerts/{alert.id}/ack", json={"by": "oncall"}).json()
        assert acked["status"] == "acked" and acked["acked_by"] == "oncall"
        assert c.post("/api/v1/alerts/nope/ack").status_code == 404


def test_console_shows_six_areas_with_empty_states(live: tuple[str, object]) -> None:
    base, _ = live
    html = httpx.get(base + "/", timeout=10).text
    for area in ("identity", "deception", "egress", "sbom", "validation", "privacy"):
        assert f'id="area-{area}"' in html
    # nothing has run yet: cards without counted data show the empty state with a next step
    for area in ("identity", "deception", "sbom", "validation", "privacy"):
        card = html.split(f'id="area-{area}"', 1)[1].split("</section>", 1)[0]
        assert "No data yet. Get started:" in card, area
    assert "No alerts yet" in html


def test_opa_client_uses_intelsec_as_decision_point(live: tuple[str, object]) -> None:
    base, _ = live
    port = int(base.rsplit(":", 1)[1])
    client = OpaClient(host="127.0.0.1", port=port, timeout=10)
    try:
        assert client.check_connection()
        denied = client.query_rule({"ns": "dev", "dest": {"host": "x.io", "category": "unknown"}}, "egress", "deny")
        assert denied == {"result": ["Egress to unknown dest x.io"]}
        allowed = client.query_rule({"peer": {"svid": {"trust_domain": "example.com"}}}, "identity", "allow")
        assert allowed == {"result": True}
        undefined = client.query_rule({}, "nosuch", "rule")
        assert undefined == {}
    finally:
        client.close_connection()


def test_opa_data_api_rejects_non_object_body(live: tuple[str, object]) -> None:
    base, _ = live
    r = httpx.post(base + "/v1/data/egress/deny", content=b"[1,2]", timeout=10)
    assert r.status_code == 400


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "intelsec", *args], capture_output=True, text=True, timeout=60)


def test_up_refuses_port_in_use(workspace_dir: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = _cli("up", "-w", str(workspace_dir), "--port", str(port))
    assert res.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in res.stderr
    assert "Traceback" not in res.stderr


def test_up_reports_unreachable_database(workspace_dir: Path) -> None:
    res = _cli("up", "-w", str(workspace_dir), "--port", str(_free_port()), "--database", "postgresql://u:hunter2@127.0.0.1:1/db")
    assert res.returncode == 2
    assert "unreachable" in res.stderr and "hunter2" not in res.stderr and "Traceback" not in res.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_metrics_expose_runs_and_alert_rules(live: tuple[str, object]) -> None:
    from intelsec.store.runs import record_run

    base, app = live
    ctx = app.state.ctx  # type: ignore[attr-defined]
    record_run(ctx.db, "sbom.fix", "ok", {"prs_created": 2, "prs_open": 5})
    record_run(ctx.db, "sbom.fix", "ok", {"prs_created": 1, "prs_open": 3})
    record_run(ctx.db, "privacy.tokenize", "ok", {"fields_tokenized": 1200, "records": 400})
    for _ in range(3):
        ctx.alerts.raise_alert(AlertIn(rule="egress.drift.policy_count", source="egress", summary="drift"))
    ctx.alerts.raise_alert(AlertIn(rule="probe", source="egress", summary="test only", test=True))
    text = httpx.get(base + "/metrics", timeout=10).text
    assert 'intelsec_runs{kind="sbom.fix",status="ok"} 2.0' in text
    assert 'intelsec_run_summary_total{field="prs_created",kind="sbom.fix"} 3.0' in text
    assert 'intelsec_run_summary_last{field="prs_open",kind="sbom.fix"} 3.0' in text
    assert 'intelsec_run_summary_total{field="fields_tokenized",kind="privacy.tokenize"} 1200.0' in text
    assert 'intelsec_alert_events_total{rule="egress.drift.policy_count",source="egress"} 3.0' in text
    assert 'rule="probe"' not in text


def test_alerts_api_requires_tokens_once_configured(workspace_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = workspace_dir / "intelsec.yaml"
    cfg.write_text(cfg.read_text() + "api_tokens:\n  - {name: viewer, token_env: T_VIEW, scopes: [read]}\n"
                   "  - {name: oncall, token_env: T_ONCALL, scopes: [read, ack]}\n")
    monkeypatch.setenv("T_VIEW", "view-secret")
    monkeypatch.setenv("T_ONCALL", "oncall-secret")
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    upgrade(url)
    db = Database(url)
    app = create_app(Workspace.load(workspace_dir), db, run_dispatcher=False)
    alert = app.state.ctx.alerts.raise_alert(AlertIn(rule="r", source="egress", summary="s")).alert
    try:
        with serve(app) as base, httpx.Client(base_url=base, timeout=10) as c:
            assert c.get("/api/v1/alerts").status_code == 401
            assert c.get("/api/v1/alerts", headers={"Authorization": "Bearer nope"}).status_code == 401
            viewer = {"Authorization": "Bearer view-secret"}
            assert c.get("/api/v1/alerts", headers=viewer).json()["alerts"][0]["id"] == alert.id
            assert c.post(f"/api/v1/alerts/{alert.id}/ack", headers=viewer).status_code == 403
            r = c.post(f"/api/v1/alerts/{alert.id}/ack", headers={"Authorization": "Bearer oncall-secret"})
            assert r.status_code == 200 and r.json()["acked_by"] == "oncall"
    finally:
        db.dispose()
