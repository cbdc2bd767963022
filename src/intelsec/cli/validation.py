"""`intelsec validation ...` and `intelsec detect ...` (the latter also as `intelsec validation detect`)."""

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
app.add_typer(detect_app, name="detect")

RulesArg = Annotated[list[Path] | None, typer.Argument(
    help="Sigma rule files or directories (default: the workspace's detections/).", show_default=False)]


def _rule_paths(rules: list[Path] | None, workspace: Path | None) -> list[Path]:
    if rules:
        return rules
    from intelsec.detect.service import WORKSPACE_DETECTIONS

    return [open_workspace(workspace).path(WORKSPACE_DETECTIONS)]


def _report_problems(problems: list, quarantined: list) -> None:  # type: ignore[type-arg]
    for p in problems:
        info(f"warning: {p.path}: {p.rule + ': ' if p.rule else ''}{p.reason}")
    for q in quarantined:
        info(f"quarantined: {q.path}:{q.line}: {q.reason}")


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
    from intelsec.detect.service import detect, detect_files

    check_format(fmt)
    if not events and not store:
        from intelsec.errors import InputError

        raise InputError("give event files with --events FILE, or --store to read the workspace event store")
    paths = _rule_paths(rules, workspace)
    alerts = None
    ws = open_workspace(workspace) if (store or raise_alerts) else None
    db = open_database(ws, database) if ws is not None else None
    if raise_alerts and ws is not None and db is not None:
        from intelsec.alerts.factory import alert_service

        alerts = alert_service(ws, db)
    if store and db is not None:
        from datetime import UTC, datetime

        from intelsec.clock import parse_duration
        from intelsec.detect import compile_paths
        from intelsec.detect.store import load_events

        compiled, problems = compile_paths(paths)
        docs = load_events(db, since=datetime.now(UTC) - parse_duration(since))
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
