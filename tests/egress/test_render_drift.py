"""Rendered policies match the shapes of the Cilium/Kubernetes corpus; drift is found and alerted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from intelsec.config import Workspace
from tests.clirunner import invoke


def _corpus(corpus_dir: Path, sub: str) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((corpus_dir / "cilium" / sub).glob("*.yaml"))]


def _keys(docs: list[dict[str, Any]], path: str) -> set[str]:
    out: set[str] = set()
    for d in docs:
        for rule in d["spec"].get(path) or []:
            out |= set(rule)
    return out


@pytest.fixture
def ws(workspace_dir: Path) -> Path:
    (workspace_dir / "egress" / "allowlist.yaml").write_text(
        "namespaces:\n  payments: [api.stripe.com, '*.vendors.com', 203.0.113.0/24]\n  web: [cdn.example.net]\n"
    )
    (workspace_dir / "egress" / "categories" / "anonymizers.yaml").write_text(
        "name: anonymizers\nrisk: high\ndomains: [torproject.org]\ncidrs: [198.51.100.0/24]\n"
    )
    return workspace_dir


def test_cilium_render_matches_corpus_shapes(
    capsys: pytest.CaptureFixture[str], ws: Path, corpus_dir: Path, tmp_path: Path
) -> None:
    corpus = _corpus(corpus_dir, "cnp")
    out = tmp_path / "cnp"
    r = invoke(capsys, "egress", "render", "cilium", "-o", str(out), "-w", str(ws), "--env", "staging")
    assert r.code == 0, r.err
    docs = {p.name: yaml.safe_load(p.read_text()) for p in out.glob("*.yaml")}
    assert set(docs) == {"cnp-payments.yaml", "cnp-web.yaml"}
    pay = docs["cnp-payments.yaml"]
    assert {pay["apiVersion"], pay["kind"]} == {corpus[0]["apiVersion"], corpus[0]["kind"]}
    assert set(pay["spec"]) <= {k for d in corpus for k in d["spec"]}
    assert _keys([pay], "egress") <= _keys(corpus, "egress")
    # the DNS rule FQDN policies need, exactly as in the Cilium DNS tutorial policy
    dns_tutorial = next(d for d in corpus if d["metadata"]["name"] == "fqdn")
    dns_rule = next(r for r in dns_tutorial["spec"]["egress"] if "toEndpoints" in r)
    assert pay["spec"]["egress"][0] == dns_rule
    fqdns = next(r["toFQDNs"] for r in pay["spec"]["egress"] if "toFQDNs" in r)
    assert {"matchName": "api.stripe.com"} in fqdns and {"matchPattern": "*.vendors.com"} in fqdns
    assert all(set(f) <= {"matchName", "matchPattern"} for f in fqdns)
    assert {"cidr": "203.0.113.0/24"} in next(r["toCIDRSet"] for r in pay["spec"]["egress"] if "toCIDRSet" in r)
    assert pay["metadata"]["annotations"]["intelsec.io/egress-mode"] == "enforce"


def test_prod_audit_render_denies_enforced_category_cidrs(
    capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path
) -> None:
    out = tmp_path / "prod"
    assert invoke(capsys, "egress", "render", "cilium", "-o", str(out), "-w", str(ws), "--env", "prod").code == 0
    web = yaml.safe_load((out / "cnp-web.yaml").read_text())
    assert web["metadata"]["annotations"]["intelsec.io/egress-mode"] == "audit"
    assert {"toEntities": ["all"]} in web["spec"]["egress"]
    assert web["spec"]["egressDeny"] == [{"toCIDRSet": [{"cidr": "198.51.100.0/24"}]}]
    out_k = tmp_path / "k8s"
    assert invoke(capsys, "egress", "render", "k8s", "-o", str(out_k), "-w", str(ws), "--env", "prod").code == 0
    k = yaml.safe_load((out_k / "networkpolicy-web.yaml").read_text())
    blocks = [p["ipBlock"] for p in k["spec"]["egress"][1]["to"] if "ipBlock" in p]
    assert {"cidr": "0.0.0.0/0", "except": ["198.51.100.0/24"]} in blocks


def test_k8s_render_matches_corpus_shapes(
    capsys: pytest.CaptureFixture[str], ws: Path, corpus_dir: Path, tmp_path: Path
) -> None:
    corpus = _corpus(corpus_dir, "k8s-networkpolicy")
    out = tmp_path / "np"
    assert invoke(capsys, "egress", "render", "k8s", "-o", str(out), "-w", str(ws), "--env", "staging").code == 0
    pay = yaml.safe_load((out / "networkpolicy-payments.yaml").read_text())
    assert (pay["apiVersion"], pay["kind"]) == (corpus[0]["apiVersion"], corpus[0]["kind"])
    assert set(pay["spec"]) <= {k for d in corpus for k in d["spec"]}
    assert _keys([pay], "egress") <= _keys(corpus, "egress")
    allow_dns = next(d for d in corpus if d["metadata"]["name"] == "foo-deny-egress" and d["spec"].get("egress"))
    assert pay["spec"]["egress"][0] == allow_dns["spec"]["egress"][0]
    assert {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]} in pay["spec"]["egress"]
    assert pay["spec"]["policyTypes"] == ["Egress"]


def test_render_rejects_unknown_target(capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path) -> None:
    r = invoke(capsys, "egress", "render", "calico", "-o", str(tmp_path), "-w", str(ws))
    assert r.code == 2 and "unknown render target" in r.err


def _alert_rules(ws: Path) -> list[str]:
    from intelsec.alerts.factory import alert_service
    from intelsec.store.db import Database

    w = Workspace.load(ws)
    return [a.rule for a in alert_service(w, Database(w.database_url())).list(source="egress")]


def test_drift(capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path) -> None:
    live = tmp_path / "live"
    assert invoke(capsys, "egress", "render", "cilium", "-o", str(live), "-w", str(ws), "--env", "staging").code == 0
    r = invoke(capsys, "egress", "drift", "--live", str(live), "-w", str(ws), "--env", "staging")
    assert r.code == 0 and "no drift" in r.out
    # someone edits the cluster: an extra FQDN, a dropped CIDR rule, audit mode, and a hand-made policy
    pay_path = live / "cnp-payments.yaml"
    pay = yaml.safe_load(pay_path.read_text())
    fq = next(r for r in pay["spec"]["egress"] if "toFQDNs" in r)
    fq["toFQDNs"].append({"matchName": "pastebin.com"})
    pay["spec"]["egress"] = [r for r in pay["spec"]["egress"] if "toCIDRSet" not in r]
    pay["metadata"]["annotations"]["intelsec.io/egress-mode"] = "audit"
    pay_path.write_text(yaml.safe_dump(pay))
    extra = {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "hotfix", "namespace": "web"},
        "spec": {"endpointSelector": {}, "egress": [{"toCIDR": ["0.0.0.0/0"]}]},
    }
    (live / "export.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [extra]}))
    r = invoke(capsys, "egress", "drift", "--live", str(live), "-w", str(ws), "--env", "staging", "-f", "json")
    assert r.code == 1
    found = {(f["kind"], f["policy"], f["detail"]) for f in json.loads(r.out)["drift"]}
    assert ("allowed_live_not_in_git", "payments/intelsec-egress", "fqdn matchName=pastebin.com") in found
    assert ("removed_rule", "payments/intelsec-egress", "cidr 203.0.113.0/24") in found
    assert ("mode_change", "payments/intelsec-egress", "live mode audit, git mode enforce") in found
    assert ("policy_count", "web", "2 live policies, 1 in git") in found
    assert ("allowed_live_not_in_git", "web/hotfix", "cidr 0.0.0.0/0") in found
    rules = set(_alert_rules(ws))
    assert {
        "egress.drift.allowed_live_not_in_git",
        "egress.drift.removed_rule",
        "egress.drift.mode_change",
        "egress.drift.policy_count",
    } <= rules
    (live / "export.yaml").unlink()
    (live / "cnp-web.yaml").unlink()
    r = invoke(
        capsys, "egress", "drift", "--live", str(live), "-w", str(ws), "--env", "staging", "-f", "json", "--no-alerts"
    )
    assert ("policy_count", "web/intelsec-egress", "policy in git is missing from the cluster") in {
        (f["kind"], f["policy"], f["detail"]) for f in json.loads(r.out)["drift"]
    }


def test_drift_bad_input(capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path) -> None:
    r = invoke(capsys, "egress", "drift", "--live", str(tmp_path / "nope"), "-w", str(ws))
    assert r.code == 2 and "not a directory" in r.err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.yaml").write_text("kind: [unclosed\n")
    r = invoke(capsys, "egress", "drift", "--live", str(tmp_path / "bad"), "-w", str(ws))
    assert r.code == 2 and "x.yaml:2: invalid YAML" in r.err
    (tmp_path / "bad" / "x.yaml").write_text("kind: CiliumNetworkPolicy\nmetadata: {name: p, annotations: [1]}\n")
    r = invoke(capsys, "egress", "drift", "--live", str(tmp_path / "bad"), "-w", str(ws))
    assert r.code == 2 and "x.yaml: CiliumNetworkPolicy is not shaped like an exported policy" in r.err
    (tmp_path / "bad" / "x.yaml").write_text("kind: NetworkPolicy\nmetadata: {name: p}\nspec: {egress: [{to: [3]}]}\n")
    r = invoke(capsys, "egress", "drift", "--live", str(tmp_path / "bad"), "--target", "k8s", "-w", str(ws))
    assert r.code == 2 and "x.yaml: NetworkPolicy is not shaped" in r.err
    (tmp_path / "bad" / "x.yaml").write_bytes(b"\xff\xfe")
    r = invoke(capsys, "egress", "drift", "--live", str(tmp_path / "bad"), "-w", str(ws))
    assert r.code == 2 and "x.yaml: not UTF-8 text" in r.err
