"""Webhook and Slack sinks against a real HTTP receiver, the in-service dispatcher, and `alerts` CLI."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from intelsec.alerts.models import AlertIn
from intelsec.alerts.sinks import DeliveryError, SlackSink, WebhookSink
from intelsec.config import Workspace
from intelsec.server.app import create_app
from intelsec.store.db import Database, upgrade
from tests.clirunner import invoke
from tests.liveserver import serve


class Receiver:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[dict[str, str], Any]] = []
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                rec.requests.append((dict(self.headers), body))
                self.send_response(rec.status)
                self.end_headers()

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


PAYLOAD = {"id": "a1", "rule": "canary_touch", "severity": "high", "summary": "decoy touched",
           "source": "deception", "entity": "payments", "count": 3, "test": False}


def test_webhook_sends_json_with_idempotency_key() -> None:
    rec = Receiver()
    try:
        WebhookSink(rec.url, timeout=5).deliver(PAYLOAD, "key-1")
        headers, body = rec.requests[0]
        assert headers["Idempotency-Key"] == "key-1" and body == PAYLOAD
    finally:
        rec.close()


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (429, True), (400, False), (404, False)])
def test_webhook_classifies_failures(status: int, retryable: bool) -> None:
    rec = Receiver(status)
    try:
        with pytest.raises(DeliveryError) as err:
            WebhookSink(rec.url + "?token=s3cret", timeout=5).deliver(PAYLOAD, "k")
        assert err.value.retryable is retryable
        assert "s3cret" not in str(err.value)
    finally:
        rec.close()


def test_webhook_timeout_is_retryable() -> None:
    import socket

    with socket.socket() as s:  # accepts connections but never answers
        s.bind(("127.0.0.1", 0))
        s.listen()
        url = f"http://127.0.0.1:{s.getsockname()[1]}/"
        start = time.monotonic()
        with pytest.raises(DeliveryError) as err:
            WebhookSink(url, timeout=0.5).deliver(PAYLOAD, "k")
    assert err.value.retryable and "timed out" in str(err.value)
    assert time.monotonic() - start < 5


def test_slack_sink_posts_slack_message() -> None:
    rec = Receiver()
    try:
        SlackSink(rec.url, name="slack").deliver(PAYLOAD, "k")
        _, body = rec.requests[0]
        assert "[HIGH] canary_touch: decoy touched" in body["text"]
        assert body["blocks"][0]["type"] == "section"
    finally:
        rec.close()


def test_control_plane_dispatcher_delivers_new_alerts(workspace_dir: Path, tmp_path: Path) -> None:
    rec = Receiver()
    cfg_path = workspace_dir / "intelsec.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["alerts"]["sinks"] = [{"type": "webhook", "name": "soar", "url": rec.url},
                              {"type": "jsonl", "name": "file", "path": str(tmp_path / "a.jsonl")}]
    cfg["alerts"]["dispatcher"] = {"poll_interval_seconds": 0.05}
    cfg_path.write_text(yaml.safe_dump(cfg))
    url = f"sqlite:///{tmp_path / 's.db'}"
    upgrade(url)
    db = Database(url)
    app = create_app(Workspace.load(workspace_dir), db)
    try:
        with serve(app):
            alert = app.state.ctx.alerts.raise_alert(AlertIn(rule="r", source="egress", summary="blocked")).alert
            deadline = time.monotonic() + 20
            while not rec.requests and time.monotonic() < deadline:
                time.sleep(0.05)
        assert rec.requests and rec.requests[0][1]["id"] == alert.id
        assert json.loads((tmp_path / "a.jsonl").read_text())["alert"]["id"] == alert.id
    finally:
        rec.close()
        db.dispose()


def test_alerts_cli_lifecycle(workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(workspace_dir)
    res = invoke(capsys, "alerts", "raise", "-w", w, "--rule", "manual", "--summary", "check", "--severity", "high")
    assert res.code == 0
    alert_id = res.out.strip()
    listed = json.loads(invoke(capsys, "alerts", "list", "-w", w, "--format", "json").out)["alerts"]
    assert [a["id"] for a in listed] == [alert_id]
    assert invoke(capsys, "alerts", "ack", alert_id[:10], "-w", w, "--by", "alice").code == 0
    shown = json.loads(invoke(capsys, "alerts", "show", alert_id, "-w", w).out)
    assert shown["status"] == "acked" and shown["acked_by"] == "alice"
    assert invoke(capsys, "alerts", "resolve", alert_id, "-w", w).code == 0
    assert json.loads(invoke(capsys, "alerts", "list", "-w", w, "--status", "resolved", "-f", "json").out)["alerts"]
    missing = invoke(capsys, "alerts", "ack", "ffff0000", "-w", w)
    assert missing.code == 1 and "no alert with id" in missing.err
    table = invoke(capsys, "alerts", "list", "-w", w)
    assert "manual" in table.out
    assert invoke(capsys, "alerts", "list", "-w", w, "--format", "xml").code == 2
