"""Scenario runner: the shipped scenarios are detected by the shipped Sigma rules; guardrails, kill
switch, timeout, coverage gaps, schedules and the outbox behave."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from intelsec.alerts.factory import alert_service
from intelsec.clock import FrozenClock
from intelsec.config import Workspace
from intelsec.store.db import Database, upgrade
from intelsec.store.models import Alert, Event, Run
from intelsec.validation import killswitch
from intelsec.validation.actions import ACTIONS, Action, ActionContext, SimEvent
from intelsec.validation.runner import GAP_RULE, Runner
from intelsec.validation.schemas import Scenario, Step, ValidationSettings
from tests.clirunner import invoke

MONDAY_0700 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def _runner(root: Path, url: str | None = None, clock: FrozenClock | None = None, **kw: Any) -> Runner:
    ws = Workspace.load(root)
    url = url or ws.database_url()
    upgrade(url)
    db = Database(url)
    clock = clock or FrozenClock(MONDAY_0700)
    return Runner(ws, db, alert_service(ws, db, clock), clock=clock, seed=7, **kw)


def test_every_shipped_scenario_is_detected(workspace_dir: Path) -> None:
    runner = _runner(workspace_dir)
    scenarios = runner.scenarios()
    assert len(scenarios) >= 6
    assert all(sc.technique and sc.schedule and sc.expect for _, sc in scenarios)
    outcomes = [runner.run(sid, sc) for sid, sc in scenarios]
    assert {o.scenario_id: o.status for o in outcomes} == {sid: "passed" for sid, _ in scenarios}
    assert all(e.status == "detected" and e.alert_id for o in outcomes for e in o.expectations)
    with runner.db.session() as s:
        runs = s.scalars(select(Run).where(Run.kind == "validation")).all()
        assert sorted(r.status for r in runs) == ["passed"] * len(scenarios)
        alerts = s.scalars(select(Alert).where(Alert.source == "detect")).all()
        assert alerts and all(a.test for a in alerts)  # simulations never count as real incidents
        assert {a.evidence["simulation_runs"][0] for a in alerts} == {o.run_id for o in outcomes}
        events = s.scalars(select(Event)).all()
        assert all(e.data["simulation"] is True and "intelsec-sim-" in json.dumps(e.data) for e in events)
    outbox = json.loads(Path(outcomes[0].outbox or "").read_text())
    assert outbox["status"] == "passed" and outbox["run_id"] == outcomes[0].run_id


@pytest.mark.postgres
def test_mfa_fatigue_on_postgresql(workspace_dir: Path, pg_url: str) -> None:
    runner = _runner(workspace_dir, pg_url)
    outcome = runner.run(*runner.select(["mfa_fatigue"])[0])
    assert outcome.status == "passed", outcome


def test_missed_expectations_raise_coverage_gaps_with_reasons(workspace_dir: Path) -> None:
    (workspace_dir / "detections" / "k8s_exec_into_pod.yml").unlink()
    weak = workspace_dir / "validation" / "scenarios" / "mfa_fatigue.yaml"
    weak.write_text(weak.read_text().replace("repeat: 6", "repeat: 3"))
    runner = _runner(workspace_dir)
    exec_run = runner.run(*runner.select(["kube_exec"])[0])
    mfa_run = runner.run(*runner.select(["MFA Fatigue Simulation"])[0])
    assert exec_run.status == mfa_run.status == "failed"
    assert "no detection named 'k8s_exec_into_pod'" in (exec_run.expectations[0].reason or "")
    assert "matched none of the 3 simulated events" in (mfa_run.expectations[0].reason or "")
    gaps = runner.alerts.list(source="validation")
    assert {g.rule for g in gaps} == {GAP_RULE}
    assert {g.entity for g in gaps} == {"kube_exec", "mfa_fatigue"}
    assert all(not g.test for g in gaps)


def _scenario(action: str, repeat: int = 1, **params: Any) -> Scenario:
    return Scenario(name="custom", technique="T1609", steps=[Step(action=action, repeat=repeat, params=params)])


def test_kill_switch_stops_before_the_next_step(workspace_dir: Path) -> None:
    state = Workspace.load(workspace_dir).state_dir

    def emit(ctx: ActionContext, params: dict[str, Any], i: int) -> list[SimEvent]:
        if i == 1:
            killswitch.engage(state, "incident bridge open", "oncall", ctx.now)
        return ACTIONS["k8s.exec"].emit(ctx, params, i)

    actions = {**ACTIONS, "test.exec": Action("test.exec", "T1609", "exec then kill", emit)}
    runner = _runner(workspace_dir, actions=actions)
    out = runner.run("custom", _scenario("test.exec", repeat=5))
    assert (out.status, out.events) == ("aborted", 2)
    assert "kill switch engaged (incident bridge open)" in (out.reason or "")
    with runner.db.session() as s:
        assert s.get(Run, out.run_id).status == "aborted"  # type: ignore[union-attr]
    assert json.loads(Path(out.outbox or "").read_text())["status"] == "aborted"
    # engaged before the run: nothing is emitted at all; released: runs again
    again = runner.run("custom", _scenario("k8s.exec"))
    assert (again.status, again.events) == ("aborted", 0)
    assert killswitch.release(state)
    released = runner.run("custom", _scenario("k8s.exec"))
    assert (released.status, released.events) == ("passed", 1)


def test_a_failing_step_aborts_and_records_the_run(workspace_dir: Path) -> None:
    runner = _runner(workspace_dir)
    out = runner.run("custom", _scenario("egress.upload_paste_site", bytes="lots"))
    assert out.status == "aborted" and "ValueError" in (out.reason or "")
    with runner.db.session() as s:
        assert s.get(Run, out.run_id).status == "aborted"  # type: ignore[union-attr]


def test_timeout_aborts_the_run(workspace_dir: Path) -> None:
    clock = FrozenClock(MONDAY_0700)

    def slow(ctx: ActionContext, params: dict[str, Any], i: int) -> list[SimEvent]:
        clock.advance(50)
        return ACTIONS["idp.push_mfa"].emit(ctx, params, i)

    actions = {**ACTIONS, "test.slow": Action("test.slow", "T1621", "slow", slow)}
    settings = ValidationSettings(timeout_seconds=120)
    out = _runner(workspace_dir, clock=clock, actions=actions, settings=settings).run("slow", _scenario("test.slow", 6))
    assert out.status == "aborted" and out.reason is not None and out.reason.startswith("timeout")
    assert out.events == 3


@pytest.mark.parametrize(("scenario", "env", "message"), [
    (_scenario("k8s.exec"), "prod", "environment 'prod' is not in allowed_environments"),
    (_scenario("iam.create_access_key", target_user="alice"), "staging", "target_user 'alice' is not synthetic"),
    (_scenario("idp.push_mfa", repeat=60), "staging", "exceeds max_repeats_per_step=50"),
    (_scenario("net.portscan"), "staging", "unknown action 'net.portscan'"),
    (Scenario(name="x", principal="root", steps=[Step(action="k8s.exec")]), "staging", "principal 'root' is not"),
])
def test_guardrails_block_before_anything_is_emitted(workspace_dir: Path, scenario: Scenario, env: str,
                                                     message: str) -> None:
    runner = _runner(workspace_dir, environment=env)
    out = runner.run("custom", scenario)
    assert out.status == "blocked" and message in (out.reason or "")
    with runner.db.session() as s:
        assert s.scalars(select(Event)).all() == []


def test_schedules_are_due_after_their_cron_time(workspace_dir: Path) -> None:
    clock = FrozenClock(MONDAY_0700)
    runner = _runner(workspace_dir, clock=clock)
    all_ids = {sid for sid, _ in runner.scenarios()}
    assert {sid for sid, _ in runner.due()} == all_ids  # never run: all due
    for sid, sc in runner.due():
        runner.run(sid, sc)
    clock.advance(timedelta(days=6))
    assert runner.due() == []
    clock.set(MONDAY_0700 + timedelta(days=7, minutes=-30))  # next Monday 06:30
    assert {sid for sid, _ in runner.due()} == {"iam_key_backdoor", "iam_key_misuse", "kube_exec", "kube_secrets_enum"}
    clock.set(MONDAY_0700 + timedelta(days=7))
    assert {sid for sid, _ in runner.due()} == all_ids


def test_invalid_cron_is_a_config_error(workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = workspace_dir / "validation" / "scenarios" / "kube_exec.yaml"
    bad.write_text(bad.read_text().replace('"20 6 * * 1"', '"every monday"'))
    res = invoke(capsys, "config", "validate", "-w", str(workspace_dir))
    assert res.code != 0 and "kube_exec.yaml:4" in res.out + res.err


def test_cli_run_kill_status_list(workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = ["-w", str(workspace_dir)]
    res = invoke(capsys, "validation", "run", "kube_exec", "cloudtrail_tamper", *w, "--format", "json")
    assert res.code == 0, res.err
    assert [r["status"] for r in json.loads(res.out)["runs"]] == ["passed", "passed"]
    assert invoke(capsys, "validation", "run", "nope", *w).code == 1
    assert invoke(capsys, "validation", "kill", *w, "--reason", "change freeze").code == 0
    res = invoke(capsys, "validation", "run", "kube_exec", *w)
    assert res.code == 1 and "aborted" in res.out
    res = invoke(capsys, "validation", "status", *w, "--format", "json")
    doc = json.loads(res.out)
    assert doc["kill_switch"]["engaged"] is True and doc["kill_switch"]["reason"] == "change freeze"
    assert doc["runs"][0]["status"] == "aborted"
    assert invoke(capsys, "validation", "kill", "--off", *w).code == 0
    res = invoke(capsys, "validation", "list", *w, "--format", "json")
    rows = {r["id"]: r for r in json.loads(res.out)["scenarios"]}
    assert rows["kube_exec"]["last_run"] and not rows["kube_exec"]["due"]
    assert rows["mfa_fatigue"]["due"]
    res = invoke(capsys, "validation", "run", "kube_exec", *w, "-E", "prod")
    assert res.code == 1 and "blocked" in res.out


def test_attack_coverage_reports_gaps(workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = ["-w", str(workspace_dir)]
    res = invoke(capsys, "validation", "coverage", *w, "--format", "json")
    assert res.code == 1 and all(r["gaps"] == ["never run"] for r in json.loads(res.out)["techniques"])
    assert invoke(capsys, "validation", "run", *w).code == 0
    assert invoke(capsys, "validation", "coverage", *w).code == 0
    (workspace_dir / "detections" / "k8s_secrets_listed.yml").unlink()
    (workspace_dir / "detections" / "k8s_admission_webhook_changed.yml").write_text("""title: Admission webhook changed
name: k8s_admission_webhook_changed
tags: [attack.defense-evasion, attack.t1562.001]
logsource: {product: kubernetes, service: audit}
detection:
  sel: {objectRef.resource: validatingwebhookconfigurations, verb: [patch, delete]}
  condition: sel
level: high
""")
    res = invoke(capsys, "validation", "coverage", *w, "--format", "json")
    rows = {r["technique"]: r for r in json.loads(res.out)["techniques"]}
    assert res.code == 1
    assert rows["T1552.007"]["gaps"] == ["kube_secrets_enum: expected 'k8s_secrets_listed' is missing"]
    assert rows["T1562.001"]["gaps"] == ["no scenario exercises this detection"]
    assert rows["T1609"]["gaps"] == []


def test_coverage_counts_every_scenario_of_a_technique() -> None:
    from intelsec.validation.coverage import coverage

    two = [(sid, Scenario(name=sid, technique="T1609", steps=[Step(action="k8s.exec")])) for sid in ("a", "b", "c")]
    rows = coverage(two, [], [], {"a": "passed", "b": "aborted", "c": "passed"})
    assert rows[0]["last_run"] == "aborted" and "last run aborted" in rows[0]["gaps"]
    rows = coverage(two, [], [], {"a": "passed"})
    assert rows[0]["last_run"] == "passed" and "never run" in rows[0]["gaps"]


def test_bad_settings_name_file_line_and_key(workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = workspace_dir / "intelsec.yaml"
    cfg.write_text(cfg.read_text() + "\nvalidation:\n  max_steps_per_run: -1\n")
    res = invoke(capsys, "validation", "list", "-w", str(workspace_dir))
    line = len(cfg.read_text().splitlines())
    assert res.code == 2 and f"intelsec.yaml:{line}: validation.max_steps_per_run:" in res.err
    assert len(res.err.strip().splitlines()) == 1
