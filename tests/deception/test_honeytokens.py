"""Honeytokens: format-valid decoys, CloudTrail detection, plain-log detection, DLP fingerprints."""

from __future__ import annotations

import gzip
import json
import re
import time
from pathlib import Path

import pytest

from intelsec.deception.honeytokens import api_token, aws_access_key, check_test_token, make_test_token
from intelsec.fingerprints import classify, load_all
from intelsec.store.models import Alert
from tests.deception.conftest import Deployed
from tests.deception.helpers import invoke

CT_SAMPLE = "sigma/logs/cloudtrail.stratus.aws.persistence.iam-backdoor-user.json"


def _alerts(d: Deployed, asset: str) -> list[Alert]:
    with d.db.session() as s:
        return list(s.query(Alert).filter(Alert.entity == asset).all())


def test_formats_are_valid() -> None:
    key_id, secret = aws_access_key()
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key_id) and re.fullmatch(r"[A-Za-z0-9/+]{40}", secret)
    assert re.fullmatch(r"sk_live_[A-Za-z0-9]{32}", api_token("sk_live_"))
    assert len({aws_access_key()[0] for _ in range(50)}) == 50


def test_test_tokens_need_the_key_and_expire() -> None:
    tok = make_test_token("k1", "a", 1000)
    assert check_test_token(["k0", "k1"], "a", tok, now=1100)
    assert not check_test_token(["k0"], "a", tok, now=1100)
    assert not check_test_token(["k1"], "b", tok, now=1100)
    assert not check_test_token(["k1"], "a", tok, now=2000)
    assert check_test_token(["k1"], "a", tok[:45], now=1000)  # short form
    assert not check_test_token(["k1"], "a", tok[:20], now=1000)
    assert not check_test_token(["k1"], "a", "garbage", now=1000)


def test_access_key_found_in_cloudtrail(deployed: Deployed, corpus_dir: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    records = json.loads((corpus_dir / CT_SAMPLE).read_text())
    key_id = deployed.registry.current("aws-ci-deploy-key").public
    clean = invoke(capsys, "deception", "scan-logs", str(corpus_dir / CT_SAMPLE), "-w", str(deployed.ws.root))
    assert clean.code == 0 and "no honeytoken found" in clean.out
    used = [dict(r, userIdentity={**r["userIdentity"], "accessKeyId": key_id}) for r in records]
    trail = tmp_path / "123456789012_CloudTrail_us-east-1_20260101T0000Z.json.gz"
    trail.write_bytes(gzip.compress(json.dumps({"Records": records + used}).encode()))
    lines = tmp_path / "trail.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in used) + "\n{broken\n")
    res = invoke(capsys, "deception", "scan-logs", str(trail), str(lines), "-f", "json", "-w", str(deployed.ws.root))
    assert res.code == 1, res.err
    out = json.loads(res.out)
    assert len(out["hits"]) == 2 and out["records"] == len(records) * 2 + 1
    assert out["unreadable"] == [f"{lines}:2: not JSON"]
    alerts = _alerts(deployed, "aws-ci-deploy-key")
    assert len(alerts) == 1 and alerts[0].count == 2 and alerts[0].test is False
    ev = alerts[0].evidence
    assert ev["source_ip"] == records[0]["sourceIPAddress"] and ev["path"] == "iam.amazonaws.com CreateAccessKey"
    secret = deployed.registry.current("aws-ci-deploy-key").secret["secret_access_key"]
    assert secret not in json.dumps(ev)


def test_api_token_found_in_plain_log(deployed: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = deployed.registry.current("api-token-billing-export").secret["token"]
    log = tmp_path / "access.log"
    log.write_text(f'10.0.0.1 - - "GET /v1/charges HTTP/1.1" 401 auth="Bearer {token}"\nnothing here\n')
    res = invoke(capsys, "deception", "scan-logs", str(log), "-f", "json", "-w", str(deployed.ws.root))
    assert res.code == 1 and json.loads(res.out)["hits"][0]["where"] == f"{log}:1"
    assert token not in res.out
    assert _alerts(deployed, "api-token-billing-export")[0].evidence["channel"] == "log"


def test_test_marked_cloudtrail_use(deployed: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = deployed.registry.current("aws-ci-deploy-key")
    token = make_test_token(m.key, m.asset_id, int(time.time()))
    rec = {"eventName": "GetCallerIdentity", "eventSource": "sts.amazonaws.com", "sourceIPAddress": "10.9.9.9",
           "userAgent": f"aws-cli/2 intelsec-test:{token}", "userIdentity": {"accessKeyId": m.public}}
    (tmp_path / "t.json").write_text(json.dumps({"Records": [rec]}))
    assert invoke(capsys, "deception", "scan-logs", str(tmp_path / "t.json"), "-w", str(deployed.ws.root)).code == 1
    assert [a.test for a in _alerts(deployed, "aws-ci-deploy-key")] == [True]


def test_missing_file_is_reported_and_the_rest_scanned(deployed: Deployed, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "quiet.log").write_text("nothing to see\n")
    res = invoke(capsys, "deception", "scan-logs", str(tmp_path / "nope.json"), str(tmp_path / "quiet.log"),
                 "-f", "json", "-w", str(deployed.ws.root))
    doc = json.loads(res.out)
    assert res.code == 2 and "cannot read" in doc["unreadable"][0]
    assert doc["files"] == 1  # the readable file was still scanned


def test_dlp_filter_knows_every_planted_value(deployed: Deployed) -> None:
    filters = load_all(deployed.ws.state_dir)
    for asset in ("aws-ci-deploy-key", "api-token-billing-export", "canary-url-breakglass", "honey-db-backup-admin"):
        for k, v in deployed.registry.current(asset).secret.items():
            assert (classify(v, filters) == "honeytoken") == (k != "key"), (asset, k)
    old = deployed.registry.current("api-token-billing-export").secret["token"]
    new = deployed.registry.rotate("api-token-billing-export", deployed.cfg.canary_base()).secret["token"]
    assert classify(new, load_all(deployed.ws.state_dir)) == "honeytoken"
    assert classify(old, load_all(deployed.ws.state_dir)) == "honeytoken"


def test_dlp_scanner_reports_planted_values_as_honeytokens(deployed: Deployed, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Runs the workspace's DLP scanner when the installed intelsec has one."""
    token = deployed.registry.current("api-token-billing-export").secret["token"]
    key_id = deployed.registry.current("aws-ci-deploy-key").public
    leak = tmp_path / "config.env"
    leak.write_text(f"BILLING_TOKEN={token}\nAWS_ACCESS_KEY_ID={key_id}\n")
    res = invoke(capsys, "privacy", "dlp", "scan", str(leak), "-f", "json", "-w", str(deployed.ws.root))
    if "No such command" in res.err:
        pytest.skip("this build has no DLP scanner")
    if res.code not in (0, 1):
        pytest.skip(f"the DLP scanner did not run: {res.err.strip()[:200]}")
    findings = json.loads(res.out)["findings"]
    assert findings and {f["status"] for f in findings} == {"honeytoken"}
    assert token not in res.out and key_id not in res.out


def test_too_deep_json_record_is_counted_and_the_rest_scanned(tmp_path: Path) -> None:
    from intelsec.deception.logscan import scan

    trail = tmp_path / "deep.json"
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    record = {"eventName": "x", "userIdentity": {"accessKeyId": "AKIAEXAMPLE"}}
    trail.write_text(deep + "\n" + json.dumps(record) + "\n")
    stats = scan([trail], {"AKIAEXAMPLE": "aws-ci-deploy-key"}, {})
    assert stats.bad == [f"{trail}:1: not JSON"] and [h.line for h in stats.hits] == [2]
