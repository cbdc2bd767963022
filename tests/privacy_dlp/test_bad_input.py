"""Bad input never stops the run: each problem names the file, is counted, and sets exit code 2."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from tests.privacy_dlp.test_cli_scan import CARD, EMAIL, SSN, scan_json


def _kinds(doc: dict) -> list[str]:
    return [p["kind"] for p in doc["summary"]["problems"]]


def test_binary_file_is_skipped_and_said_so(tmp_path: Path) -> None:
    (tmp_path / "img.bin").write_bytes(b"\x89PNG\x00\x00" + CARD.encode())
    (tmp_path / "ok.txt").write_text(f"{EMAIL}\n")
    doc, r = scan_json("img.bin", "ok.txt", "--fail-on", "none", cwd=tmp_path)
    assert r.returncode == 0  # skipping a binary is not an input error
    assert doc["summary"]["skipped"]["binary_files"] == 1 and _kinds(doc) == ["binary"]
    assert "img.bin: binary file skipped" in r.stderr
    assert [f["path"] for f in doc["findings"]] == ["ok.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    secret = tmp_path / "locked.log"
    secret.write_text(f"{CARD}\n")
    secret.chmod(0)
    (tmp_path / "ok.txt").write_text(f"{SSN}\n")
    doc, r = scan_json("locked.log", "ok.txt", cwd=tmp_path)
    assert r.returncode == 2 and "locked.log: cannot read" in r.stderr
    assert doc["summary"]["skipped"]["unreadable_files"] == 1
    assert [f["detector"] for f in doc["findings"]] == ["us_ssn"]


def test_missing_file(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text(f"{SSN}\n")
    doc, r = scan_json("nope.log", "ok.txt", "--fail-on", "none", cwd=tmp_path)
    assert r.returncode == 2 and "nope.log: cannot read" in r.stderr
    assert doc["summary"]["skipped"]["unreadable_files"] == 1 and len(doc["findings"]) == 1


def test_broken_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    body = ("filler line\n" * 50_000 + f"late {CARD}\n").encode()
    data = gzip.compress(f"early {SSN}\n".encode() + body)
    (tmp_path / "cut.log.gz").write_bytes(data[: len(data) // 2])  # truncated stream
    (tmp_path / "garbage.gz").write_bytes(b"\x1f\x8b" + os.urandom(200))
    (tmp_path / "ok.txt").write_text(f"{EMAIL}\n")
    doc, r = scan_json("cut.log.gz", "garbage.gz", "ok.txt", cwd=tmp_path)
    assert r.returncode == 2
    assert doc["summary"]["skipped"]["broken_gzip_files"] == 2
    assert "cut.log.gz:" in r.stderr and "broken gzip stream" in r.stderr and "garbage.gz" in r.stderr
    assert [(f["path"], f["detector"]) for f in doc["findings"]] == [("cut.log.gz", "us_ssn"), ("ok.txt", "email")]


def test_fifty_megabyte_line_is_skipped_in_constant_memory(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    with big.open("wb") as fh:
        fh.write(f"before {SSN}\n".encode())
        chunk = b"A" * (1 << 20)
        for _ in range(50):
            fh.write(chunk)
        fh.write(f" {CARD}\nafter {EMAIL}\n".encode())
    doc, r = scan_json("big.log", cwd=tmp_path)
    assert r.returncode == 2
    assert "big.log:2: line longer than" in r.stderr
    assert doc["summary"]["skipped"]["long_lines"] == 1
    assert [(f["line"], f["detector"]) for f in doc["findings"]] == [(1, "us_ssn"), (3, "email")]


def test_invalid_utf8_is_scanned_escaped_and_counted(tmp_path: Path) -> None:
    (tmp_path / "mixed.log").write_bytes(b"ok\n\xff\xfe bad " + CARD.encode() + b"\nfine " + SSN.encode() + b"\n")
    doc, r = scan_json("mixed.log", cwd=tmp_path)
    assert r.returncode == 2 and "mixed.log:2: 1 line(s) not valid UTF-8" in r.stderr
    assert doc["summary"]["skipped"]["invalid_utf8_lines"] == 1
    # each invalid byte counts as one character, so offsets stay usable
    assert [(f["line"], f["start"], f["detector"]) for f in doc["findings"]] == [(2, 7, "credit_card"),
                                                                                 (3, 5, "us_ssn")]


def test_invalid_user_regex_named_and_rest_still_runs(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "patterns:\n"
        "  - name: good_one\n    regex: 'EMP-\\d{6}'\n"
        "  - name: broken\n    regex: '(unclosed'\n"
        "  - name: credit_card\n    regex: '\\d+'\n"
        "  - name: empty\n    regex: 'x*'\n")
    (tmp_path / "a.log").write_text(f"EMP-123456 {CARD}\n")
    doc, r = scan_json("a.log", "--patterns", "p.yaml", cwd=tmp_path)
    assert r.returncode == 2
    assert "p.yaml:5: patterns.1.regex: invalid regular expression" in r.stderr
    assert "p.yaml:6: patterns.2.name: 'credit_card' is a built-in detector" in r.stderr
    assert "p.yaml:9: patterns.3.regex: regular expression matches the empty string" in r.stderr
    assert doc["summary"]["skipped"]["invalid_patterns"] == 3
    assert [f["detector"] for f in doc["findings"]] == ["good_one", "credit_card"]


def test_workspace_patterns_and_disable(workspace_dir: Path, tmp_path: Path) -> None:
    (workspace_dir / "dlp" / "policies.yaml").write_text(
        "patterns:\n  - name: employee_id\n    regex: '\\bEMP-\\d{6}\\b'\n    severity: low\n"
        "  - name: acct\n    regex: 'acct=(?P<value>\\d+)'\n    luhn: true\n    severity: critical\n"
        "disable: [ipv4]\n")
    (tmp_path / "a.log").write_text("EMP-123456 from 10.0.0.1 acct=79927398713 acct=79927398710\n")
    doc, r = scan_json("a.log", "-w", str(workspace_dir), "--fail-on", "critical", cwd=tmp_path)
    assert [(f["detector"], f["start"], f["end"]) for f in doc["findings"]] == [("employee_id", 0, 10),
                                                                                  ("acct", 30, 41)]
    assert r.returncode == 1 and json.dumps(doc).count("79927398713") == 0


def test_max_line_holds_for_lines_read_whole(tmp_path: Path) -> None:
    """A line over --max-line is skipped even when it arrives inside one read block."""
    (tmp_path / "a.log").write_text(f"{SSN}\n{'x' * 3000} {CARD}\n{EMAIL}\n{'y' * 1025}\n")
    doc, r = scan_json("a.log", "--max-line", "1024", cwd=tmp_path)
    assert r.returncode == 2 and "a.log:2: line longer than 1024 bytes" in r.stderr and "a.log:4:" in r.stderr
    assert doc["summary"]["skipped"]["long_lines"] == 2
    assert [(f["line"], f["detector"]) for f in doc["findings"]] == [(1, "us_ssn"), (3, "email")]
