"""The `deception serve` and `deception nginx-config` commands as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from intelsec.server.app import create_app
from intelsec.store.models import Alert
from tests.deception.conftest import Deployed
from tests.deception.helpers import free_port, invoke, serve, wait_for


def test_serve_command_hosts_decoys(deployed: Deployed) -> None:
    with serve(create_app(deployed.ws, deployed.db, run_dispatcher=False)) as plane:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "intelsec", "deception", "serve", "--port", str(port), "--service", "payments",
             "--control-plane", plane, "-w", str(deployed.ws.root)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            url = f"http://127.0.0.1:{port}"
            up = wait_for(lambda: _get(url + "/healthz"), timeout=30)
            assert up is not None and up.status_code == 404, proc.stderr.read1().decode() if proc.stderr else ""
            hit = httpx.get(url + "/v2/export/settlements", headers={"user-agent": "gobuster/3.6"})
            assert hit.status_code == 404 and hit.content == up.content

            def alerted() -> list[Alert]:
                with deployed.db.session() as s:
                    return list(s.query(Alert).filter(Alert.entity == "payments-v2-export-settlements").all())

            alerts = wait_for(alerted, timeout=10)
            assert alerts and alerts[0].evidence["channel"] == "middleware"
            assert alerts[0].evidence["user_agent"] == "gobuster/3.6"
        finally:
            proc.terminate()
            proc.wait(15)


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=1)
    except httpx.HTTPError:
        time.sleep(0.1)
        return None


def test_nginx_config_command(deployed: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(deployed.ws.root)
    out = tmp_path / "nginx"
    res = invoke(capsys, "deception", "nginx-config", "--service", "payments", "--upstream", "http://payments",
                 "-o", str(out), "-w", w)
    assert res.code == 0, res.err
    server = (out / "intelsec-canaries.conf").read_text()
    assert server.count("location = ") == 3 and "proxy_pass http://payments;" in server
    http = out / "intelsec-beacon-http.conf"
    assert http.stat().st_mode & 0o777 == 0o600
    assert deployed.registry.current("payments-v1-debug-vars").key in http.read_text()
    assert (out / "service_beacon.lua").read_text().startswith("-- service_beacon.lua")
    bad = invoke(capsys, "deception", "nginx-config", "-o", str(out), "--control-plane", "https://cp", "-w", w)
    assert bad.code == 2 and "plain http" in bad.err
