"""`intelsec alerts ...`."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from intelsec.cli.common import DatabaseOpt, FormatOpt, WorkspaceOpt, check_format, open_database, open_workspace
from intelsec.output import info, print_json, print_table

app = typer.Typer(help="List, acknowledge and resolve alerts; run the delivery dispatcher.", no_args_is_help=True)

COLUMNS = ["id", "severity", "status", "rule", "source", "entity", "count", "created_at", "summary"]


def _service(workspace, database):  # type: ignore[no-untyped-def]
    from intelsec.alerts.factory import alert_service

    ws = open_workspace(workspace)
    return alert_service(ws, open_database(ws, database))


def _row(a) -> dict:  # type: ignore[no-untyped-def,type-arg]
    d = a.model_dump()
    d["id"] = a.id[:12]
    d["created_at"] = a.created_at.strftime("%Y-%m-%d %H:%M:%S")
    return d


@app.command("list")
def list_(
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
    status: Annotated[str | None, typer.Option(help="new, acked or resolved")] = None,
    source: Annotated[str | None, typer.Option(help="e.g. deception, egress, identity")] = None,
    severity: Annotated[str | None, typer.Option(help="info, low, medium, high, critical")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    fmt: FormatOpt = "table",
) -> None:
    """List alerts, newest first.

    \b
    Examples:
      intelsec alerts list --status new
      intelsec alerts list --source deception --format json
    """
    check_format(fmt)
    alerts = _service(workspace, database).list(status=status, source=source, severity=severity, limit=limit)
    if fmt == "json":
        print_json({"alerts": alerts})
    else:
        print_table([_row(a) for a in alerts], COLUMNS, empty="no alerts")


@app.command("show")
def show(alert_id: Annotated[str, typer.Argument(help="Alert id (a unique prefix is enough).")],
         workspace: WorkspaceOpt = None, database: DatabaseOpt = None, fmt: FormatOpt = "json") -> None:
    """Show one alert with its evidence.

    \b
    Example:
      intelsec alerts show 3f2a9c
    """
    check_format(fmt)
    alert = _service(workspace, database).get(alert_id)
    if fmt == "json":
        print_json(alert)
    else:
        print_table([{"field": k, "value": v} for k, v in alert.model_dump().items()], ["field", "value"])


@app.command("ack")
def ack(alert_id: str, workspace: WorkspaceOpt = None, database: DatabaseOpt = None,
        by: Annotated[str, typer.Option(help="Who acknowledges.")] = "cli") -> None:
    """Acknowledge an alert (starts nothing, stops the MTTA clock).

    \b
    Example:
      intelsec alerts ack 3f2a9c --by alice
    """
    a = _service(workspace, database).ack(alert_id, by=by)
    info(f"acked {a.id} ({a.rule}) after {(a.acked_at - a.created_at).total_seconds():.0f}s")  # type: ignore[operator]


@app.command("resolve")
def resolve(alert_id: str, workspace: WorkspaceOpt = None, database: DatabaseOpt = None,
            by: Annotated[str, typer.Option(help="Who resolves.")] = "cli") -> None:
    """Resolve an alert.

    \b
    Example:
      intelsec alerts resolve 3f2a9c --by alice
    """
    a = _service(workspace, database).resolve(alert_id, by=by)
    info(f"resolved {a.id} ({a.rule})")


@app.command("mtta")
def mtta(workspace: WorkspaceOpt = None, database: DatabaseOpt = None,
         source: Annotated[str | None, typer.Option()] = None, fmt: FormatOpt = "table") -> None:
    """Mean time to acknowledge (created -> first ack), test alerts excluded.

    \b
    Example:
      intelsec alerts mtta --source deception
    """
    check_format(fmt)
    stats = _service(workspace, database).mtta(source=source)
    if fmt == "json":
        print_json(stats)
    else:
        print_table([stats.model_dump()], list(stats.model_dump()))


@app.command("raise")
def raise_(
    rule: Annotated[str, typer.Option(help="Rule id, e.g. manual_test")],
    summary: Annotated[str, typer.Option(help="One line for humans.")],
    severity: Annotated[str, typer.Option()] = "medium",
    source: Annotated[str, typer.Option()] = "manual",
    entity: Annotated[str | None, typer.Option()] = None,
    test: Annotated[bool, typer.Option("--test", help="Mark as a test alert (not an incident).")] = False,
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Raise an alert by hand, e.g. to check that sinks are wired.

    \b
    Example:
      intelsec alerts raise --rule sink_check --summary "testing the Slack sink" --test
    """
    from intelsec.alerts.models import AlertIn

    res = _service(workspace, database).raise_alert(
        AlertIn(rule=rule, summary=summary, severity=severity, source=source, entity=entity, test=test))  # type: ignore[arg-type]
    typer.echo(res.alert.id)


@app.command("dispatch")
def dispatch(
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due, then exit.")] = False,
    retry_dead: Annotated[bool, typer.Option("--retry-dead", help="Requeue deliveries given up on.")] = False,
) -> None:
    """Deliver pending alerts to the configured sinks (the control plane runs this for you).

    \b
    Examples:
      intelsec alerts dispatch --once
      intelsec alerts dispatch --retry-dead --once
    """
    from intelsec.alerts.factory import dispatcher

    ws = open_workspace(workspace)
    disp = dispatcher(ws, open_database(ws, database))
    if retry_dead:
        info(f"requeued {disp.retry_dead()} deliveries")
    if once:
        info(f"delivered {disp.run_once()}")
        disp.close()
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    info("dispatching; Ctrl-C to stop")
    try:
        disp.run_forever(stop)
    finally:
        disp.close()
