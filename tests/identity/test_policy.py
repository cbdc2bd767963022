"""The workspace identity policy: its own Rego tests pass, and the plan's two denials hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from intelsec.config import Workspace
from intelsec.policy.workspace import engine_for_workspace
from tests.clirunner import invoke


def test_rego_unit_tests_pass(workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = invoke(capsys, "policy", "test", "-w", str(workspace_dir))
    assert res.code == 0, res.out + res.err
    assert "identity_test" in res.out or "PASS" in res.out


@pytest.mark.parametrize(("svid", "reason"), [
    (None, "Missing SPIFFE identity"),
    ({"spiffe_id": "spiffe://evil.example/x", "trust_domain": "evil.example"},
     "Invalid trust domain evil.example (expected example.com)"),
])
def test_plan_denials(workspace_dir: Path, svid: dict | None, reason: str) -> None:  # type: ignore[type-arg]
    engine = engine_for_workspace(Workspace.load(workspace_dir))
    d = engine.decide("data.identity", {"peer": {"svid": svid}, "request": {"method": "GET", "path": "/"}})
    assert d.allowed is False and reason in d.reasons


def test_trust_domain_comes_from_workspace(workspace_dir: Path) -> None:
    cfg = workspace_dir / "intelsec.yaml"
    cfg.write_text(cfg.read_text().replace("trust_domain: example.com", "trust_domain: corp.internal"))
    engine = engine_for_workspace(Workspace.load(workspace_dir))
    ok = {"peer": {"svid": {"spiffe_id": "spiffe://corp.internal/a", "trust_domain": "corp.internal",
                            "uri_sans": ["spiffe://corp.internal/a"]}}}
    assert engine.decide("data.identity", ok).allowed is True
    old = {"peer": {"svid": {"spiffe_id": "spiffe://example.com/a", "trust_domain": "example.com"}}}
    assert engine.decide("data.identity", old).allowed is False


def test_template_authz_through_identity_engine(workspace_dir: Path) -> None:
    from intelsec.identity.policy import identity_engine

    engine = identity_engine(Workspace.load(workspace_dir))

    def call(caller: str, dest: str, method: str = "GET", path: str = "/v1/x") -> bool | None:
        sid = f"spiffe://example.com/ns/prod/sa/{caller}"
        return engine.decide("data.identity", {
            "peer": {"svid": {"spiffe_id": sid, "trust_domain": "example.com", "uri_sans": [sid]}},
            "request": {"method": method, "path": path},
            "destination": {"spiffe_id": f"spiffe://example.com/ns/prod/sa/{dest}"}}).allowed

    assert call("api-gw", "payments") is True
    assert call("ledger", "payments") is False
    assert call("api-gw", "payments", method="DELETE") is False
    assert call("payments", "ledger") is True and call("payments", "ledger", path="/admin") is False
    assert call("anyone", "api-gw") is True  # not listed: any attested caller


def test_bad_authz_file_is_a_config_error(workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from intelsec.errors import ConfigError
    from intelsec.identity.policy import identity_engine

    (workspace_dir / "identity" / "authz.yaml").write_text(
        "- service: spiffe://example.com/a\n  allow:\n    - callers: [api-gw]\n")
    with pytest.raises(ConfigError, match="authz.yaml:3"):
        identity_engine(Workspace.load(workspace_dir))
    res = invoke(capsys, "config", "validate", "-w", str(workspace_dir))
    assert res.code != 0 and "authz.yaml" in (res.out + res.err)
