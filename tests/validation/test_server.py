"""The control plane runs due scenarios on its own schedule and exposes validation metrics and API
(real uvicorn on 127.0.0.1, real HTTP)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from intelsec.config import Workspace
from intelsec.server.app import create_app
from intelsec.store.db import Database, upgrade
from tests.liveserver import serve

TOKEN = "validate-token-for-tests-0123456789"


def test_scheduler_metrics_console_and_kill_api(workspace_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTELSEC_TEST_VALIDATE_TOKEN", TOKEN)
    cfg = workspace_dir / "intelsec.yaml"
    cfg.write_text(cfg.read_text() + "\nvalidation:\n  scheduler: true\n  scheduler_interval_seconds: 1\n"
                   "api_tokens:\n  - name: ci\n    token_env: INTELSEC_TEST_VALIDATE_TOKEN\n"
                   "    scopes: [read, validate]\n")
    ws = Workspace.load(workspace_dir)
    url = ws.database_url()
    upgrade(url)
    db = Database(url)
    app = create_app(ws, db)
    n = len(list((workspace_dir / "validation" / "scenarios").glob("*.yaml")))
    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as c:
        deadline = time.monotonic() + 90
        while len(c.get("/api/v1/validation/runs").json()["runs"]) < n:
            assert time.monotonic() < deadline, "scheduler did not run the due scenarios"
            time.sleep(0.5)
        time.sleep(1.5)  # another tick: nothing is due any more, so no new runs
        runs = c.get("/api/v1/validation/runs").json()["runs"]
        assert len(runs) == n and {r["status"] for r in runs} == {"passed"}
        scen = c.get("/api/v1/validation/scenarios").json()["scenarios"]
        assert not any(s["due"] for s in scen)
        metrics = c.get("/metrics").text
        assert f'intelsec_validation_runs{{outcome="passed"}} {float(n)}' in metrics
        assert "intelsec_validation_pass_rate 1.0" in metrics
        assert "pass rate (30d)" in c.get("/").text
        assert c.post("/api/v1/validation/kill", json={"reason": "x"}).status_code == 401
        bad = c.post("/api/v1/validation/kill", json={}, headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401
        ok = c.post("/api/v1/validation/kill", json={"reason": "freeze"}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.json()["kill_switch"]["engaged"] is True
        assert "intelsec_validation_kill_switch 1.0" in c.get("/metrics").text
        ran = c.post("/api/v1/validation/run", json={"scenarios": ["kube_exec"]},
                     headers={"Authorization": f"Bearer {TOKEN}"}).json()["runs"]
        assert ran[0]["status"] == "aborted"
        assert c.post("/api/v1/validation/run", json={"scenarios": ["nope"]},
                      headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
    db.dispose()
