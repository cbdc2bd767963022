"""`intelsec deception ...`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from intelsec.cli.common import DatabaseOpt, FormatOpt, WorkspaceOpt, check_format, open_database, open_workspace
from intelsec.output import info, print_json, print_table

if TYPE_CHECKING:
    from intelsec.alerts.service import AlertService
    from intelsec.config import Workspace
    from intelsec.deception.registry import Registry
    from intelsec.deception.spec import DeceptionConfig
    from intelsec.store.db import Database

app = typer.Typer(help="Deceptive assets: canary routes, beacons, honey DB users, honeytokens.", no_args_is_help=True)


@dataclass
class _Env:
    ws: Workspace
    cfg: DeceptionConfig
    db: Database
    registry: Registry
    alerts: AlertService


def _env(workspace: Path | None, database: str | None) -> _Env:
    from intelsec.alerts.factory import alert_service
    from intelsec.deception.registry import Registry
    from intelsec.deception.spec import load_config

    ws = open_workspace(workspace)
    cfg = load_config(ws)
    db = open_database(ws, database)
    return _Env(ws, cfg, db, Registry(db, state_dir=ws.state_dir), alert_service(ws, db))


def _ts(v: Any) -> Any:
    return v.strftime("%Y-%m-%d %H:%M") if hasattr(v, "strftime") else v


@app.command("deploy")
def deploy(workspace: WorkspaceOpt = None, database: DatabaseOpt = None, fmt: FormatOpt = "table") -> None:
    """Create or update the asset registry from deception/*.yaml (secrets are generated, never printed).

    \b
    Examples:
      intelsec deception deploy
      intelsec deception show aws-ci-deploy-key --reveal   # fetch material to plant
    """
    check_format(fmt)
    env = _env(workspace, database)
    report = env.registry.deploy(env.cfg.assets, env.cfg.canary_base())
    if fmt == "json":
        print_json(report.__dict__)
        return
    rows = [{"asset": a, "change": k} for k in ("created", "updated", "retired", "unchanged")
            for a in getattr(report, k)]
    print_table(rows, ["asset", "change"], empty="no assets declared in deception/")
    kinds = {a.kind for a in env.cfg.assets}
    info(f"{len(env.cfg.assets)} assets of {len(kinds)} kinds deployed; "
         "plant them with `intelsec deception show ID --reveal`")


@app.command("status")
def status(workspace: WorkspaceOpt = None, database: DatabaseOpt = None, fmt: FormatOpt = "table",
           all_: Annotated[bool, typer.Option("--all", help="Include retired assets.")] = False) -> None:
    """List assets with their health (tested, rotation, noise budget), touches and MTTA. Never shows secrets.

    \b
    Examples:
      intelsec deception status
      intelsec deception status --format json
    """
    from intelsec.clock import parse_duration
    from intelsec.deception.health import status_rows

    check_format(fmt)
    env = _env(workspace, database)
    rows = status_rows(env.registry, parse_duration(env.cfg.settings.defaults.test_max_age), include_retired=all_)
    if fmt == "json":
        print_json({"assets": rows})
        return
    print_table([{k: _ts(v) for k, v in r.items()} for r in rows],
                ["id", "kind", "health", "touches", "last_touched_at", "last_test_at", "next_rotation_at", "fp_7d",
                 "mtta_seconds"], empty="no assets; run `intelsec deception deploy`")


@app.command("show")
def show(asset_id: Annotated[str, typer.Argument(help="Asset id.")], workspace: WorkspaceOpt = None,
         database: DatabaseOpt = None,
         reveal: Annotated[bool, typer.Option("--reveal", help="Print the secret material to plant.")] = False) -> None:
    """Show one asset and its watched material; secret values only with --reveal.

    \b
    Examples:
      intelsec deception show honey-db-backup-admin
      intelsec deception show aws-ci-deploy-key --reveal
    """
    env = _env(workspace, database)
    asset = env.registry.get(asset_id)
    material = []
    for m in env.registry.watched(asset_id):
        entry: dict[str, Any] = {"version": m.version, "public": m.public, "expires_at": m.expires_at,
                                 "state": "current" if m.expires_at is None else "grace"}
        entry["secret"] = m.secret if reveal else {k: "<hidden: use --reveal>" for k in m.secret}
        material.append(entry)
    if reveal:
        info("secret material follows: do not paste it into tickets or chat")
    print_json({"asset": asset, "material": material})


@app.command("rotate")
def rotate(asset_id: Annotated[str | None, typer.Argument(help="Asset to rotate now (default: all due).")] = None,
           workspace: WorkspaceOpt = None, database: DatabaseOpt = None) -> None:
    """Rotate material (new key, token, URL or password); the old one stays watched for the grace period.

    \b
    Examples:
      intelsec deception rotate                      # every asset whose schedule is due
      intelsec deception rotate canary-url-breakglass
    """
    env = _env(workspace, database)
    targets = [asset_id] if asset_id else env.registry.due()
    for t in targets:
        m = env.registry.rotate(t, env.cfg.canary_base())
        info(f"rotated {t} to version {m.version}")
    if not targets:
        info("no asset is due for rotation")


@app.command("triage")
def triage(alert_id: Annotated[str, typer.Argument(help="Alert id (prefix ok).")],
           verdict: Annotated[str, typer.Argument(help="tp (true positive) or fp (false positive)")],
           workspace: WorkspaceOpt = None, database: DatabaseOpt = None) -> None:
    """Mark a deception alert true/false positive; alerts when an asset exceeds its weekly FP budget.

    \b
    Example:
      intelsec deception triage 3f2a9c fp
    """
    from intelsec.deception.noise import triage as do_triage

    env = _env(workspace, database)
    alert, over = do_triage(env.registry, env.alerts, alert_id, verdict)
    info(f"{alert.id} marked {verdict}" + (f"; asset {alert.entity} is over its noise budget" if over else ""))
    if over:
        raise typer.Exit(1)


@app.command("budget")
def budget(workspace: WorkspaceOpt = None, database: DatabaseOpt = None, fmt: FormatOpt = "table") -> None:
    """Check every asset's weekly false-positive budget (exit 1 and alert when one is exceeded).

    \b
    Example:
      intelsec deception budget
    """
    from intelsec.deception.noise import check_budgets, noise

    check_format(fmt)
    env = _env(workspace, database)
    over = {n.asset_id for n in check_budgets(env.registry, env.alerts)}
    rows = [{"asset": n.asset_id, "alerts_7d": n.alerts, "tp": n.tp, "fp": n.fp, "budget": n.budget,
             "fp_rate": None if n.fp_rate is None else round(n.fp_rate, 3),
             "mtta_seconds": None if n.mtta_seconds is None else round(n.mtta_seconds, 1),
             "over_budget": n.asset_id in over} for n in noise(env.registry).values()]
    if fmt == "json":
        print_json({"assets": rows})
    else:
        print_table(rows, list(rows[0]) if rows else ["asset"], empty="no assets")
    if over:
        raise typer.Exit(1)


def _write_secret_file(path: Path, text: str) -> None:
    """Write deployment files that hold keys readable by the owner only."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


@app.command("export")
def export(out: Annotated[Path, typer.Option("--out", "-o", help="JSON file to write (mode 0600, holds keys).")],
           service: Annotated[str | None, typer.Option(help="Only this service's canary routes.")] = None,
           control_plane: Annotated[str | None, typer.Option(help="Beacon endpoint base URL.")] = None,
           workspace: WorkspaceOpt = None, database: DatabaseOpt = None) -> None:
    """Write a service's canary routes and beacon keys for the ASGI middleware.

    \b
    Example:
      intelsec deception export --service payments -o /run/secrets/canaries.json
    """
    import json

    from intelsec.deception.decoy import canaries_from_registry

    env = _env(workspace, database)
    canaries = canaries_from_registry(env.registry, env.cfg.routes(service))
    doc = {"control_plane_url": control_plane or env.cfg.settings.control_plane_url,
           "canaries": [c.__dict__ for c in canaries]}
    _write_secret_file(out, json.dumps(doc, indent=2))
    info(f"wrote {len(canaries)} canary routes to {out} (mode 0600)")


@app.command("serve")
def serve(host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Listen port.")] = 8081,
          service: Annotated[str | None, typer.Option(help="Only this service's canary routes.")] = None,
          control_plane: Annotated[str | None, typer.Option(help="Beacon endpoint base URL.")] = None,
          workspace: WorkspaceOpt = None, database: DatabaseOpt = None) -> None:
    """Host decoy routes for services behind a gateway (route the canary paths here).

    \b
    Example:
      intelsec deception serve --port 8081 --service payments
    """
    import uvicorn

    from intelsec.deception.client import BackgroundBeacons, BeaconClient
    from intelsec.deception.decoy import canaries_from_registry, decoy_app

    env = _env(workspace, database)
    canaries = canaries_from_registry(env.registry, env.cfg.routes(service))
    sender = BackgroundBeacons(BeaconClient(control_plane or env.cfg.settings.control_plane_url))
    info(f"decoy server for {len(canaries)} canary routes on http://{host}:{port}")
    try:
        uvicorn.run(decoy_app(canaries, sender), host=host, port=port, log_level="warning", server_header=False)
    finally:
        sender.close()


@app.command("nginx-config")
def nginx_config(out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory for the generated files.")],
                 service: Annotated[str | None, typer.Option(help="Only this service's canary routes.")] = None,
                 upstream: Annotated[str | None, typer.Option(help="proxy_pass target of the service, so canary "
                                                              "routes answer with the upstream's own 404.")] = None,
                 control_plane: Annotated[str | None, typer.Option(help="Beacon endpoint base URL (http://).")] = None,
                 workspace: WorkspaceOpt = None, database: DatabaseOpt = None) -> None:
    """Generate nginx + Lua config (service_beacon.lua) for canary routes behind nginx/OpenResty.

    \b
    Examples:
      intelsec deception nginx-config --service payments -o /etc/nginx/intelsec
      intelsec deception nginx-config --service payments --upstream http://payments -o out/
    \b
    Then: `include .../intelsec-beacon-http.conf;` in http {} and
    `include .../intelsec-canaries.conf;` in the service's server {}.
    """
    from intelsec.deception.decoy import canaries_from_registry
    from intelsec.deception.nginx import write_bundle
    from intelsec.errors import InputError

    env = _env(workspace, database)
    canaries = canaries_from_registry(env.registry, env.cfg.routes(service))
    try:
        files = write_bundle(out_dir, control_plane or env.cfg.settings.control_plane_url, canaries, upstream)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    for f in files:
        info(f"wrote {f}")


honey = typer.Typer(help="Honey database users (PostgreSQL roles that alert on any login attempt).",
                    no_args_is_help=True)
app.add_typer(honey, name="honey-users")

DsnOpt = Annotated[str, typer.Option("--dsn", envvar="INTELSEC_HONEY_DSN", show_envvar=True,
                                     help="PostgreSQL DSN of a role with CREATEROLE (never printed).")]


@honey.command("sync")
def honey_sync(dsn: DsnOpt, workspace: WorkspaceOpt = None, database: DatabaseOpt = None,
               keep_undeclared: Annotated[bool, typer.Option(help="Do not drop honey roles no longer declared.")]
               = False) -> None:
    """Create/update honey roles: login only, no privileges, no CONNECT, connection limit 0.

    \b
    Examples:
      INTELSEC_HONEY_DSN=postgresql://admin@db.internal/postgres intelsec deception honey-users sync
      intelsec deception honey-users sync --dsn "host=127.0.0.1 user=postgres"
    """
    from intelsec.deception.honeyusers import HoneyRole, sync

    env = _env(workspace, database)
    roles = []
    for a in env.registry.assets():
        if a.kind == "honey_db_user":
            m = env.registry.current(a.id)
            roles.append(HoneyRole(a.id, m.public, m.secret["password"]))
    report = sync(dsn.replace("postgresql+psycopg://", "postgresql://"), roles, drop_missing=not keep_undeclared)
    for verb in ("created", "updated", "dropped"):
        for r in getattr(report, verb):
            info(f"{verb} honey role {r}")
    info(f"CONNECT revoked on {len(report.databases)} databases for {len(roles)} honey roles")


@app.command("watch-pg-log")
def watch_pg_log(
    log: Annotated[Path, typer.Argument(help="PostgreSQL jsonlog (.json) or csvlog (.csv) file.")],
    log_format: Annotated[str | None, typer.Option("--log-format", help="json or csv (default: by suffix)")] = None,
    once: Annotated[bool, typer.Option("--once", help="Process what is there, then exit.")] = False,
    from_end: Annotated[bool, typer.Option("--from-end", help="On first run, skip what is already logged.")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between polls.")] = 1.0,
    workspace: WorkspaceOpt = None, database: DatabaseOpt = None, fmt: FormatOpt = "table",
) -> None:
    """Alert on any login attempt by a honey role (needs log_connections = on).

    \b
    Examples:
      intelsec deception watch-pg-log /var/log/postgresql/postgresql.json
      intelsec deception watch-pg-log /var/log/postgresql/postgresql.csv --once
    """
    import time

    from intelsec.deception.pglog import PgLogWatcher, state_file_for
    from intelsec.deception.touches import raise_pg_attempts
    from intelsec.errors import InputError

    check_format(fmt)
    if log_format not in (None, "json", "csv"):
        raise InputError(f"unknown log format {log_format!r}; choose json or csv")
    if not log.is_file():
        raise InputError(f"{log}: no such log file")
    env = _env(workspace, database)
    state = state_file_for(env.ws.state_dir, log)
    roles = {m.public for m in env.registry.watched(kind="honey_db_user")}
    watcher = PgLogWatcher(log, roles, log_format, state)
    if from_end and not state.exists():
        watcher.skip_to_end()
    totals = {"records": 0, "attempts": 0, "alerts": 0, "bad_lines": 0}
    try:
        while True:
            stats = watcher.poll()
            alerts = raise_pg_attempts(env.registry, env.alerts, stats.attempts, time.time())
            for k, v in (("records", stats.records), ("attempts", len(stats.attempts)), ("alerts", len(alerts)),
                         ("bad_lines", stats.bad_lines)):
                totals[k] += v
            for a in stats.attempts:
                info(f"honey role {a.role} tried from {a.remote_host}: {a.outcome}")
            if once:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    if fmt == "json":
        print_json(totals)
    else:
        info(", ".join(f"{k} {v}" for k, v in totals.items()))


@app.command("scan-logs")
def scan_logs(
    paths: Annotated[list[Path], typer.Argument(help="CloudTrail JSON (.json, .json.gz, JSON lines) or text logs.")],
    workspace: WorkspaceOpt = None, database: DatabaseOpt = None, fmt: FormatOpt = "table",
) -> None:
    """Find decoy AWS access keys in CloudTrail and planted honeytokens in any log; alert on each use.

    \b
    Examples:
      intelsec deception scan-logs cloudtrail/*.json.gz
      intelsec deception scan-logs /var/log/nginx/access.log --format json
    \b
    Exit code 1 when a honeytoken was found, else 2 when an input could not be read.
    """
    import time

    from intelsec.deception.logscan import scan
    from intelsec.deception.touches import raise_log_hits

    check_format(fmt)
    env = _env(workspace, database)
    aws: dict[str, str] = {}
    values: dict[str, str] = {}
    for m in env.registry.watched():
        if m.kind == "aws_key":
            aws[m.public] = m.asset_id
        for k in ("access_key_id", "token", "url"):
            if k in m.secret:
                values[m.secret[k]] = m.asset_id
        if m.kind == "canary_url":
            values[m.public] = m.asset_id
    stats = scan(paths, aws, values)
    alert_ids = raise_log_hits(env.registry, env.alerts, stats.hits, time.time())
    rows = [{"asset": h.asset_id, "where": f"{h.file}:{h.line}", "source_ip": h.source_ip, "action": h.action,
             "alert": a[:12]} for h, a in zip(stats.hits, alert_ids, strict=True)]
    if fmt == "json":
        print_json({"files": stats.files, "records": stats.records, "unreadable": stats.bad, "hits": rows})
    else:
        print_table(rows, ["asset", "where", "source_ip", "action", "alert"], empty="no honeytoken found")
        info(f"{stats.files} files, {stats.records} records, {len(stats.bad)} unreadable")
    for b in stats.bad[:20]:
        info(f"skipped {b}")
    if rows:  # a used honeytoken is an incident: it outranks unreadable inputs
        raise typer.Exit(1)
    if stats.unreadable_files:
        raise typer.Exit(2)


@app.command("test")
def test(
    assets: Annotated[list[str] | None, typer.Argument(help="Asset ids (default: every active asset).")] = None,
    control_plane: Annotated[str | None, typer.Option(help="Control plane URL (default: assets.yaml).")] = None,
    service_url: Annotated[list[str] | None, typer.Option(
        "--service-url", help="SERVICE=URL: test canary routes through the live service (repeatable).")] = None,
    dsn: Annotated[str | None, typer.Option(envvar="INTELSEC_HONEY_DSN", help="PostgreSQL server to try honey "
                                            "logins on (credentials are replaced by the honey role's).")] = None,
    pg_log: Annotated[Path | None, typer.Option(help="That server's jsonlog/csvlog.")] = None,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for each alert.")] = 15.0,
    workspace: WorkspaceOpt = None, database: DatabaseOpt = None, fmt: FormatOpt = "table",
) -> None:
    """Trigger each asset for real in test mode and confirm its (test-marked) alert arrived end to end.

    \b
    Examples:
      intelsec deception test
      intelsec deception test payments-v2-export-settlements --service-url payments=https://payments.internal
      intelsec deception test honey-db-backup-admin --dsn "host=db port=5432 dbname=postgres" \\
          --pg-log /var/log/postgresql/postgresql.json
    \b
    Exit code 1 when any asset's alert did not arrive.
    """
    from intelsec.deception.verify import Verifier
    from intelsec.errors import InputError
    from intelsec.fingerprints import classify, load_all

    check_format(fmt)
    urls = {}
    for item in service_url or []:
        name, sep, url = item.partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise InputError(f"--service-url {item!r}: use SERVICE=http(s)://host[:port]")
        urls[name] = url
    env = _env(workspace, database)
    filters = load_all(env.ws.state_dir)
    verifier = Verifier(env.registry, env.alerts, control_plane or env.cfg.settings.control_plane_url, urls, dsn,
                        pg_log, timeout, lambda v: classify(v, filters) == "honeytoken")
    results = verifier.run(assets or None)
    if fmt == "json":
        print_json({"results": [r.__dict__ for r in results]})
    else:
        print_table([{**r.__dict__, "alert_id": (r.alert_id or "")[:12]} for r in results],
                    ["asset", "kind", "via", "ok", "alert_id", "seconds", "detail"], empty="no assets")
    if not results or not all(r.ok for r in results):
        raise typer.Exit(1)
