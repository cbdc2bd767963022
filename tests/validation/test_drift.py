"""Policy drift tests over the real Kyverno and Gatekeeper corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from intelsec.validation.k8s_policies import inventory
from tests.clirunner import invoke


def _dir(tmp_path: Path, name: str, *files: Path) -> Path:
    d = tmp_path / name
    d.mkdir()
    for f in files:
        shutil.copyfile(f, d / f.name)
    return d


def test_every_corpus_file_parses_or_is_reported(corpus_dir: Path) -> None:
    roots = [corpus_dir / "kyverno", corpus_dir / "gatekeeper"]
    inv = inventory(roots)
    assert inv.errors == []
    files = {str(f) for r in roots for f in r.rglob("*.yaml")}
    accounted = ({c.file for c in inv.controls.values()} | {e.file for e in inv.exceptions}
                 | {s.split(":")[0] for s in inv.skipped} | {f for f in files if any(f in m for m in inv.problems)}
                 | {str(corpus_dir / "gatekeeper/config/config.sync.yaml")})
    assert files <= accounted
    modes = {k: c.mode for k, c in inv.controls.items()}
    assert modes["ClusterPolicy/check-ns-labels#require-ns-purpose-label"] == "enforce"
    assert modes["ClusterPolicy/check-ns-labels#require-ns-env-label"] == "audit"  # per-rule failureAction wins
    assert modes["ClusterPolicy/restrict-deprecated-registry#restrict-deprecated-registry"] == "enforce"
    assert modes["ValidatingPolicy/allowed-image-repos"] == "warn"
    assert modes["ValidatingPolicy/deny-exec-by-namespace-name"] == "enforce"
    assert modes["K8sRequiredLabels/cm-must-have-gk-scoped-audit"] == "audit"  # warn only at audit, not admission
    assert modes["K8sAllowedRepos/repo-is-openpolicyagent"] == "enforce"  # no enforcementAction = deny
    assert any("ClusterCleanupPolicy" in s for s in inv.skipped)
    assert inv.exception_count == 15


def _drift(capsys: pytest.CaptureFixture[str], *args: str):  # type: ignore[no-untyped-def]
    return invoke(capsys, "validation", "drift", *args)


def test_kyverno_enforce_to_audit_fails(capsys: pytest.CaptureFixture[str], corpus_dir: Path, tmp_path: Path) -> None:
    pol = corpus_dir / "kyverno" / "policies"
    before = _dir(tmp_path, "before", pol / "disallow-host-namespaces.failureAction-enforce.yaml",
                  pol / "restrict-jobs.yaml")
    after = _dir(tmp_path, "after", pol / "disallow-host-namespaces.cel.yaml", pol / "restrict-jobs.yaml")
    base = tmp_path / "baseline.json"
    assert _drift(capsys, "-p", str(before), "--write-baseline", str(base)).code == 0
    assert _drift(capsys, "-p", str(before), "-b", str(base)).code == 0
    res = _drift(capsys, "-p", str(after), "-b", str(base), "--format", "json")
    assert res.code == 1
    doc = json.loads(res.out)
    failing = [(f["type"], f["control"], f["baseline"], f["current"]) for f in doc["findings"] if f["fails"]]
    assert failing == [("downgraded", "ClusterPolicy/disallow-host-namespaces#host-namespaces", "enforce", "audit")]


def test_gatekeeper_deny_to_dryrun_and_removal_fail(capsys: pytest.CaptureFixture[str], corpus_dir: Path,
                                                    tmp_path: Path) -> None:
    gk = corpus_dir / "gatekeeper"
    lib = gk / "library" / "requiredlabels"
    before = _dir(tmp_path, "before", gk / "enforcement-actions" / "unique-ingress-host.warn.yaml",
                  lib / "constraint.all-must-have-owner.yaml", lib / "template.yaml",
                  gk / "library" / "httpsonly" / "constraint.ingress-https-only.yaml")
    after = _dir(tmp_path, "after", gk / "enforcement-actions" / "unique-ingress-host.dryrun.yaml",
                 gk / "enforcement-actions" / "all-must-have-owner.scoped-deny.yaml", lib / "template.yaml")
    base = tmp_path / "gk.json"
    assert _drift(capsys, "-p", str(before), "--write-baseline", str(base)).code == 0
    res = _drift(capsys, "-p", str(after), "-b", str(base), "--format", "json")
    assert res.code == 1
    failing = {(f["type"], f["control"]) for f in json.loads(res.out)["findings"] if f["fails"]}
    assert failing == {("downgraded", "K8sUniqueIngressHost/unique-ingress-host"),
                       ("removed", "K8sHttpsOnly/ingress-https-only")}  # scoped deny at admission is still deny
    res = _drift(capsys, "-p", str(after), "-b", str(base), "--format", "sarif")
    sarif = json.loads(res.out)
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == {"downgraded", "removed"}


def test_exception_budget(capsys: pytest.CaptureFixture[str], corpus_dir: Path) -> None:
    exc = str(corpus_dir / "kyverno" / "exceptions")
    assert _drift(capsys, "-p", exc, "--exception-budget", "15").code == 0
    res = _drift(capsys, "-p", exc, "--exception-budget", "14")
    assert res.code == 1 and "exception_budget" in res.out


def test_disabled_policy_fails_without_baseline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "vpol.yaml").write_text("""apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: no-exec}
spec:
  validationActions: [Deny]
  evaluation:
    admission: {enabled: false}
    background: {enabled: false}
""")
    res = _drift(capsys, "-p", str(tmp_path), "--format", "json")
    assert res.code == 1
    assert json.loads(res.out)["findings"][0]["type"] == "disabled"


def test_bad_inputs_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("kind: ClusterPolicy\nmetadata: {name: x\n")
    res = _drift(capsys, "-p", str(tmp_path))
    assert res.code == 2 and "broken.yaml:3: invalid YAML" in res.err
    bad = tmp_path / "baseline.json"
    bad.write_text("{}")
    good = tmp_path / "ok"
    good.mkdir()
    res = _drift(capsys, "-p", str(good), "-b", str(bad))
    assert res.code == 2 and "not an intelsec drift baseline" in res.err
    res = _drift(capsys, "-p", str(good), "-b", str(tmp_path / "missing.json"))
    assert res.code == 2 and "--write-baseline" in res.err


def test_audit_overrides_count_against_the_exception_budget(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    (tmp_path / "pol.yaml").write_text("""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-labels}
spec:
  validationFailureAction: Enforce
  validationFailureActionOverrides:
    - action: Audit
      namespaces: [legacy, sandbox]
  rules:
    - name: owner
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        message: owner label required
        pattern: {metadata: {labels: {owner: "?*"}}}
        failureActionOverrides:
          - action: Enforce
            namespaces: [prod]
""")
    inv = inventory([tmp_path])
    assert inv.controls["ClusterPolicy/require-labels#owner"].mode == "enforce"
    assert inv.exception_count == 2
    assert _drift(capsys, "-p", str(tmp_path), "--exception-budget", "2").code == 0
    assert _drift(capsys, "-p", str(tmp_path), "--exception-budget", "1").code == 1
