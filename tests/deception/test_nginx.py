"""Canary routes behind Debian's nginx + libnginx-mod-http-lua, beaconing to a real control plane."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from intelsec.deception.decoy import canaries_from_registry
from intelsec.deception.honeytokens import make_test_token
from intelsec.deception.middleware import Canary
from intelsec.deception.nginx import server_snippet, write_bundle
from intelsec.server.app import create_app
from intelsec.store.models import Alert
from tests.deception.conftest import Deployed
from tests.deception.helpers import free_port, serve, wait_for
from tests.deception.test_middleware import payments_app

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
MODULES = Path("/usr/lib/nginx/modules")
pytestmark = pytest.mark.skipif(NGINX is None or not (MODULES / "ngx_http_lua_module.so").exists(),
                                reason="nginx with libnginx-mod-http-lua is not installed")


@contextmanager
def nginx(prefix: Path, bundle: Path, upstream: str) -> Iterator[str]:
    """Run nginx in the foreground-less prefix layout, all paths under `prefix`."""
    port = free_port()
    for d in ("logs", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (prefix / d).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
load_module {MODULES}/ndk_http_module.so;
load_module {MODULES}/ngx_http_lua_module.so;
daemon on;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {bundle}/intelsec-beacon-http.conf;
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass {upstream}; }}
        include {bundle}/intelsec-canaries.conf;
    }}
}}
""")
    base = [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs" / "error.log")]
    subprocess.run([*base, "-t"], check=True, capture_output=True, timeout=30)
    subprocess.run(base, check=True, capture_output=True, timeout=30)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _up(url), timeout=10)
        yield url
    finally:
        subprocess.run([*base, "-s", "quit"], capture_output=True, timeout=30)
        pid = prefix / "nginx.pid"
        deadline = time.monotonic() + 10
        while pid.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


def _up(url: str) -> bool:
    try:
        httpx.get(url + "/healthz-probe", timeout=1)
        return True
    except httpx.HTTPError:
        return False


def _alerts(d: Deployed, asset: str) -> list[Alert]:
    with d.db.session() as s:
        return list(s.query(Alert).filter(Alert.entity == asset).all())


def test_nginx_lua_beacon_end_to_end(deployed: Deployed, tmp_path: Path) -> None:
    canaries = canaries_from_registry(deployed.registry, deployed.cfg.routes("payments"))
    with serve(create_app(deployed.ws, deployed.db, run_dispatcher=False)) as plane, serve(payments_app()) as up:
        bundle = tmp_path / "bundle"
        write_bundle(bundle, plane, canaries, upstream=up)
        assert (bundle / "intelsec-beacon-http.conf").stat().st_mode & 0o077 == 0
        with nginx(tmp_path / "nginx", bundle, up) as gw:
            canary = httpx.get(gw + "/v2/export/settlements", headers={"user-agent": "nuclei/3"})
            missing = httpx.get(gw + "/v2/export/settlementz", headers={"user-agent": "nuclei/3"})
            assert canary.status_code == missing.status_code == 404
            assert canary.content == missing.content
            assert sorted(k for k in canary.headers if k != "date") == sorted(k for k in missing.headers if k != "date")
            assert httpx.get(gw + "/v2/settlements").json() == {"items": []}
            alerts = wait_for(lambda: _alerts(deployed, "payments-v2-export-settlements"), timeout=10)
            assert len(alerts) == 1, (tmp_path / "nginx/logs/error.log").read_text()
            ev = alerts[0].evidence
            assert (ev["channel"], ev["source_ip"], ev["user_agent"], ev["path"]) == (
                "nginx", "127.0.0.1", "nuclei/3", "/v2/export/settlements")
            assert alerts[0].test is False
            key = next(c.key for c in canaries if c.asset_id == "payments-v1-debug-vars")
            token = make_test_token(key, "payments-v1-debug-vars", int(time.time()))
            httpx.get(gw + "/v1/debug/vars", headers={"x-intelsec-test": token, "user-agent": 'odd "ua" \\ é'.encode()})
            tested = wait_for(lambda: _alerts(deployed, "payments-v1-debug-vars"), timeout=10)
            assert tested and tested[0].test is True and tested[0].evidence["user_agent"].startswith('odd "ua"')


def test_nginx_beacon_with_wrong_key_is_rejected(deployed: Deployed, tmp_path: Path) -> None:
    wrong = [Canary("payments-v2-export-settlements", "/v2/export/settlements", key="0" * 64)]
    with serve(create_app(deployed.ws, deployed.db, run_dispatcher=False)) as plane, serve(payments_app()) as up:
        bundle = tmp_path / "bundle"
        write_bundle(bundle, plane, wrong, upstream=up)
        with nginx(tmp_path / "nginx", bundle, up) as gw:
            assert httpx.get(gw + "/v2/export/settlements").status_code == 404
            log = tmp_path / "nginx/logs/error.log"
            assert wait_for(lambda: "not accepted" in log.read_text(), timeout=10)
            assert "401" in log.read_text()
    assert _alerts(deployed, "payments-v2-export-settlements") == []


def test_unsafe_route_refused() -> None:
    with pytest.raises(ValueError, match="cannot be used as an nginx location"):
        server_snippet([Canary("x", "/a b;")])
