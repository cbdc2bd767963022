"""Canary routes in a real FastAPI service and in the decoy server, beacons to a real control plane."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from intelsec.deception.client import BackgroundBeacons, BeaconClient
from intelsec.deception.decoy import canaries_from_registry, decoy_app
from intelsec.deception.honeytokens import make_test_token
from intelsec.deception.middleware import Canary, install_canaries, load_canaries
from intelsec.errors import ConfigError
from intelsec.server.app import create_app
from intelsec.store.models import Alert
from tests.deception.conftest import Deployed
from tests.deception.helpers import invoke, serve, wait_for


def payments_app() -> FastAPI:
    app = FastAPI()

    @app.get("/v2/settlements")
    def settlements() -> dict[str, list[int]]:
        return {"items": []}

    @app.get("/v2/users/{user_id}")
    def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    return app


@pytest.fixture
def plane(deployed: Deployed) -> Iterator[str]:
    with serve(create_app(deployed.ws, deployed.db, run_dispatcher=False)) as url:
        yield url


def _alerts(d: Deployed, asset: str) -> list[Alert]:
    with d.db.session() as s:
        return list(s.query(Alert).filter(Alert.entity == asset).all())


def _comparable(resp: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted((k, v) for k, v in resp.headers.items() if k not in ("date",))
    return resp.status_code, headers, resp.content


def test_canary_is_indistinguishable_from_a_real_404(deployed: Deployed, plane: str, tmp_path: object,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = f"{tmp_path}/canaries.json"
    assert invoke(capsys, "deception", "export", "--service", "payments", "-o", out, "--control-plane", plane,
                  "-w", str(deployed.ws.root)).code == 0
    cfg = load_canaries(out)
    assert len(cfg.canaries) == 3 and cfg.control_plane_url == plane
    app = payments_app()
    sender = BackgroundBeacons(BeaconClient(cfg.control_plane_url))
    install_canaries(app, cfg.canaries, sender)
    try:
        with serve(app) as svc:
            canary = httpx.get(svc + "/v2/export/settlements", headers={"user-agent": "sqlmap/1.7"})
            missing = httpx.get(svc + "/v2/export/settlement", headers={"user-agent": "sqlmap/1.7"})
            assert _comparable(canary) == _comparable(missing)
            assert canary.status_code == 404 and canary.json() == {"detail": "Not Found"}
            post = httpx.post(svc + "/internal/admin/backup.sql")
            assert _comparable(post) == _comparable(httpx.post(svc + "/internal/admin/backup.sqlx"))
            assert httpx.get(svc + "/v2/settlements").json() == {"items": []}  # real routes unaffected
            sender.flush()
            alerts = wait_for(lambda: _alerts(deployed, "payments-v2-export-settlements"))
            assert len(alerts) == 1 and alerts[0].evidence["user_agent"] == "sqlmap/1.7"
            assert alerts[0].evidence["channel"] == "middleware" and alerts[0].test is False
            backup = wait_for(lambda: _alerts(deployed, "payments-internal-admin-backup-sql"))
            assert backup[0].evidence["method"] == "POST"
            assert _alerts(deployed, "payments-v1-debug-vars") == []
            key = next(c.key for c in cfg.canaries if c.asset_id == "payments-v1-debug-vars")
            httpx.get(svc + "/v1/debug/vars",
                      headers={"x-intelsec-test": make_test_token(key, "payments-v1-debug-vars", int(time.time()))})
            sender.flush()
            assert wait_for(lambda: _alerts(deployed, "payments-v1-debug-vars"))[0].test is True
    finally:
        sender.close()
    assert (sender.failed, sender.dropped, sender.sent) == (0, 0, 3)


def test_canary_colliding_with_real_route_is_refused() -> None:
    app = payments_app()
    canaries = [Canary("ok", "/v2/export/settlements"), Canary("bad", "/v2/users/42", method="DELETE")]
    with pytest.raises(ConfigError, match=r"canary DELETE /v2/users/42 \(bad\) collides with real route "
                                          r"/v2/users/\{user_id\}"):
        install_canaries(app, canaries, BeaconClient("http://127.0.0.1:9"))


def test_non_404_decoy_response(deployed: Deployed) -> None:
    sent: list[tuple[str, dict[str, object]]] = []

    class Recorder:
        def submit(self, asset_id: str, key: str, fields: dict[str, object]) -> None:
            sent.append((asset_id, fields))

    app = payments_app()
    install_canaries(app, [Canary("admin", "/admin", response=401, key="k" * 64)], Recorder())
    with serve(app) as svc:
        resp = httpx.get(svc + "/admin")
    assert resp.status_code == 401 and resp.json() == {"detail": "Unauthorized"}
    assert sent[0][0] == "admin" and sent[0][1]["path"] == "/admin"


def test_decoy_server_fires_beacons_and_answers_404(deployed: Deployed, plane: str) -> None:
    canaries = canaries_from_registry(deployed.registry, deployed.cfg.routes("payments"))
    sender = BackgroundBeacons(BeaconClient(plane))
    try:
        with serve(decoy_app(canaries, sender)) as decoy:
            hit = httpx.get(decoy + "/internal/admin/backup.sql", headers={"x-forwarded-for": "203.0.113.80, 10.0.0.1"})
            other = httpx.get(decoy + "/robots.txt")
            assert hit.status_code == other.status_code == 404 and hit.content == other.content
            sender.flush()
            alerts = wait_for(lambda: _alerts(deployed, "payments-internal-admin-backup-sql"))
            assert alerts[0].evidence["source_ip"] == "203.0.113.80"  # behind a gateway
    finally:
        sender.close()


def test_unreachable_control_plane_never_slows_the_service() -> None:
    app = payments_app()
    sender = BackgroundBeacons(BeaconClient("http://127.0.0.1:9", timeout=0.5), retries=0)
    install_canaries(app, [Canary("c", "/canary", key="k" * 64)], sender)
    with serve(app) as svc:
        start = time.monotonic()
        assert httpx.get(svc + "/canary").status_code == 404
        assert time.monotonic() - start < 2.0  # generous: the beacon is sent from a background thread
    sender.close()
    assert sender.failed == 1
