"""`intelsec egress ...`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from intelsec.cli.common import DatabaseOpt, FormatOpt, WorkspaceOpt, check_format, open_database, open_workspace
from intelsec.errors import InputError
from intelsec.output import info, print_json, print_table

if TYPE_CHECKING:
    from intelsec.alerts.models import AlertIn
    from intelsec.config import Workspace

app = typer.Typer(
    help="Egress governance: evaluate flows, run the enforcing proxy, render Cilium/K8s policies, detect drift.",
    no_args_is_help=True,
)

EnvOpt = Annotated[
    str | None,
    typer.Option("--env", "-e", help="Environment (egress/enforcement.yaml); default: its default_environment"),
]
AlertsOpt = Annotated[bool, typer.Option("--alerts/--no-alerts", help="Raise alerts on the alert bus")]
MAX_BLOCK_ALERTS = 50


def _raise_alerts(ws: Workspace, database: str | None, alerts: list[AlertIn]) -> int:
    if not alerts:
        return 0
    from intelsec.alerts.factory import alert_service

    service = alert_service(ws, open_database(ws, database))
    for a in alerts:
        service.raise_alert(a)
    return len(alerts)


def _mapping(path: Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    from intelsec.yamlio import read_yaml

    data = read_yaml(path).data
    fields = data.get("fields", data) if isinstance(data, dict) else None
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise InputError(f"{path}: a field mapping is a YAML mapping of canonical field -> source field")
    return {str(k): v for k, v in fields.items()}


@app.command("eval")
def eval_(
    flows: Annotated[
        list[Path], typer.Argument(help="Flow log files (Hubble JSON, VPC Flow Logs, Squid, Envoy, JSONL, CSV; .gz ok)")
    ],
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
    env: EnvOpt = None,
    fmt: FormatOpt = "table",
    input_format: Annotated[
        str | None, typer.Option("--input-format", help="Force a reader: hubble, envoy, aws-vpcflow, squid, jsonl, csv")
    ] = None,
    mapping: Annotated[Path | None, typer.Option("--mapping", help="YAML field mapping for generic JSONL/CSV")] = None,
    quarantine: Annotated[
        Path | None, typer.Option("--quarantine", help="Write unreadable lines (file, line, reason) here as JSONL")
    ] = None,
    decisions: Annotated[
        bool, typer.Option("--decisions/--summary-only", help="Include per-flow decisions in JSON output")
    ] = True,
    alerts: AlertsOpt = True,
) -> None:
    """Decide allow/log/block for every flow and summarise. Exit 1 if anything is blocked or unreadable.

    \b
    Examples:
      intelsec egress eval hubble.jsonl --env staging
      intelsec egress eval vpc-flows.log squid/access.log --env prod --format json
      intelsec egress eval flows.csv --mapping fields.yaml --summary-only --format json
    """
    check_format(fmt)
    from intelsec.egress import alerting
    from intelsec.egress.decide import EgressDecider
    from intelsec.egress.evaluate import Summary, decision_record, evaluate
    from intelsec.egress.exceptions import budget_use
    from intelsec.egress.models import ReadStats
    from intelsec.egress.readers import read_flows

    ws = open_workspace(workspace)
    for p in flows:
        if not p.is_file():
            raise InputError(f"{p}: no such flow file")
    decider = EgressDecider(ws, env=env)
    stats = ReadStats()
    summary = Summary(decider.env, decider.digest)
    records: list[dict[str, Any]] = []
    keep = fmt == "json" and decisions
    for ns, flow, v in evaluate(read_flows(flows, stats, input_format, _mapping(mapping)), decider, summary):
        if keep:
            records.append(decision_record(ns, flow, v))
    if quarantine is not None:
        with quarantine.open("w", encoding="utf-8") as fh:
            for q in stats.quarantined:
                fh.write(json.dumps(q.to_dict()) + "\n")
    for q in stats.quarantined[:20]:
        info(f"quarantined {q.path}:{q.line}: {q.reason}")
    raised: list[AlertIn] = [alerting.ttl_breach(e) for e in decider.expired]
    raised += [
        alerting.budget_exceeded(b.namespace, b.active, b.budget)
        for b in budget_use(decider.cfg.exceptions, decider.active)
        if b.exceeded
    ]
    for row in summary.top(("block",), MAX_BLOCK_ALERTS):
        reasons = [f"{row['flows']} flow(s) blocked"]
        raised.append(
            alerting.blocked(row["namespace"], row["destination"], row["category"], row["flows"], decider.env, reasons)
        )
    n_alerts = _raise_alerts(ws, database, raised) if alerts else 0
    out = summary.to_dict(len(stats.quarantined), stats.skipped)
    out["alerts_raised"] = n_alerts
    out["expired_exceptions"] = [e.id for e in decider.expired]
    if fmt == "json":
        doc: dict[str, Any] = {"summary": out, "quarantined": [q.to_dict() for q in stats.quarantined]}
        if decisions:
            doc["decisions"] = records
        print_json(doc)
    else:
        print_table(
            summary.top(("block", "log", "allow"), 50),
            ["verdict", "namespace", "destination", "category", "flows"],
            title=f"egress decisions ({summary.env})",
            empty="no egress flows judged",
        )
        counts = ", ".join(f"{k}={n}" for k, n in sorted(out["verdicts"].items())) or "none"
        typer.echo(f"flows={summary.flows} {counts} quarantined={len(stats.quarantined)} skipped={stats.skipped}")
        if out["blocked_by_category"]:
            typer.echo("blocked by category: " + ", ".join(f"{k}={n}" for k, n in out["blocked_by_category"].items()))
        if out["logged_by_category"]:
            typer.echo("logged by category: " + ", ".join(f"{k}={n}" for k, n in out["logged_by_category"].items()))
        if out["exceptions_used"]:
            typer.echo("exceptions used: " + ", ".join(f"{k}={n}" for k, n in out["exceptions_used"].items()))
        for e in decider.expired:
            typer.echo(
                f"expired exception (not applied): {e.id} ticket {e.ticket} owner {e.owner} "
                f"expired {e.expires.isoformat()}"
            )
    if summary.verdicts.get("block") or stats.quarantined:
        raise typer.Exit(1)


@app.command("exceptions")
def exceptions(
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
    fmt: FormatOpt = "table",
    alerts: AlertsOpt = True,
) -> None:
    """List exceptions with their state (active/expired) and per-namespace budget use.

    Exit 1 when an exception has expired (TTL breach) or a namespace is over its budget.

    \b
    Examples:
      intelsec egress exceptions
      intelsec egress exceptions --format json --no-alerts
    """
    check_format(fmt)
    from intelsec.clock import SystemClock
    from intelsec.egress import alerting
    from intelsec.egress.config import load_egress
    from intelsec.egress.exceptions import budget_use, partition

    ws = open_workspace(workspace)
    cfg = load_egress(ws)
    active, expired = partition(cfg.exceptions.exceptions, SystemClock().now())
    budgets = budget_use(cfg.exceptions, active)
    rows = [
        {
            "id": e.id,
            "state": "active" if e in active else "expired",
            "namespace": e.namespace,
            "target": e.destination or f"category:{e.category}",
            "ticket": e.ticket,
            "owner": e.owner,
            "expires": e.expires.isoformat(),
        }
        for e in cfg.exceptions.exceptions
    ]
    raised = [alerting.ttl_breach(e) for e in expired]
    raised += [alerting.budget_exceeded(b.namespace, b.active, b.budget) for b in budgets if b.exceeded]
    if alerts:
        _raise_alerts(ws, database, raised)
    if fmt == "json":
        print_json({"exceptions": rows, "budgets": [b.__dict__ | {"exceeded": b.exceeded} for b in budgets]})
    else:
        print_table(rows, ["id", "state", "namespace", "target", "ticket", "owner", "expires"], empty="no exceptions")
        for b in budgets:
            typer.echo(f"budget {b.namespace}: {b.active}/{b.budget}{' EXCEEDED' if b.exceeded else ''}")
    if expired or any(b.exceeded for b in budgets):
        raise typer.Exit(1)
