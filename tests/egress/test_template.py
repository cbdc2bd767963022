"""The workspace `intelsec init` writes: valid egress files, passing policy tests, the plain deny query."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.clirunner import invoke


def test_template_validates_and_policy_tests_pass(capsys: pytest.CaptureFixture[str], workspace_dir: Path) -> None:
    r = invoke(capsys, "config", "validate", "-w", str(workspace_dir))
    assert r.code == 0, r.err
    r = invoke(capsys, "policy", "test", "-w", str(workspace_dir), "--run", "egress")
    assert r.code == 0, r.out
    assert "FAIL" not in r.out and re.search(r"PASS: (\d+)/\1", r.out) and "PASS: 0/" not in r.out


def test_plain_deny_query_on_fresh_workspace(
    capsys: pytest.CaptureFixture[str], workspace_dir: Path, tmp_path: Path
) -> None:
    f = tmp_path / "f.json"
    f.write_text(json.dumps({"ns": "dev", "dest": {"host": "x.io", "category": "unknown"}}))
    r = invoke(capsys, "policy", "eval", "data.egress.deny", "-w", str(workspace_dir), "--input", str(f))
    assert r.code == 0
    assert json.loads(r.out)["result"] == ["Egress to unknown dest x.io"]
    f.write_text(json.dumps({"ns": "prod", "dest": {"host": "payments.vendors.com", "category": "unknown"}}))
    r = invoke(capsys, "policy", "eval", "data.egress.deny", "-w", str(workspace_dir), "--input", str(f))
    assert json.loads(r.out)["result"] == []


def test_broken_egress_policy_fails_validation(capsys: pytest.CaptureFixture[str], workspace_dir: Path) -> None:
    (workspace_dir / "policies" / "egress.rego").write_text("package egress\n\ndeny contains msg if {\n")
    r = invoke(capsys, "config", "validate", "-w", str(workspace_dir))
    assert r.code != 0 and "egress.rego" in (r.err + r.out)


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in ("eval", "exceptions", "proxy", "render", "drift"):
        r = invoke(capsys, "egress", cmd, "--help")
        assert r.code == 0 and "Examples:" in r.out, cmd
