"""`intelsec deception test`: every template asset triggered for real and its test alert confirmed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from intelsec.clock import SystemClock
from intelsec.deception.client import BackgroundBeacons, BeaconClient
from intelsec.deception.middleware import install_canaries, load_canaries
from intelsec.server.app import create_app
from intelsec.store.models import Alert
from tests.deception.conftest import Deployed, _deploy
from tests.deception.helpers import invoke, serve
from tests.deception.test_middleware import payments_app
from tests.pgserver import PostgresServer


@pytest.fixture
def live(workspace_dir: Path) -> Iterator[Deployed]:
    assets = workspace_dir / "deception" / "assets.yaml"
    assets.write_text(assets.read_text().replace("role: svc_backup_admin", f"role: svc_t_{uuid.uuid4().hex[:8]}"))
    d = _deploy(workspace_dir, f"sqlite:///{workspace_dir / '.intelsec' / 'state.db'}", SystemClock())
    yield d
    d.db.dispose()


def test_every_template_asset_verified_end_to_end(live: Deployed, pg_server: PostgresServer, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    w = str(live.ws.root)
    dsn = pg_server.url("postgres")
    assert invoke(capsys, "deception", "honey-users", "sync", "--dsn", dsn, "-w", w).code == 0
    with serve(create_app(live.ws, live.db, run_dispatcher=False)) as plane:
        export = tmp_path / "canaries.json"
        assert invoke(capsys, "deception", "export", "--service", "payments", "-o", str(export),
                      "--control-plane", plane, "-w", w).code == 0
        cfg = load_canaries(export)
        app = payments_app()
        sender = BackgroundBeacons(BeaconClient(plane))
        install_canaries(app, cfg.canaries, sender)
        with serve(app) as svc:
            res = invoke(capsys, "deception", "test", "--control-plane", plane, "--service-url", f"payments={svc}",
                         "--dsn", dsn, "--pg-log", str(pg_server.json_log()), "-f", "json", "-w", w)
        sender.close()
    results = json.loads(res.out)["results"]
    assert res.code == 0, results
    assert len(results) == 7 and all(r["ok"] for r in results)
    assert {r["kind"] for r in results} == {"canary_route", "canary_url", "honey_db_user", "aws_key", "api_token"}
    assert {r["via"] for r in results} == {"service", "canary_url", "pg_log", "cloudtrail", "log"}
    with live.db.session() as s:
        alerts = s.query(Alert).filter(Alert.source == "deception").all()
        assert len(alerts) == 7 and all(a.test for a in alerts)
    # test alerts are not incidents: MTTA and noise ignore them; status shows every asset healthy
    assert live.alerts.mtta(source="deception").unacked == 0
    status = json.loads(invoke(capsys, "deception", "status", "-f", "json", "-w", w).out)["assets"]
    assert {r["health"] for r in status} == {"ok"} and all(r["alerts_7d"] == 0 for r in status)


def test_failed_verification_is_reported(live: Deployed, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(live.ws.root)
    res = invoke(capsys, "deception", "test", "honey-db-backup-admin", "payments-v1-debug-vars", "ghost",
                 "--control-plane", "http://127.0.0.1:9", "--timeout", "1", "-f", "json", "-w", w)
    assert res.code == 1
    by = {r["asset"]: r for r in json.loads(res.out)["results"]}
    assert "needs --dsn" in by["honey-db-backup-admin"]["detail"]
    assert not by["payments-v1-debug-vars"]["ok"] and by["ghost"]["detail"] == "no such active asset"
    status = json.loads(invoke(capsys, "deception", "status", "-f", "json", "-w", w).out)["assets"]
    assert {r["id"]: r["health"] for r in status}["payments-v1-debug-vars"] == "test-failed"
