"""`intelsec egress proxy` as a real process: serves, blocks, exposes metrics, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.liveserver import free_port


def test_proxy_process_blocks_and_shuts_down(workspace_dir: Path, tmp_path: Path) -> None:
    port, mport = free_port(), free_port()
    log = tmp_path / "flows.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "intelsec",
            "egress",
            "proxy",
            "--listen",
            f"127.0.0.1:{port}",
            "-w",
            str(workspace_dir),
            "--env",
            "staging",
            "--flow-log",
            str(log),
            "--metrics-listen",
            f"127.0.0.1:{mport}",
            "--grace",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"COLUMNS": "200"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with httpx.Client(proxy=f"http://127.0.0.1:{port}", timeout=5) as client:
                    r = client.get("http://example.com/")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert r.status_code == 403 and "enforce mode in staging" in r.text
        metrics = httpx.get(f"http://127.0.0.1:{mport}/metrics", timeout=5).text
        assert 'intelsec_egress_blocks_total{category="unknown",namespace="unknown"} 1.0' in metrics
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "egress proxy stopped" in err and "blocked=1" in err
    assert '"verdict":"block"' in log.read_text()


def test_eval_reads_stdin(workspace_dir: Path, corpus_dir: Path) -> None:
    data = (corpus_dir / "hubble" / "squid" / "access1.first30lines.log").read_bytes()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "intelsec",
            "egress",
            "eval",
            "-",
            "-w",
            str(workspace_dir),
            "--env",
            "prod",
            "--format",
            "json",
            "--summary-only",
            "--no-alerts",
        ],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    import json

    summary = json.loads(proc.stdout)["summary"]
    assert summary["flows"] == 30 and summary["verdicts"] == {"log": 30}
