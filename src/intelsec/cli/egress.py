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
        list[Path],
        typer.Argument(
            help="Flow log files (Hubble JSON, VPC Flow Logs, Squid, Envoy, JSONL, CSV; .gz ok; - for stdin)"
        ),
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
    decisions_out: Annotated[
        Path | None, typer.Option("--decisions-out", help="Stream per-flow decisions to this JSONL file")
    ] = None,
    alerts: AlertsOpt = True,
) -> None:
    """Decide allow/log/block for every flow and summarise. Exit 1 if anything is blocked or unreadable.

    \b
    Examples:
      intelsec egress eval hubble.jsonl --env staging
      hubble observe -o json --follow | intelsec egress eval - --env prod --summary-only
      intelsec egress eval vpc-flows.log squid/access.log --env prod --format json
      intelsec egress eval flows.csv --mapping fields.yaml --summary-only --format json
      intelsec egress eval day.jsonl.gz --summary-only --decisions-out decisions.jsonl
    """
    check_format(fmt)
    from intelsec.egress import alerting
    from intelsec.egress.decide import EgressDecider
    from intelsec.egress.evaluate import Summary, decision_record, run
    from intelsec.egress.exceptions import budget_use
    from intelsec.egress.models import ReadStats
    from intelsec.egress.readers import read_flows

    ws = open_workspace(workspace)
    for p in flows:
        if p != Path("-") and not p.is_file():
            raise InputError(f"{p}: no such flow file")
    decider = EgressDecider(ws, env=env)
    stats = ReadStats()
    summary = Summary(decider.env, decider.digest)
    records: list[dict[str, Any]] = []
    keep = fmt == "json" and decisions
    out_fh = decisions_out.open("w", encoding="utf-8") if decisions_out is not None else None

    def sink(ns: str, flow: Any, v: Any) -> None:
        rec = decision_record(ns, flow, v)
        if keep:
            records.append(rec)
        if out_fh is not None:
            out_fh.write(json.dumps(rec, separators=(",", ":")) + "\n")

    try:
        run(
            read_flows(flows, stats, input_format, _mapping(mapping)),
            decider,
            summary,
            sink if keep or out_fh is not None else None,
        )
    finally:
        if out_fh is not None:
            out_fh.close()
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
    if out["verdicts"].get("block") or stats.quarantined:
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


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise InputError(f"--listen must be HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


@app.command("proxy")
def proxy(
    listen: Annotated[str, typer.Option("--listen", help="Address to listen on")] = "127.0.0.1:3128",
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
    env: EnvOpt = None,
    flow_log: Annotated[
        Path | None, typer.Option("--flow-log", help="JSONL flow log (default .intelsec/egress/proxy-flows.jsonl)")
    ] = None,
    metrics_listen: Annotated[
        str | None, typer.Option("--metrics-listen", help="Serve Prometheus /metrics on HOST:PORT")
    ] = None,
    max_connections: Annotated[int, typer.Option(min=1, help="Concurrent client connections before 503")] = 1024,
    connect_timeout: Annotated[float, typer.Option(min=0.1, help="Upstream resolve+connect timeout, seconds")] = 10.0,
    idle_timeout: Annotated[float, typer.Option(min=0.1, help="Idle timeout of a tunnel or response, seconds")] = 60.0,
    grace: Annotated[float, typer.Option(min=0, help="Seconds open connections get on shutdown")] = 10.0,
    resolve: Annotated[
        list[str] | None, typer.Option("--resolve", help="HOST:IP pinned resolution (repeatable), like curl")
    ] = None,
    alerts: AlertsOpt = True,
) -> None:
    """Run the enforcing egress forward proxy (CONNECT and plain HTTP) until SIGINT/SIGTERM.

    Clients are mapped to namespaces by Proxy-Authorization identity or source CIDR
    (egress/enforcement.yaml); blocked requests get 403 with the reasons.

    \b
    Examples:
      intelsec egress proxy --listen 127.0.0.1:3128 --env staging
      intelsec egress proxy --env prod --metrics-listen 127.0.0.1:9464
      curl -x http://127.0.0.1:3128 https://pypi.org/simple/
    """
    import asyncio
    import signal
    import threading

    from prometheus_client import CollectorRegistry, start_http_server

    from intelsec.egress import alerting
    from intelsec.egress.decide import EgressDecider
    from intelsec.egress.metrics import EgressMetrics
    from intelsec.egress.proxy import ClientMap, EgressProxy, FlowLog, ProxySettings, static_resolver

    ws = open_workspace(workspace)
    host, port = _listen(listen)
    pinned: dict[str, str] = {}
    for item in resolve or []:
        name, sep, addr = item.partition(":")
        if not sep or not name or not addr:
            raise InputError(f"--resolve must be HOST:IP, got {item!r}")
        pinned[name.lower()] = addr
    decider = EgressDecider(ws, env=env)
    registry = CollectorRegistry()
    metrics = EgressMetrics(registry)
    if metrics_listen:
        mhost, mport = _listen(metrics_listen)
        start_http_server(mport, addr=mhost, registry=registry)
    service = None
    if alerts:
        from intelsec.alerts.factory import alert_service

        service = alert_service(ws, open_database(ws, database))
    throttle = alerting.BlockThrottle()

    def send(alert: AlertIn) -> None:
        if service is not None:
            threading.Thread(target=service.raise_alert, args=(alert,), daemon=True).start()

    def on_block(ns: str, destination: str, verdict: Any) -> None:
        if throttle.allow(ns, destination):
            send(alerting.blocked(ns, destination, verdict.category, 1, decider.env, list(verdict.reasons)))

    def on_expired(expired: list[Any]) -> None:
        for e in expired:
            send(alerting.ttl_breach(e))

    for e in decider.expired:
        send(alerting.ttl_breach(e))
    settings = ProxySettings(
        host=host,
        port=port,
        connect_timeout=connect_timeout,
        idle_timeout=idle_timeout,
        max_connections=max_connections,
        grace_seconds=grace,
    )
    log_path = flow_log or ws.state_dir / "egress" / "proxy-flows.jsonl"
    server = EgressProxy(
        decider,
        ClientMap(decider.cfg.enforcement),
        settings,
        resolver=static_resolver(pinned),
        flow_log=FlowLog(log_path),
        metrics=metrics,
        on_block=on_block,
        on_expired=on_expired,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        bound = await server.start()
        info(
            f"egress proxy listening on {bound[0]}:{bound[1]} (env {decider.env}, policy {decider.digest[:12]}); "
            f"flow log {log_path}"
        )
        await stop.wait()
        info("shutting down: no new connections; draining open ones")
        await server.shutdown()

    asyncio.run(main())
    info("egress proxy stopped: " + ", ".join(f"{k}={n}" for k, n in sorted(server.outcomes.items())))


TargetArg = Annotated[str, typer.Argument(help="cilium (CiliumNetworkPolicy) or k8s (NetworkPolicy)")]


def _check_target(target: str) -> str:
    if target not in ("cilium", "k8s"):
        raise InputError(f"unknown render target {target!r}; choose cilium or k8s")
    return target


@app.command("render")
def render(
    target: TargetArg,
    out: Annotated[Path, typer.Option("--output", "-o", help="Directory to write one YAML file per namespace")],
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
) -> None:
    """Render per-namespace egress policies from the allowlist, categories, exceptions and modes.

    \b
    Examples:
      intelsec egress render cilium -o deploy/cilium --env staging
      intelsec egress render k8s -o deploy/netpol --env prod
    """
    import yaml

    from intelsec.clock import SystemClock
    from intelsec.egress.config import load_egress
    from intelsec.egress.render import render as do_render

    _check_target(target)
    ws = open_workspace(workspace)
    cfg = load_egress(ws)
    environment = env or cfg.enforcement.default_environment
    docs = do_render(cfg, target, environment, SystemClock().now())
    out.mkdir(parents=True, exist_ok=True)
    for name, doc in docs.items():
        (out / name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    info(f"wrote {len(docs)} {target} policies for {environment} to {out}")


@app.command("drift")
def drift(
    live: Annotated[Path, typer.Option("--live", help="Directory of policies exported from the cluster (YAML/JSON)")],
    target: Annotated[str, typer.Option("--target", help="cilium or k8s")] = "cilium",
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
    env: EnvOpt = None,
    fmt: FormatOpt = "table",
    alerts: AlertsOpt = True,
) -> None:
    """Compare live egress policies with what the workspace renders. Exit 1 on drift.

    Reports destinations allowed live but not in git, removed rules, mode changes and
    policy-count changes, and raises an alert for each.

    \b
    Examples:
      kubectl get cnp -A -o yaml > live/cnp.yaml && intelsec egress drift --live live --env prod
      intelsec egress drift --live live --target k8s --format json
    """
    check_format(fmt)
    from intelsec.clock import SystemClock
    from intelsec.egress import alerting
    from intelsec.egress.config import load_egress
    from intelsec.egress.drift import KINDS, compare, load_live
    from intelsec.egress.render import render as do_render

    _check_target(target)
    ws = open_workspace(workspace)
    cfg = load_egress(ws)
    environment = env or cfg.enforcement.default_environment
    rendered = list(do_render(cfg, target, environment, SystemClock().now()).values())
    findings = compare(rendered, load_live(live, KINDS[target]))
    if alerts:
        _raise_alerts(
            ws,
            database,
            [alerting.drift(f.kind, f.policy, f.detail, f.to_dict() | {"env": environment}) for f in findings],
        )
    if fmt == "json":
        print_json({"drift": [f.to_dict() for f in findings], "env": environment, "target": target})
    else:
        print_table([f.to_dict() for f in findings], ["kind", "policy", "detail"], empty="no drift")
    if findings:
        raise typer.Exit(1)
