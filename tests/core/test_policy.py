"""Policy engine: decisions, digests, compile errors, `policy eval` and `policy test`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intelsec.errors import PolicyError
from intelsec.policy.engine import Engine, PolicySource
from intelsec.policy.testing import run_tests
from tests.clirunner import invoke


def test_plan_egress_rule_denies_unknown_destination_from_unlisted_namespace(
        workspace_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = tmp_path / "f.json"
    flow.write_text(json.dumps({"ns": "dev", "dest": {"host": "x.io", "category": "unknown"}}))
    res = invoke(capsys, "policy", "eval", "data.egress.deny", "-w", str(workspace_dir), "--input", str(flow))
    assert res.code == 0, res.err
    decision = json.loads(res.out)
    assert decision["result"] == ["Egress to unknown dest x.io"]
    assert decision["allowed"] is False
    assert len(decision["policy_digest"]) == 64


def test_allowlisted_destination_is_not_denied(workspace_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    flow = tmp_path / "f.json"
    flow.write_text(json.dumps({"ns": "prod", "dest": {"host": "payments.vendors.com", "category": "unknown"}}))
    res = invoke(capsys, "policy", "eval", "data.egress.deny", "-w", str(workspace_dir), "--input", str(flow))
    assert json.loads(res.out)["result"] == []


def test_identity_policy_rejects_missing_svid_and_foreign_trust_domain(workspace_dir: Path) -> None:
    from intelsec.config import Workspace
    from intelsec.policy.workspace import engine_for_workspace

    engine = engine_for_workspace(Workspace.load(workspace_dir))
    assert "Missing SPIFFE identity" in engine.decide("data.identity.deny", {"peer": {}}).reasons
    foreign = engine.decide("data.identity", {"peer": {"svid": {"trust_domain": "evil.test"}}})
    assert foreign.allowed is False
    assert any("Invalid trust domain evil.test" in r for r in foreign.reasons)
    ok = engine.decide("data.identity.allow", {"peer": {"svid": {"trust_domain": "example.com"}}})
    assert ok.allowed is True


def test_digest_changes_with_policy_or_data() -> None:
    a = Engine()
    a.add_source(PolicySource("p.rego", "package p\nallow if input.x == data.v\n"))
    a.set_data("v", 1)
    a.compile()
    b = Engine()
    b.add_source(PolicySource("p.rego", "package p\nallow if input.x == data.v\n"))
    b.set_data("v", 2)
    b.compile()
    assert a.digest != b.digest
    assert a.decide("data.p.allow", {"x": 1}).allowed is True
    assert b.decide("data.p.allow", {"x": 1}).defined is False


def test_compile_error_names_file_line_column() -> None:
    e = Engine()
    e.add_source(PolicySource("policies/bad.rego", "package bad\n\nallow if {\n  input.x ==\n}\n"))
    with pytest.raises(PolicyError) as err:
        e.compile()
    assert str(err.value).startswith("policies/bad.rego:5:")
    assert "Stack backtrace" not in str(err.value)


def test_rego_v0_accepted_per_file() -> None:
    e = Engine()
    e.add_source(PolicySource("old.rego", "package old\ndeny[msg] { input.x; msg := \"x set\" }\n", rego_v0=True))
    e.add_source(PolicySource("new.rego", "package new\ndeny contains \"y\" if input.y\n"))
    assert e.decide("data.old.deny", {"x": True}).reasons == ["x set"]
    assert e.decide("data.new.deny", {"y": True}).reasons == ["y"]


def test_failing_rego_test_is_reported(tmp_path: Path) -> None:
    e = Engine()
    e.add_source(PolicySource("p.rego", "package p\nallow if input.ok\n"))
    e.add_source(PolicySource("p_test.rego", "package p_test\nimport data.p\n"
                              "test_ok if p.allow with input as {\"ok\": true}\n"
                              "test_wrong if p.allow with input as {\"ok\": false}\n"))
    report = run_tests(e)
    by_name = {r.name: r for r in report.results}
    assert by_name["data.p_test.test_ok"].passed
    assert not by_name["data.p_test.test_wrong"].passed
    assert report.failed == 1


def test_policy_test_cli_exits_1_on_failure(workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace_dir / "policies" / "extra_test.rego").write_text(
        "package extra_test\nimport data.egress\n"
        "test_always_denies if count(egress.deny) == 1 with input as {\"ns\": \"prod\", "
        "\"dest\": {\"host\": \"payments.vendors.com\", \"category\": \"unknown\"}}\n")
    res = invoke(capsys, "policy", "test", "-w", str(workspace_dir))
    assert res.code == 1
    assert "FAIL: data.extra_test.test_always_denies" in res.out


def test_eval_rejects_bad_json_input(workspace_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "in.json"
    bad.write_text('{"ns": ')
    res = invoke(capsys, "policy", "eval", "data.egress.deny", "-w", str(workspace_dir), "--input", str(bad))
    assert res.code == 2 and f"{bad}:1:" in res.err and "invalid JSON" in res.err


def test_engine_is_safe_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    e = Engine()
    e.add_source(PolicySource("p.rego", "package p\ndouble := input.n * 2\n"))
    e.compile()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda n: e.evaluate("data.p.double", {"n": n})[1], range(200)))
    assert results == [n * 2 for n in range(200)]
