"""`intelsec privacy dlp scan` end to end through the real CLI entry point."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CARD = "4111111111111111"
SSN = "536-22-1234"
EMAIL = "alice.smith@example.com"


def dlp(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INTELSEC_WORKSPACE": ""}
    return subprocess.run([sys.executable, "-m", "intelsec", "privacy", "dlp", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=120,
                          input=stdin.decode() if stdin else None)


def scan_json(*args: str, cwd: Path) -> tuple[dict, subprocess.CompletedProcess[str]]:
    r = dlp("scan", "--format", "json", *args, cwd=cwd)
    return json.loads(r.stdout), r


@pytest.fixture
def export(tmp_path: Path) -> Path:
    p = tmp_path / "export.jsonl"
    p.write_text(
        json.dumps({"user": EMAIL, "note": "ok"}) + "\n"
        + "plain line without pii\n"
        + f"id,card,ssn\n7,{CARD},{SSN}\n",
        encoding="utf-8")
    return p


def test_json_output_shape_and_masking(export: Path) -> None:
    doc, r = scan_json(export.name, cwd=export.parent)
    assert r.returncode == 1
    got = [(f["line"], f["start"], f["end"], f["detector"], f["severity"]) for f in doc["findings"]]
    lines = export.read_text().splitlines()
    assert got == [(1, 10, 10 + len(EMAIL), "email", "medium"),
                   (4, 2, 18, "credit_card", "high"), (4, 19, 30, "us_ssn", "high")]
    for f in doc["findings"]:
        assert set(f) == {"path", "line", "start", "end", "detector", "severity", "masked", "status"}
        assert f["path"] == "export.jsonl" and f["status"] == "leak"
        value = lines[f["line"] - 1][f["start"]:f["end"]]
        assert len(f["masked"].lstrip("*")) <= 4 and f["masked"].endswith(value[-min(4, len(value) // 4):])
    for secret in (CARD, SSN, EMAIL, "alice.smith"):
        assert secret not in r.stdout and secret not in r.stderr
    s = doc["summary"]
    assert s["findings"] == 3 and s["failing"] == 3 and s["files_scanned"] == 1 and s["lines_scanned"] == 4
    assert s["by_detector"] == {"credit_card": 1, "email": 1, "us_ssn": 1} and s["exit_code"] == 1


def test_fail_on_and_detectors_filter(export: Path) -> None:
    assert dlp("scan", export.name, "--fail-on", "critical", cwd=export.parent).returncode == 0
    assert dlp("scan", export.name, "--fail-on", "high", cwd=export.parent).returncode == 1
    doc, r = scan_json(export.name, "--detectors", "email", "--fail-on", "high", cwd=export.parent)
    assert [f["detector"] for f in doc["findings"]] == ["email"] and r.returncode == 0
    r = dlp("scan", export.name, "--detectors", "nope", cwd=export.parent)
    assert r.returncode == 2 and "unknown detector" in r.stderr


def test_clean_file_exits_zero_and_table_output(tmp_path: Path) -> None:
    (tmp_path / "clean.log").write_text("GET /index.html 200\nnothing here\n")
    r = dlp("scan", "clean.log", cwd=tmp_path)
    assert r.returncode == 0 and "no findings" in r.stdout


def test_gzip_directory_and_stdin(tmp_path: Path) -> None:
    d = tmp_path / "logs"
    d.mkdir()
    with gzip.open(d / "app.log.gz", "wt") as fh:
        fh.write("x\n" * 1000 + f"card {CARD}\n")
    (d / "b.csv").write_text(f"a,b\n1,{EMAIL}\n")
    doc, _ = scan_json("logs", cwd=tmp_path)
    assert [(f["path"], f["line"], f["detector"]) for f in doc["findings"]] == [
        ("logs/app.log.gz", 1001, "credit_card"), ("logs/b.csv", 2, "email")]
    r = dlp("scan", "-", "--format", "json", cwd=tmp_path, stdin=f"ssn {SSN}\n".encode())
    assert json.loads(r.stdout)["findings"][0]["path"] == "<stdin>"


def test_sarif(export: Path) -> None:
    r = dlp("scan", export.name, "--format", "sarif", cwd=export.parent)
    assert r.returncode == 1
    log = json.loads(r.stdout)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert {x["id"] for x in run["tool"]["driver"]["rules"]} >= {"credit_card", "us_ssn", "email"}
    res = run["results"]
    assert [x["ruleId"] for x in res] == ["email", "credit_card", "us_ssn"]
    region = res[1]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 4, "startColumn": 3, "endColumn": 19}
    assert res[1]["level"] == "error" and CARD not in r.stdout
    assert run["invocations"][0]["executionSuccessful"] is True


def test_baseline_suppresses_known_and_reports_new(export: Path) -> None:
    cwd = export.parent
    r = dlp("baseline", export.name, "-o", "base.json", cwd=cwd)
    assert r.returncode == 0, r.stderr
    base = (cwd / "base.json").read_text()
    for secret in (CARD, SSN, EMAIL):
        assert secret not in base
    assert len(json.loads(base)["results"]) == 3
    doc, r = scan_json(export.name, "--baseline", "base.json", cwd=cwd)
    assert r.returncode == 0 and doc["findings"] == [] and doc["summary"]["baselined"] == 3
    # lines moved + one new leak: only the new one is reported
    export.write_text("new first line\n" + export.read_text() + "contact bob@example.org\n")
    doc, r = scan_json(export.name, "--baseline", "base.json", cwd=cwd)
    assert r.returncode == 1 and [(f["line"], f["detector"]) for f in doc["findings"]] == [(6, "email")]
    (cwd / "bad.json").write_text("{}")
    r = dlp("scan", export.name, "--baseline", "bad.json", cwd=cwd)
    assert r.returncode == 2 and "bad.json" in r.stderr and "not an intelsec DLP baseline" in r.stderr


def test_gzip_on_stdin_is_scanned_not_skipped_as_binary(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "intelsec", "privacy", "dlp", "scan", "-", "--format", "json"],
                       cwd=tmp_path, capture_output=True, env={**os.environ, "INTELSEC_WORKSPACE": ""}, timeout=120,
                       input=gzip.compress(f"card {CARD}\n".encode()))
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and [f["detector"] for f in doc["findings"]] == ["credit_card"]
    assert doc["summary"]["skipped"]["binary_files"] == 0
