"""`intelsec init` and `intelsec config validate` on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intelsec.workspace.scaffold import template_files
from tests.clirunner import invoke

PLAN_ARTIFACTS = [
    "intelsec.yaml",
    "identity/spiffeids.yaml",
    "policies/identity.rego",
    "policies/identity_test.rego",
    "policies/egress.rego",
    "policies/egress_test.rego",
    "egress/allowlist.yaml",
    "deception/canary-routes.yaml",
    "validation/scenarios/mfa_fatigue.yaml",
    "dlp/policies.yaml",
    "telemetry/schema.yaml",
    ".github/workflows/sbom-fix.yml",
]


def test_init_writes_every_plan_artifact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = invoke(capsys, "init", str(tmp_path / "w"))
    assert res.code == 0, res.err
    for rel in PLAN_ARTIFACTS:
        assert (tmp_path / "w" / rel).is_file(), rel
    assert {str(p) for p in template_files()} >= set(PLAN_ARTIFACTS)


def test_init_never_overwrites_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "w"
    invoke(capsys, "init", str(target))
    cfg = target / "intelsec.yaml"
    cfg.write_text("version: 1\nname: mine\n")
    res = invoke(capsys, "init", str(target))
    assert res.code == 0
    assert cfg.read_text() == "version: 1\nname: mine\n"
    assert "exists" in res.err
    invoke(capsys, "init", str(target), "--force")
    assert "name: controls" in cfg.read_text()


def test_fresh_workspace_validates_and_policy_tests_pass(workspace_dir: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    res = invoke(capsys, "config", "validate", "-w", str(workspace_dir), "--format", "json")
    assert res.code == 0, res.out + res.err
    doc = json.loads(res.out)
    assert doc["valid"] is True and "policies/egress.rego" in doc["checked"]
    res = invoke(capsys, "policy", "test", "-w", str(workspace_dir), "-v")
    assert res.code == 0, res.out
    assert "FAIL" not in res.out and "PASS:" in res.out


def test_validate_names_file_and_line_of_model_error(workspace_dir: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (workspace_dir / "egress" / "allowlist.yaml").write_text("namespaces:\n  prod: [a.com]\n  dev: not-a-list\n")
    res = invoke(capsys, "config", "validate", "-w", str(workspace_dir))
    assert res.code == 2
    assert "egress/allowlist.yaml:3: namespaces.dev" in res.err
    assert "Traceback" not in res.err


def test_validate_reports_yaml_syntax_error_with_position(workspace_dir: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (workspace_dir / "intelsec.yaml").write_text("version: 1\nserver: {port: 80\n")
    res = invoke(capsys, "config", "validate", "-w", str(workspace_dir))
    assert res.code == 2
    assert "intelsec.yaml:3:1: invalid YAML" in res.err


def test_validate_reports_rego_error_with_line_and_column(workspace_dir: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (workspace_dir / "policies" / "broken.rego").write_text("package broken\n\ndeny[msg] { msg := 1 }\n")
    res = invoke(capsys, "config", "validate", "-w", str(workspace_dir))
    assert res.code == 2
    assert "policies/broken.rego:3:11:" in res.err
    assert "if" in res.err


def test_validate_checks_unknown_config_keys(workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = workspace_dir / "intelsec.yaml"
    cfg.write_text(cfg.read_text() + "\nsevrer: {}\n")
    res = invoke(capsys, "config", "validate", "-w", str(workspace_dir))
    assert res.code == 2 and "sevrer" in res.err


def test_commands_on_malformed_config_fail_cleanly(workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace_dir / "intelsec.yaml").write_text("version: 1\nserver:\n  port: not-a-port\n")
    res = invoke(capsys, "policy", "eval", "data.egress.deny", "-w", str(workspace_dir))
    assert res.code == 2
    assert res.err.startswith("error: ") and "intelsec.yaml:3: server.port" in res.err
    assert "Traceback" not in res.err


def test_missing_workspace_is_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = invoke(capsys, "policy", "eval", "data.x", "-w", str(tmp_path))
    assert res.code == 2 and "intelsec init" in res.err
