"""Tier-0 coverage from Kubernetes manifests: registration, mTLS sidecar, plaintext secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intelsec.identity.attest import load_registrations
from intelsec.identity.report import coverage
from tests.clirunner import invoke

FAKE_KEY = "AKIA" + "ABCDEFGHIJKLMNOP"  # split so secret scanners do not flag this test

GOOD = """apiVersion: apps/v1
kind: Deployment
metadata: {name: payments, namespace: prod}
spec:
  template:
    metadata: {labels: {app: payments}}
    spec:
      serviceAccountName: payments
      containers:
        - name: app
          image: payments:1
          env:
            - {name: SPIFFE_ENDPOINT_SOCKET, value: unix:/run/spire/agent.sock}
            - {name: CA_BUNDLE_PATH, value: /run/svid/bundle.pem}
        - name: identity
          image: intelsec:1
          args: [identity, sidecar, --listen, "0.0.0.0:8443", --upstream, "127.0.0.1:8080", --socket, /run/a.sock]
"""

BAD = f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: ledger, namespace: prod}}
spec:
  template:
    spec:
      serviceAccountName: ledger
      containers:
        - name: app
          image: ledger:1
          envFrom: [{{secretRef: {{name: ledger-db}}}}]
          env:
            - name: DB_PASSWORD
              value: hunter2-plaintext
            - name: UPSTREAM
              value: postgres://ledger:s3cr3t@db:5432/ledger
            - name: AWS_KEY
              value: {FAKE_KEY}
        - name: identity
          image: intelsec:1
          args: [identity, sidecar, --mode, shadow]
---
apiVersion: v1
kind: Secret
metadata: {{name: ledger-db}}
stringData: {{password: plaintext-in-git}}
---
apiVersion: v1
kind: Secret
metadata: {{name: unrelated}}
data: {{token: c2VjcmV0}}
"""

REGS = """- apiVersion: spiffe.io/v1alpha1
  kind: WorkloadRegistration
  metadata: {name: payments-workload}
  spec:
    spiffeID: spiffe://example.com/ns/prod/sa/payments
    selectors: [{"k8s:ns": prod}, {"k8s:sa": payments}]
"""


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    d = tmp_path / "k8s"
    d.mkdir()
    (d / "payments.yaml").write_text(GOOD)
    (d / "ledger.yml").write_text(BAD)
    (tmp_path / "regs.yaml").write_text(REGS)
    return d


def test_coverage(manifests: Path) -> None:
    rep = coverage(["payments", "ledger", "api-gw"], manifests, load_registrations(manifests.parent / "regs.yaml"))
    by = {s.service: s for s in rep.services}
    assert by["payments"].ok and by["payments"].registered and by["payments"].mtls == "enforce"
    assert by["payments"].spiffe_id == "spiffe://example.com/ns/prod/sa/payments"
    led = by["ledger"]
    assert not led.ok and not led.registered and led.mtls == "shadow"
    kinds = {(f.key, f.kind) for f in led.plaintext_secrets}
    assert kinds == {("DB_PASSWORD", "secret-env-name"), ("UPSTREAM", "secret-env-value:url-with-password"),
                     ("AWS_KEY", "secret-env-value:aws-access-key"), ("password", "secret-object")}
    assert all(f.line for f in led.plaintext_secrets)
    assert by["api-gw"].problems == ["no workload manifest found"]
    assert [f.object for f in rep.unattributed_secrets] == ["Secret/unrelated"]
    assert not rep.ok


def test_cli_report_never_prints_secret_values(manifests: Path, workspace_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    regs = str(manifests.parent / "regs.yaml")
    res = invoke(capsys, "identity", "report", "--manifests", str(manifests), "--tier0", "payments",
                 "--registrations", regs, "-w", str(workspace_dir), "--format", "json")
    assert res.code == 0, res.out + res.err
    assert json.loads(res.out)["ok"] is True
    res = invoke(capsys, "identity", "report", "--manifests", str(manifests), "--tier0", "payments",
                 "--tier0", "ledger", "--registrations", regs, "-w", str(workspace_dir))
    assert res.code == 1
    assert "ledger" in res.out and "DB_PASSWORD" in res.out
    for secret in ("hunter2", "s3cr3t", FAKE_KEY, "plaintext-in-git", "c2VjcmV0"):
        assert secret not in res.out + res.err


def test_cli_report_sarif(manifests: Path, workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = invoke(capsys, "identity", "report", "--manifests", str(manifests), "--tier0", "ledger",
                 "--registrations", str(manifests.parent / "regs.yaml"), "-w", str(workspace_dir), "--format", "sarif")
    assert res.code == 1
    doc = json.loads(res.out)
    rules = {r["ruleId"] for r in doc["runs"][0]["results"]}
    assert rules == {"identity/plaintext-secret", "identity/not-registered", "identity/no-mtls"}
    assert "hunter2" not in res.out and FAKE_KEY not in res.out


def test_broken_manifest_is_reported_not_ignored(manifests: Path) -> None:
    (manifests / "broken.yaml").write_text("kind: Deployment\nmetadata: [unclosed\n")
    rep = coverage(["payments"], manifests, load_registrations(manifests.parent / "regs.yaml"))
    assert rep.services[0].ok and not rep.ok
    assert "broken.yaml:" in rep.errors[0]


def test_cli_report_needs_tier0(manifests: Path, workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = invoke(capsys, "identity", "report", "--manifests", str(manifests), "-w", str(workspace_dir))
    assert res.code == 2 and "tier-0" in res.err


def test_misshapen_manifest_is_reported_not_a_crash(manifests: Path) -> None:
    (manifests / "odd.yaml").write_text("kind: Deployment\nmetadata: {name: payments}\nspec: [1, 2]\n---\n"
                                         "kind: Secret\nmetadata: {name: s}\ndata: [a, b]\n")
    rep = coverage(["payments"], manifests, load_registrations(manifests.parent / "regs.yaml"))
    assert len(rep.errors) == 2 and all("unexpected structure" in e for e in rep.errors)
    assert rep.services[0].ok  # the well-formed payments manifest still counts


@pytest.mark.parametrize("flag", ["--direction outbound", "--direction=outbound"])
def test_outbound_sidecar_alone_is_not_inbound_mtls(manifests: Path, flag: str) -> None:
    (manifests / "payments.yaml").write_text(GOOD.replace("--socket, /run/a.sock]", f"--socket, /run/a.sock, {flag}]"))
    rep = coverage(["payments"], manifests, load_registrations(manifests.parent / "regs.yaml"))
    assert rep.services[0].mtls == "none" and not rep.ok


def test_flags_numbers_and_references_under_secret_like_names_are_not_secrets(manifests: Path) -> None:
    extra = "".join(f"\n            - {{name: {n}, value: '{v}'}}" for n, v in (
        ("AUTH_ENABLED", "true"), ("TOKEN_TTL", "3600"), ("SESSION_TOKEN_TTL", "15m"), ("DB_PASSWORD_FILE", "/run/pw"),
        ("API_KEY_REF", "$(API_KEY)"), ("DB_PASSWORD", "hunter2"), ("DB_PASS", "12345678")))
    (manifests / "payments.yaml").write_text(GOOD.replace(
        "- {name: CA_BUNDLE_PATH, value: /run/svid/bundle.pem}", "- {name: CA_BUNDLE_PATH, value: /run/svid/bundle.pem}"
        + extra))
    rep = coverage(["payments"], manifests, load_registrations(manifests.parent / "regs.yaml"))
    assert [f.key for f in rep.services[0].plaintext_secrets] == ["DB_PASSWORD", "DB_PASS"]
