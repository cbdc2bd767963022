"""`intelsec validation ...` and `intelsec detect ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from intelsec.cli.common import DatabaseOpt, FormatOpt, WorkspaceOpt, check_format, open_database, open_workspace
from intelsec.output import info, print_json, print_table

app = typer.Typer(help="Continuous validation: ATT&CK-mapped scenarios, Sigma detections, policy drift tests.",
                  no_args_is_help=True)
detect_app = typer.Typer(help="Sigma detections over events (JSON/JSONL files or the event store).",
                         no_args_is_help=True)

RulesArg = Annotated[list[Path] | None, typer.Argument(
    help="Sigma rule files or directories (default: the workspace's detections/).", show_default=False)]


def _rule_paths(rules: list[Path] | None, workspace: Path | None) -> list[Path]:
    if rules:
        return rules
    from intelsec.detect.service import WORKSPACE_DETECTIONS

    return [open_workspace(workspace).path(WORKSPACE_DETECTIONS)]


def _say(message: str) -> None:
    """One unwrapped stderr line, so `file:line: message` stays clickable and greppable."""
    typer.echo(message, err=True)


def _report_problems(problems: list, quarantined: list) -> None:  # type: ignore[type-arg]
    for p in problems:
        _say(f"warning: {p.path}: {p.rule + ': ' if p.rule else ''}{p.reason}")
    for q in quarantined:
        _say(f"quarantined: {q.path}:{q.line}: {q.reason}")


@detect_app.command("check")
def detect_check(rules: RulesArg = None, workspace: WorkspaceOpt = None, fmt: FormatOpt = "table") -> None:
    """Compile Sigma rules and list them; exit 1 if any file or rule cannot be compiled.

    \b
    Examples:
      intelsec detect check rules/sigma/
      intelsec detect check -w ./controls --format json
    """
    from intelsec.detect import compile_paths

    check_format(fmt)
    compiled, problems = compile_paths(_rule_paths(rules, workspace))
    rows = [{"rule": r.key, "title": r.title, "level": r.level, "kind": "correlation" if r.is_correlation else "event",
             "fields": ", ".join(r.required_fields), "file": r.path} for r in compiled]
    if fmt == "json":
        print_json({"rules": rows, "problems": [vars(p) for p in problems]})
    else:
        print_table(rows, ["rule", "title", "level", "kind", "fields"], empty="no rules")
        _report_problems(problems, [])
        info(f"{len(compiled)} rule(s) compiled, {len(problems)} problem(s)")
    if problems:
        raise typer.Exit(1)


@detect_app.command("run")
def detect_run(
    rules: RulesArg = None,
    events: Annotated[list[Path] | None, typer.Option("--events", "-e", help="JSON, JSON Lines (.gz too) or "
                                                      "CloudTrail Records file; repeatable.")] = None,
    store: Annotated[bool, typer.Option("--store", help="Run over events in the workspace store instead.")] = False,
    since: Annotated[str, typer.Option(help="With --store: how far back, e.g. 1h, 7d.")] = "24h",
    raise_alerts: Annotated[bool, typer.Option("--alerts/--no-alerts", help="Raise an alert per match in the "
                                               "workspace (source 'detect').")] = False,
    fail_on_match: Annotated[bool, typer.Option("--fail-on-match", help="Exit 1 when any rule matches.")] = False,
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Run Sigma rules (correlations included) over events and report the matches.

    \b
    Examples:
      intelsec detect run rules/ --events cloudtrail.json
      intelsec detect run --store --since 1h -w ./controls --alerts
      intelsec detect run rules/okta.yml -e okta.jsonl --format json --fail-on-match
    """
    from intelsec.clock import parse_duration
    from intelsec.detect.service import detect, detect_files
    from intelsec.errors import InputError

    check_format(fmt)
    if not events and not store:
        raise InputError("give event files with --events FILE, or --store to read the workspace event store")
    try:
        window = parse_duration(since)
    except ValueError as exc:
        raise InputError(f"--since: {exc}") from None
    paths = _rule_paths(rules, workspace)
    alerts = None
    ws = open_workspace(workspace) if (store or raise_alerts) else None
    db = open_database(ws, database) if ws is not None else None
    if raise_alerts and ws is not None and db is not None:
        from intelsec.alerts.factory import alert_service

        alerts = alert_service(ws, db)
    if store and db is not None:
        from datetime import UTC, datetime

        from intelsec.detect import compile_paths
        from intelsec.detect.store import load_events

        compiled, problems = compile_paths(paths)
        docs = load_events(db, since=datetime.now(UTC) - window)
        report = detect(compiled, docs, alerts, problems)
    else:
        report = detect_files(paths, events or [], alerts)
    if fmt == "json":
        print_json(report.as_dict())
    else:
        print_table(report.match_rows, ["rule", "title", "level", "events", "entity"], empty="no matches")
        _report_problems(report.problems, report.quarantined)
        info(f"{len(report.rules)} rule(s) over {report.events} event(s): {len(report.matches)} match(es), "
             f"{len(report.quarantined)} quarantined line(s), {len(report.alert_ids)} alert(s) raised")
    if fail_on_match and report.matches:
        raise typer.Exit(1)


def _runner(workspace: Path | None, database: str | None, environment: str | None = None):  # type: ignore[no-untyped-def]
    from intelsec.alerts.factory import alert_service
    from intelsec.validation.runner import Runner

    ws = open_workspace(workspace)
    db = open_database(ws, database)
    return Runner(ws, db, alert_service(ws, db), environment=environment)


@app.command("list")
def list_(workspace: WorkspaceOpt = None, database: DatabaseOpt = None, fmt: FormatOpt = "table") -> None:
    """List the workspace's scenarios with their technique, schedule, last run and whether they are due.

    \b
    Examples:
      intelsec validation list -w ./controls
      intelsec validation list --format json
    """
    check_format(fmt)
    runner = _runner(workspace, database)
    last = runner.last_runs()
    due = {sid for sid, _ in runner.due()}
    rows = [{"id": sid, "name": sc.name, "technique": sc.technique, "schedule": sc.schedule, "enabled": sc.enabled,
             "steps": len(sc.steps), "expect": ", ".join(e.alert for e in sc.expect),
             "last_run": last[sid].isoformat() if sid in last else None, "due": sid in due}
            for sid, sc in runner.scenarios()]
    if fmt == "json":
        print_json({"scenarios": rows})
    else:
        print_table(rows, ["id", "technique", "schedule", "last_run", "due", "expect"], empty="no scenarios")


@app.command("actions")
def actions(fmt: FormatOpt = "table") -> None:
    """List the safe simulation actions scenarios can use (they only write synthetic telemetry).

    \b
    Example:
      intelsec validation actions
    """
    from intelsec.validation.actions import ACTIONS

    check_format(fmt)
    rows = [{"action": a.name, "technique": a.technique, "description": a.description} for a in ACTIONS.values()]
    if fmt == "json":
        print_json({"actions": rows})
    else:
        print_table(rows, ["action", "technique", "description"])


@app.command("run")
def run(
    scenarios: Annotated[list[str] | None, typer.Argument(help="Scenario ids (file stems) or names; default all.",
                                                          show_default=False)] = None,
    due: Annotated[bool, typer.Option("--due", help="Only scenarios whose cron schedule is due since their "
                                      "last recorded run.")] = False,
    environment: Annotated[str | None, typer.Option("--environment", "-E", help="Environment this run is in "
                                                    "(default: validation.environment, staging).")] = None,
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Run scenarios: simulate, detect, record; exit 1 if any expectation is missed or a run is stopped.

    \b
    Examples:
      intelsec validation run -w ./controls
      intelsec validation run mfa_fatigue kube_exec
      intelsec validation run --due          # from cron or CI, e.g. every 15 minutes
    """
    check_format(fmt)
    runner = _runner(workspace, database, environment)
    picked = runner.due() if due else [p for p in runner.select(scenarios or []) if scenarios or p[1].enabled]
    if due and scenarios:
        picked = [p for p in picked if {p[0], p[1].name} & set(scenarios)]
    outcomes = [runner.run(sid, sc) for sid, sc in picked]
    if fmt == "json":
        print_json({"runs": [o.as_dict() for o in outcomes]})
    else:
        rows = []
        for o in outcomes:
            base = {"scenario": o.scenario_id, "technique": o.technique, "status": o.status, "events": o.events}
            rows += [{**base, "expectation": e.alert, "outcome": e.status, "reason": e.reason or ""}
                     for e in o.expectations] or [{**base, "expectation": "-", "outcome": "-", "reason": o.reason}]
        print_table(rows, ["scenario", "technique", "status", "events", "expectation", "outcome", "reason"],
                    empty="nothing to run" + (" (no scenario is due)" if due else ""))
        passed = sum(o.status == "passed" for o in outcomes)
        info(f"{passed}/{len(outcomes)} scenario run(s) passed")
    if any(o.status != "passed" for o in outcomes):
        raise typer.Exit(1)


@app.command("kill")
def kill(
    off: Annotated[bool, typer.Option("--off", help="Release the kill switch.")] = False,
    reason: Annotated[str, typer.Option(help="Why simulations are stopped.")] = "stopped by operator",
    by: Annotated[str, typer.Option(help="Who pulls the switch.")] = "cli",
    workspace: WorkspaceOpt = None,
) -> None:
    """Engage (or with --off release) the kill switch: running scenarios stop before their next step.

    \b
    Examples:
      intelsec validation kill --reason "incident in progress"
      intelsec validation kill --off
    """
    from intelsec.clock import SystemClock
    from intelsec.validation import killswitch

    ws = open_workspace(workspace)
    if off:
        released = killswitch.release(ws.state_dir)
        info("kill switch released" if released else "kill switch was not engaged")
        return
    killswitch.engage(ws.state_dir, reason, by, SystemClock().now())
    info(f"kill switch engaged: {killswitch.kill_path(ws.state_dir)}")


@app.command("status")
def status(workspace: WorkspaceOpt = None, database: DatabaseOpt = None,
           limit: Annotated[int, typer.Option(min=1, max=1000)] = 20, fmt: FormatOpt = "table") -> None:
    """Show the kill switch and the most recent validation runs.

    \b
    Example:
      intelsec validation status -w ./controls
    """
    from intelsec.store.runs import recent_runs
    from intelsec.validation import killswitch
    from intelsec.validation.runner import RUN_KIND

    check_format(fmt)
    ws = open_workspace(workspace)
    kill_state = killswitch.status(ws.state_dir)
    runs = recent_runs(open_database(ws, database), RUN_KIND, limit=limit)
    rows = [{"run": r.id[:12], "scenario": (r.summary or {}).get("scenario_id"), "status": r.status,
             "started_at": r.started_at.isoformat(), "reason": (r.summary or {}).get("reason")} for r in runs]
    if fmt == "json":
        print_json({"kill_switch": vars(kill_state), "runs": rows})
    else:
        info("kill switch: " + (f"ENGAGED ({kill_state.reason})" if kill_state.engaged else "off"))
        print_table(rows, ["run", "scenario", "status", "started_at", "reason"], empty="no runs yet")


@app.command("drift")
def drift(
    policies: Annotated[list[Path], typer.Option("--policies", "-p", help="Directory or file of Kyverno/Gatekeeper "
                                                 "YAML; repeatable.")],
    baseline: Annotated[Path | None, typer.Option("--baseline", "-b", help="Baseline JSON to compare with.")] = None,
    exception_budget: Annotated[int | None, typer.Option("--exception-budget", min=0,
                                                         help="Fail when PolicyExceptions exceed this.")] = None,
    write_baseline: Annotated[Path | None, typer.Option("--write-baseline", help="Write the current state as the "
                                                        "new baseline and exit 0.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or sarif")] = "table",
) -> None:
    """Policy drift test for CI: exit 1 if a rule is disabled, downgraded or removed, or exceptions exceed the budget.

    \b
    Examples:
      intelsec validation drift -p k8s/policies --write-baseline policy-baseline.json
      intelsec validation drift -p k8s/policies -b policy-baseline.json --exception-budget 5
      intelsec validation drift -p k8s/ -b policy-baseline.json --format sarif > drift.sarif
    """
    from intelsec.output import SARIF_LEVEL, sarif_log
    from intelsec.validation.drift import compare, read_baseline, report
    from intelsec.validation.drift import write_baseline as save_baseline
    from intelsec.validation.k8s_policies import inventory

    check_format(fmt, ("table", "json", "sarif"))
    inv = inventory(policies)
    if write_baseline is not None:
        if inv.errors:
            for e in inv.errors:
                _say(f"error: {e}")
            raise typer.Exit(2)
        save_baseline(inv, write_baseline)
        info(f"baseline written: {write_baseline} ({len(inv.controls)} controls, {inv.exception_count} exceptions)")
        return
    findings = compare(inv, read_baseline(baseline) if baseline else None, exception_budget)
    doc = report(inv, findings, exception_budget)
    if fmt == "json":
        print_json(doc)
    elif fmt == "sarif":
        kinds = sorted({f.type for f in findings})
        results = [{"ruleId": f.type, "level": SARIF_LEVEL["high"] if f.fails else SARIF_LEVEL["info"],
                    "message": {"text": f.message},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": f.where.rsplit(":", 1)[0]},
                                                        "region": {"startLine": int(f.where.rsplit(":", 1)[1])}}}]
                    if f.where else []} for f in findings]
        print_json(sarif_log("intelsec-policy-drift", [{"id": k, "name": k} for k in kinds], results))
    else:
        print_table([{**vars(f), "fails": "FAIL" if f.fails else "info"} for f in findings],
                    ["fails", "type", "control", "baseline", "current", "where"], empty="no drift")
        for msg in inv.errors:
            _say(f"error: {msg}")
        for msg in inv.problems:
            _say(f"warning: {msg}")
        info(f"{len(inv.controls)} controls ({', '.join(f'{n} {m}' for m, n in doc['modes'].items() if n)}), "
             f"{inv.exception_count} exception(s)" + (f" / budget {exception_budget}" if exception_budget is not None
                                                      else "") + f", {len(inv.skipped)} other document(s) skipped")
    if inv.errors:
        if fmt != "table":
            for msg in inv.errors:
                _say(f"error: {msg}")
        raise typer.Exit(2)
    if not doc["ok"]:
        raise typer.Exit(1)


@app.command("coverage")
def coverage_cmd(workspace: WorkspaceOpt = None, database: DatabaseOpt = None, fmt: FormatOpt = "table") -> None:
    """ATT&CK coverage: techniques with their scenarios, detections, last run and gaps; exit 1 on any gap.

    \b
    Examples:
      intelsec validation coverage -w ./controls
      intelsec validation coverage --format json
    """
    from intelsec.store.runs import recent_runs
    from intelsec.validation.coverage import coverage
    from intelsec.validation.runner import RUN_KIND

    check_format(fmt)
    runner = _runner(workspace, database)
    last: dict[str, str] = {}
    for r in recent_runs(runner.db, RUN_KIND, limit=5000):
        sid = (r.summary or {}).get("scenario_id")
        if sid and sid not in last:
            last[sid] = r.status
    rules, problems = runner.rules()
    rows = coverage(runner.scenarios(), rules, problems, last)
    if fmt == "json":
        print_json({"techniques": rows})
    else:
        print_table([{**r, "scenarios": ", ".join(r["scenarios"]), "detections": ", ".join(r["detections"]),
                      "gaps": "; ".join(r["gaps"]) or "-"} for r in rows],
                    ["technique", "scenarios", "detections", "last_run", "gaps"], empty="no techniques")
    if any(r["gaps"] for r in rows):
        raise typer.Exit(1)
