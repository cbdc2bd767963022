"""The workspace's Prometheus rules and Grafana dashboard: valid, tested with promtool, and only
referencing metrics that intelsec really exposes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from intelsec.workspace.scaffold import TEMPLATE_DIR

RULES = TEMPLATE_DIR / "metrics" / "alerts" / "prometheus-rules-v4.yaml"
DASHBOARD = TEMPLATE_DIR / "metrics" / "grafana" / "intel-sec-v4.json"
SRC = Path(__file__).resolve().parents[2] / "src" / "intelsec"
METRIC = re.compile(r"\bintelsec_[a-z0-9_]+")


def _promtool() -> str:
    tool = shutil.which("promtool")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool not found: CI must install Debian's prometheus")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return tool


def _exposed() -> set[str]:
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        names.update(re.findall(r"[\"'](intelsec_[a-z0-9_]+)[\"']", path.read_text(encoding="utf-8")))
    return names


def _base(name: str) -> str:
    return re.sub(r"_(total|bucket|sum|count|created)$", "", name)


def test_dashboard_has_the_plans_panels_and_real_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text())
    titles = {p["title"] for p in dash["panels"]}
    for wanted in ("Attested callers %", "Egress blocks by category", "Auto-PR velocity (PRs opened / day)",
                   "Deception hits", "Validation pass rate", "PII tokens / min"):
        assert wanted in titles
    exposed = _exposed()
    used = {m for p in dash["panels"] for t in p["targets"] for m in METRIC.findall(t["expr"])}
    missing = {m for m in used if _base(m) not in exposed and m not in exposed}
    assert not missing, f"dashboard references metrics nobody exposes: {sorted(missing)}"


def test_rules_reference_only_exposed_metrics() -> None:
    exposed = _exposed()
    used = set(METRIC.findall(RULES.read_text()))
    missing = {m for m in used if _base(m) not in exposed and m not in exposed}
    assert not missing, f"rules reference metrics nobody exposes: {sorted(missing)}"


def test_promtool_accepts_rules() -> None:
    res = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


UNIT_TESTS = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'intelsec_egress_exceptions_expired'
        values: '0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1'
      - series: 'intelsec_deception_hits{{asset="a1", kind="canary_route"}}'
        values: '3 3 3 3 10 12 12 12 12 12 12 12 12 12 12 12 12 12 12 12'
      - series: 'intelsec_dispatcher_backlog{{status="dead"}}'
        values: '0 0 0 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2'
      - series: 'intelsec_alert_events_total{{source="egress", rule="egress.drift.policy_count"}}'
        values: '0 0 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1'
    alert_rule_test:
      - eval_time: 1m
        alertname: IntelsecEgressExceptionTTLBreach
        exp_alerts: []
      - eval_time: 19m
        alertname: IntelsecEgressExceptionTTLBreach
        exp_alerts:
          - exp_labels: {{severity: high, area: egress}}
            exp_annotations:
              summary: "1 egress exception(s) past their expiry are still declared"
              runbook: docs/runbooks/egress-policy.md
      - eval_time: 3m
        alertname: IntelsecCanaryHitSpike
        exp_alerts: []
      - eval_time: 6m
        alertname: IntelsecCanaryHitSpike
        exp_alerts:
          - exp_labels: {{severity: critical, area: deception}}
            exp_annotations:
              summary: "9 touches of deceptive assets in 10 minutes"
              runbook: docs/runbooks/deception.md
      - eval_time: 4m
        alertname: IntelsecAlertDeliveryDead
        exp_alerts:
          - exp_labels: {{severity: high, area: platform}}
            exp_annotations:
              summary: "2 alert deliveries were given up on; fix the sink, then retry them"
              fix: intelsec alerts dispatch --retry-dead --once
      - eval_time: 10m
        alertname: IntelsecEgressPolicyDrift
        exp_alerts:
          - exp_labels: {{severity: high, area: egress}}
            exp_annotations:
              summary: "Live egress policies differ from git (policy count, rules or modes)"
              runbook: docs/runbooks/egress-policy.md
"""


def test_promtool_unit_tests_fire_the_alerts(tmp_path: Path) -> None:
    tests = tmp_path / "rules_test.yaml"
    tests.write_text(UNIT_TESTS.format(rules=json.dumps(str(RULES))))
    res = subprocess.run([_promtool(), "test", "rules", str(tests)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
