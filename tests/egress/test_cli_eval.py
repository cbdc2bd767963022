"""`intelsec egress eval` / `exceptions` through the real entry point, alerts in the workspace store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intelsec.config import Workspace
from tests.clirunner import invoke


def _alerts(ws: Path, url: str | None = None) -> list[dict]:
    from intelsec.alerts.factory import alert_service
    from intelsec.store.db import Database

    w = Workspace.load(ws)
    db = Database(w.database_url(url))
    try:
        return [a.model_dump() for a in alert_service(w, db).list(source="egress")]
    finally:
        db.dispose()


def test_eval_corpus_staging_vs_prod(
    capsys: pytest.CaptureFixture[str], workspace_dir: Path, corpus_dir: Path, tmp_path: Path
) -> None:
    files = [str(p) for p in sorted((corpus_dir / "hubble").rglob("*")) if p.is_file()]
    r = invoke(capsys, "egress", "eval", *files, "-w", str(workspace_dir), "--env", "staging", "--format", "json")
    assert r.code == 1, r.err
    doc = json.loads(r.out)
    s = doc["summary"]
    assert s["quarantined"] == 0 and s["verdicts"]["block"] > 0 and s["verdicts"]["internal"] > 0
    d = doc["decisions"][0]
    assert set(d) >= {"verdict", "reasons", "category", "namespace", "destination", "exception"}
    assert any(a["rule"] == "egress.blocked" for a in _alerts(workspace_dir))
    out = tmp_path / "decisions.jsonl"
    r = invoke(
        capsys,
        "egress",
        "eval",
        *files,
        "-w",
        str(workspace_dir),
        "--env",
        "prod",
        "--format",
        "json",
        "--summary-only",
        "--no-alerts",
        "--decisions-out",
        str(out),
    )
    assert r.code == 0, r.err
    assert "decisions" not in json.loads(r.out)
    streamed = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(streamed) == json.loads(r.out)["summary"]["flows"] and streamed[0]["origin"].endswith(
        "accept-reject-traffic.log:2"
    )
    s = json.loads(r.out)["summary"]
    assert "block" not in s["verdicts"] and s["verdicts"]["log"] > 0
    assert s["top_destinations"][0]["destination"] == "www.goonernews.com"


def test_eval_table_quarantine_and_exit(
    capsys: pytest.CaptureFixture[str], workspace_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # keep console lines unwrapped
    flows = tmp_path / "flows.jsonl"
    flows.write_text(
        '{"src_ns": "dev", "dst_host": "pastebin.com", "dst_port": 443}\n{"src_ns": "dev"}\nnot json\n'
        '{"src_ns": "prod", "dst_host": "payments.vendors.com", "dst_port": 443}\n'
    )
    q = tmp_path / "q.jsonl"
    r = invoke(capsys, "egress", "eval", str(flows), "-w", str(workspace_dir), "--env", "prod", "--quarantine", str(q))
    assert r.code == 1
    assert "pastebin.com" in r.out and "blocked by category: paste-sites=1" in r.out
    assert f"{flows}:2: no destination" in r.err and f"{flows}:3: invalid JSON" in r.err
    assert [json.loads(line)["line"] for line in q.read_text().splitlines()] == [2, 3]
    r = invoke(capsys, "egress", "eval", str(tmp_path / "missing.log"), "-w", str(workspace_dir))
    assert r.code == 2 and "no such flow file" in r.err


def test_expired_exception_alerts_and_stops_applying(
    capsys: pytest.CaptureFixture[str], workspace_dir: Path, tmp_path: Path, db_url: str
) -> None:
    """Runs on SQLite and on a real PostgreSQL: alerts land in the store given by --database."""
    (workspace_dir / "egress" / "exceptions.yaml").write_text("""
exceptions:
  - namespace: dev
    destination: old.vendor.io
    ticket: SEC-7
    owner: carol@example.com
    expires: 2020-01-01
  - namespace: dev
    destination: new.vendor.io
    ticket: SEC-8
    owner: dan@example.com
    expires: 2999-01-01
""")
    flows = tmp_path / "f.jsonl"
    flows.write_text('{"src_ns": "dev", "dst_host": "old.vendor.io"}\n{"src_ns": "dev", "dst_host": "new.vendor.io"}\n')
    r = invoke(
        capsys,
        "egress",
        "eval",
        str(flows),
        "-w",
        str(workspace_dir),
        "--env",
        "staging",
        "-f",
        "json",
        "--database",
        db_url,
    )
    doc = json.loads(r.out)
    verdicts = {d["destination"]: (d["verdict"], d["exception"]) for d in doc["decisions"]}
    assert verdicts["old.vendor.io"] == ("block", None)
    assert verdicts["new.vendor.io"][0] == "allow" and verdicts["new.vendor.io"][1].startswith("SEC-8")
    assert doc["summary"]["exceptions_used"] == {verdicts["new.vendor.io"][1]: 1}
    alerts = _alerts(workspace_dir, db_url)
    assert {"egress.exception_ttl_breach", "egress.blocked"} <= {a["rule"] for a in alerts}
    breach = next(a for a in alerts if a["rule"] == "egress.exception_ttl_breach")
    assert "SEC-7" in breach["summary"] and breach["evidence"]["owner"] == "carol@example.com"
    r = invoke(capsys, "egress", "exceptions", "-w", str(workspace_dir), "-f", "json", "--no-alerts")
    assert r.code == 1
    states = {e["ticket"]: e["state"] for e in json.loads(r.out)["exceptions"]}
    assert states == {"SEC-7": "expired", "SEC-8": "active"}


def test_exception_budget(capsys: pytest.CaptureFixture[str], workspace_dir: Path) -> None:
    entries = "".join(
        f"  - namespace: dev\n    destination: v{i}.vendor.io\n    ticket: T-{i}\n    owner: o\n"
        f"    expires: 2999-01-01\n"
        for i in range(3)
    )
    (workspace_dir / "egress" / "exceptions.yaml").write_text(f"budget:\n  default: 2\nexceptions:\n{entries}")
    r = invoke(capsys, "egress", "exceptions", "-w", str(workspace_dir))
    assert r.code == 1 and "budget dev: 3/2 EXCEEDED" in r.out
    assert any(a["rule"] == "egress.exception_budget" for a in _alerts(workspace_dir))


def test_bad_config_exits_2(capsys: pytest.CaptureFixture[str], workspace_dir: Path, tmp_path: Path) -> None:
    (workspace_dir / "egress" / "exceptions.yaml").write_text(
        "exceptions:\n  - namespace: dev\n    destination: x.io\n    owner: o\n    expires: 2030-01-01\n"
    )
    flows = tmp_path / "f.jsonl"
    flows.write_text('{"dst_host": "x.io"}\n')
    r = invoke(capsys, "egress", "eval", str(flows), "-w", str(workspace_dir))
    assert r.code == 2 and "exceptions.yaml:2" in r.err and "ticket" in r.err
