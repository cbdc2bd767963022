"""At-least-once delivery across a crash: a dispatcher killed mid-delivery loses nothing.

A real HTTP receiver on 127.0.0.1 holds the first webhook request open; the dispatcher (the real
`intelsec alerts dispatch` process) is killed with SIGKILL while waiting; a new dispatcher delivers
the alert, with the same Idempotency-Key, once the receiver answers again.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from intelsec.alerts.factory import alert_service
from intelsec.alerts.models import AlertIn
from intelsec.config import Workspace
from intelsec.store.db import Database, upgrade
from intelsec.store.models import AlertDelivery


class Receiver:
    def __init__(self) -> None:
        self.hang = True
        self.release = threading.Event()
        self.first_request = threading.Event()
        self.delivered: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers.get("Idempotency-Key")
                if receiver.hang:
                    receiver.first_request.set()
                    receiver.release.wait(30)
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.delivered.append({"key": key, "alert": body})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _dispatcher(ws: Path, url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "intelsec", "alerts", "dispatch", "-w", str(ws), "--database", url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait(cond: Any, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_alert_survives_dispatcher_killed_mid_delivery(workspace_dir: Path, db_url: str) -> None:
    receiver = Receiver()
    cfg_path = workspace_dir / "intelsec.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["alerts"]["sinks"] = [{"type": "webhook", "name": "soar", "url": f"http://127.0.0.1:{receiver.port}/hook",
                               "timeout_seconds": 30}]
    cfg["alerts"]["dispatcher"] = {"lease_seconds": 1, "poll_interval_seconds": 0.1, "backoff_base_seconds": 0.1}
    cfg_path.write_text(yaml.safe_dump(cfg))
    ws = Workspace.load(workspace_dir)
    upgrade(db_url)
    db = Database(db_url)
    alert = alert_service(ws, db).raise_alert(
        AlertIn(rule="honey_login", source="deception", severity="critical", summary="honey user login")).alert

    first = _dispatcher(workspace_dir, db_url)
    try:
        assert receiver.first_request.wait(60), "dispatcher never called the receiver"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    with db.session() as s:
        row = s.query(AlertDelivery).one()
        assert row.status == "pending" and row.delivered_at is None
        key = row.id

    receiver.hang = False
    receiver.release.set()
    second = _dispatcher(workspace_dir, db_url)
    try:
        assert _wait(lambda: len(receiver.delivered) >= 1), "alert not delivered after restart"
        assert _wait(lambda: _status(db) == "delivered")
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(15)
        except subprocess.TimeoutExpired:
            second.kill()
        receiver.close()
        db.dispose()
    assert second.returncode == 0, second.stderr.read().decode() if second.stderr else ""
    got = receiver.delivered[0]
    assert got["key"] == key
    assert got["alert"]["id"] == alert.id and got["alert"]["severity"] == "critical"


def _status(db: Database) -> str:
    with db.session() as s:
        return s.query(AlertDelivery).one().status
