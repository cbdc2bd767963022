"""Burn-down: runs recorded in the store (SQLite and PostgreSQL), trend, API and CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from intelsec.clock import FrozenClock
from intelsec.sbom.burndown import burndown, record_run, write_png
from intelsec.sbom.triage import triage
from intelsec.store.db import Database, upgrade
from intelsec.store.models import Run
from tests.clirunner import invoke
from tests.sbom.conftest import trivy_report, trivy_vuln, write_json

CRIT = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def _report(tmp_path: Path, name: str, ids: list[str]) -> Path:
    return write_json(tmp_path / name, trivy_report([
        trivy_vuln(i, f"pkg{i[-1]}", "1.0", "1.1", "CRITICAL" if i.endswith("1") else "LOW",
                   CRIT if i.endswith("1") else None) for i in ids]))


def test_runs_record_new_open_fixed(db_url: str, tmp_path: Path) -> None:
    upgrade(db_url)
    db = Database(db_url)
    clock = FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    days = [["CVE-2024-1", "CVE-2024-2", "CVE-2024-3"], ["CVE-2024-1", "CVE-2024-2"], ["CVE-2024-2"], ["CVE-2024-2"]]
    recorded = []
    for i, ids in enumerate(days):
        result = triage([], [_report(tmp_path, f"r{i}.json", ids)])
        recorded.append(record_run(db, "shop", result.vulnerabilities, result.summary, clock))
        clock.advance(timedelta(days=3))
    record_run(db, "other", triage([], [_report(tmp_path, "o.json", ["CVE-2024-1"])]).vulnerabilities, {}, clock)
    assert [r["open_total"] for r in recorded] == [3, 2, 1, 1]
    assert recorded[0]["new"]["critical"] == 1 and recorded[2]["fixed"]["critical"] == 1
    assert sum(recorded[1]["fixed"].values()) == 1 and sum(recorded[3]["new"].values()) == 0
    data = burndown(db, "shop", timedelta(days=30), clock)
    assert [p["open"] for p in data["runs"]] == [3, 2, 1, 1]
    assert data["weekly_slope"] is not None and data["weekly_slope"] < 0
    assert data["criticals_outstanding"] == 0
    everything = burndown(db, None, timedelta(days=30), clock)
    assert everything["criticals_outstanding"] == 1  # the other project still has one
    assert burndown(db, "shop", timedelta(days=2), clock)["runs"] == []
    with db.session() as s:
        assert s.query(Run).filter(Run.kind == "sbom.triage").count() == 5
    png = tmp_path / "b.png"
    write_png(data, str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    db.dispose()


def test_cli_triage_records_and_burndown_reads(workspace_dir: Path, tmp_path: Path, corpus_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(workspace_dir)
    first = invoke(capsys, "sbom", "triage", "-w", ws, "--findings", str(corpus_dir / "sbom/findings/trivy-pip.json"),
                   "-f", "json")
    assert first.code == 0, first.err
    assert json.loads(first.out)["summary"]["recorded"]["open_total"] == 2
    crit = invoke(capsys, "sbom", "triage", "-w", ws, "--findings", str(_report(tmp_path, "c.json", ["CVE-2024-1"])),
                  "--fail-on", "critical")
    assert crit.code == 1 and "CVE-2024-1" in crit.out
    sarif = invoke(capsys, "sbom", "triage", "--no-record", "--findings", str(tmp_path / "c.json"), "-f", "sarif")
    assert json.loads(sarif.out)["runs"][0]["results"][0]["level"] == "error"
    out = invoke(capsys, "sbom", "burndown", "-w", ws, "-f", "json", "--png", str(tmp_path / "c.png"))
    assert out.code == 0, out.err
    data = json.loads(out.out)
    assert [p["open"] for p in data["runs"]] == [2, 1] and data["criticals_outstanding"] == 1
    assert (tmp_path / "c.png").stat().st_size > 1000
    long_name = invoke(capsys, "sbom", "triage", "-w", ws, "--project", "p" * 129, "--findings",
                       str(tmp_path / "c.json"))
    assert long_name.code == 2 and "at most 128" in long_name.err
    bad = invoke(capsys, "sbom", "burndown", "-w", ws, "--since", "soon")
    assert bad.code == 2 and "--since" in bad.err
    trunc = tmp_path / "t.json"
    trunc.write_text('{"SchemaVersion": 2, "Results": [')
    partial = invoke(capsys, "sbom", "triage", "-w", ws, "--findings", str(trunc), "--findings",
                     str(tmp_path / "c.json"), "-f", "json")
    assert partial.code == 2 and str(trunc) in partial.err
    assert json.loads(partial.out)["summary"]["failed_inputs"] == [str(trunc)]
    assert "recorded" not in json.loads(partial.out)["summary"] and "not recorded" in partial.err
    again = json.loads(invoke(capsys, "sbom", "burndown", "-w", ws, "-f", "json").out)
    assert len(again["runs"]) == 2  # a partial triage would have marked the unread file's findings fixed


def test_api_serves_burndown(workspace_dir: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from intelsec.config import Workspace
    from intelsec.server.app import create_app

    ws = Workspace.load(workspace_dir)
    url = ws.database_url()
    upgrade(url)
    db = Database(url)
    result = triage([], [_report(tmp_path, "a.json", ["CVE-2024-1", "CVE-2024-2"])])
    record_run(db, "controls", result.vulnerabilities, result.summary)
    with TestClient(create_app(ws, db)) as client:
        resp = client.get("/api/v1/sbom/burndown", params={"since": "7d"})
        assert resp.status_code == 200
        body = resp.json()
        assert body["runs"][0]["open"] == 2 and body["criticals_outstanding"] == 1
        assert client.get("/api/v1/sbom/burndown", params={"since": "x"}).status_code == 400
        assert "intelsec_sbom_open_vulnerabilities" in client.get("/metrics").text
    db.dispose()
