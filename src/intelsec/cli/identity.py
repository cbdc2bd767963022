"""`intelsec identity ...`."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from intelsec.cli.common import DatabaseOpt, FormatOpt, WorkspaceOpt, check_format, open_database, open_workspace
from intelsec.errors import InputError
from intelsec.output import print_json, print_table

app = typer.Typer(help="Attested workload identity: SPIFFE IDs, SVIDs, Workload API, mTLS sidecar, "
                  "credential broker.", no_args_is_help=True)
id_app = typer.Typer(help="SPIFFE ID checks.", no_args_is_help=True)
app.add_typer(id_app, name="id")


@id_app.command("check")
def id_check(spiffe_id: Annotated[str, typer.Argument(help="The SPIFFE ID to check.")],
             fmt: FormatOpt = "table") -> None:
    """Check a SPIFFE ID against every rule of the SPIFFE-ID standard (exit 1 when it breaks one).

    \b
    Examples:
      intelsec identity id check spiffe://example.com/ns/prod/sa/payments
      intelsec identity id check 'spiffe://Example.com/a' --format json
    """
    from intelsec.identity.spiffeid import InvalidSpiffeId, parse_spiffe_id

    check_format(fmt)
    try:
        sid = parse_spiffe_id(spiffe_id)
    except InvalidSpiffeId as exc:
        if fmt == "json":
            print_json({"valid": False, "spiffe_id": spiffe_id, "reason": str(exc)})
        else:
            typer.echo(f"invalid: {exc}")
        raise typer.Exit(1) from None
    if fmt == "json":
        print_json({"valid": True, "spiffe_id": str(sid), "trust_domain": sid.trust_domain, "path": sid.path})
    else:
        print_table([{"trust_domain": sid.trust_domain, "path": sid.path or "/"}], ["trust_domain", "path"])


ca_app = typer.Typer(help="The local certificate authority (for machines without SPIRE).", no_args_is_help=True)
app.add_typer(ca_app, name="ca")

CaDirOpt = Annotated[Path | None, typer.Option(
    "--ca-dir", help="CA directory (default: <workspace>/.intelsec/identity/ca)", show_default=False)]
TtlOpt = Annotated[str, typer.Option("--ttl", help="Lifetime, e.g. 90s, 10m, 1h")]


def _ca_dir(ca_dir: Path | None, workspace: Path | None) -> Path:
    if ca_dir is not None:
        return ca_dir
    return open_workspace(workspace).state_dir / "identity" / "ca"


def _ttl(text: str) -> timedelta:
    from intelsec.clock import parse_duration

    try:
        ttl = parse_duration(text)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if ttl.total_seconds() <= 0:
        raise InputError(f"--ttl must be positive, got {text!r}")
    return ttl


def _load_ca(ca_dir: Path | None, workspace: Path | None):  # type: ignore[no-untyped-def]
    from intelsec.identity.ca import LocalCA

    return LocalCA.load(_ca_dir(ca_dir, workspace))


@ca_app.command("init")
def ca_init(
    trust_domain: Annotated[str, typer.Option("--trust-domain", help="e.g. example.com")],
    intermediate: Annotated[bool, typer.Option("--intermediate", help="Sign SVIDs with an intermediate CA")] = False,
    ttl: TtlOpt = "365d",
    ca_dir: CaDirOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create an EC P-256 root (and optional intermediate) plus a JWT signing key; keys are 0600 files.

    \b
    Examples:
      intelsec identity ca init --trust-domain example.com
      intelsec identity ca init --trust-domain example.com --intermediate --ca-dir ./ca
    """
    from intelsec.identity.ca import LocalCA

    ca = LocalCA.init(_ca_dir(ca_dir, workspace), trust_domain, intermediate=intermediate, ttl=_ttl(ttl))
    print_json({"trust_domain": ca.trust_domain, "directory": str(ca.directory),
                "bundle": str(ca.directory / "bundle.pem"), "jwks": str(ca.directory / "bundle.json"),
                "intermediate": ca.intermediate is not None})


@app.command("issue")
def issue(
    spiffe_id: Annotated[str, typer.Option("--spiffe-id", help="SPIFFE ID of the workload")],
    out: Annotated[Path, typer.Option("--out", help="Directory for svid.pem, svid.key, bundle.pem")],
    ttl: TtlOpt = "1h",
    dns: Annotated[list[str] | None, typer.Option("--dns", help="Extra DNS SAN for clients that need one")] = None,
    ca_dir: CaDirOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Issue an X.509-SVID (one URI SAN, not a CA, digitalSignature, serverAuth+clientAuth).

    \b
    Examples:
      intelsec identity issue --spiffe-id spiffe://example.com/ns/prod/sa/payments --out ./svid
      intelsec identity issue --spiffe-id spiffe://example.com/ns/prod/sa/api-gw --ttl 10m --out /run/svid
    """
    from intelsec.identity.ca import write_svid

    ca = _load_ca(ca_dir, workspace)
    svid = ca.issue_x509(spiffe_id, _ttl(ttl), dns_names=dns or [])
    paths = write_svid(svid, ca.bundle(), out)
    print_json({"spiffe_id": svid.spiffe_id, "expires_at": svid.expires_at, **paths})


@app.command("issue-jwt")
def issue_jwt(
    spiffe_id: Annotated[str, typer.Option("--spiffe-id", help="SPIFFE ID of the workload")],
    audience: Annotated[list[str], typer.Option("--audience", help="Audience (repeatable)")],
    ttl: TtlOpt = "5m",
    ca_dir: CaDirOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Issue a JWT-SVID (ES256) and print it.

    \b
    Example:
      intelsec identity issue-jwt --spiffe-id spiffe://example.com/ns/prod/sa/payments --audience broker
    """
    typer.echo(_load_ca(ca_dir, workspace).issue_jwt(spiffe_id, audience, _ttl(ttl)))


@app.command("bundle")
def bundle_cmd(
    fmt: Annotated[str, typer.Option("--format", "-f", help="pem, jwks (SPIFFE bundle) or jwt-jwks")] = "pem",
    ca_dir: CaDirOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Print the trust bundle verifiers need.

    \b
    Examples:
      intelsec identity bundle > bundle.pem
      intelsec identity bundle --format jwks > bundle.json
    """
    check_format(fmt, ("pem", "jwks", "jwt-jwks"))
    b = _load_ca(ca_dir, workspace).bundle()
    if fmt == "pem":
        typer.echo(b.pem().decode(), nl=False)
    else:
        print_json(b.spiffe_json() if fmt == "jwks" else b.jwt_jwks())


def _emit_verdict(verdict) -> None:  # type: ignore[no-untyped-def]
    print_json(verdict.model_dump(mode="json", include={"valid", "spiffe_id", "trust_domain", "reasons", "codes"}))
    if not verdict.valid:
        raise typer.Exit(1)


BundleOpt = Annotated[Path, typer.Option("--bundle", help="Trust bundle: PEM roots or SPIFFE bundle JSON")]
TdOpt = Annotated[str | None, typer.Option("--trust-domain", help="Expected trust domain", show_default=False)]


@app.command("verify")
def verify(
    cert: Annotated[Path, typer.Argument(help="PEM file: leaf certificate first, then intermediates")],
    bundle: BundleOpt,
    trust_domain: TdOpt = None,
) -> None:
    """Verify an X.509-SVID chain against a bundle; prints {valid, spiffe_id, reasons}; exit 1 if invalid.

    \b
    Examples:
      intelsec identity verify svid/svid.pem --bundle svid/bundle.pem
      intelsec identity verify peer.pem --bundle bundle.json --trust-domain example.com
    """
    from intelsec.clock import utcnow
    from intelsec.identity.bundle import load_bundle, load_pem_certs
    from intelsec.identity.verify import verify_x509_svid

    try:
        data = cert.read_bytes()
    except OSError as exc:
        raise InputError(f"{cert}: cannot read: {exc.strerror}") from None
    chain = load_pem_certs(data, str(cert))
    _emit_verdict(verify_x509_svid(chain, load_bundle(bundle, trust_domain), utcnow(), trust_domain))


@app.command("verify-jwt")
def verify_jwt(
    token: Annotated[str, typer.Argument(help="The JWT-SVID, or @FILE to read it from a file")],
    bundle: BundleOpt,
    audience: Annotated[str, typer.Option("--audience", help="Audience this verifier requires")],
    trust_domain: TdOpt = None,
) -> None:
    """Verify a JWT-SVID (algorithm allow-list, key id, signature, audience, expiry); exit 1 if invalid.

    \b
    Example:
      intelsec identity verify-jwt "$TOKEN" --bundle bundle.json --audience broker
    """
    from intelsec.clock import utcnow
    from intelsec.identity.bundle import load_bundle
    from intelsec.identity.verify import verify_jwt_svid

    if token.startswith("@"):
        try:
            token = Path(token[1:]).read_text().strip()
        except OSError as exc:
            raise InputError(f"{token[1:]}: cannot read: {exc.strerror}") from None
    _emit_verdict(verify_jwt_svid(token, load_bundle(bundle, trust_domain), audience, utcnow(), trust_domain))


def _source(cert: Path | None, key: Path | None, bundles: list[Path] | None, socket: str | None):  # type: ignore[no-untyped-def]
    """The SVID source, checked at once: unreadable files, a key that does not fit, an unreachable agent."""
    from intelsec.identity.tlsconfig import server_context

    source = _open_source(cert, key, bundles, socket)
    server_context(source.material())
    return source


def _open_source(cert: Path | None, key: Path | None, bundles: list[Path] | None, socket: str | None):  # type: ignore[no-untyped-def]
    if socket:
        from intelsec.identity.workload import WorkloadApiSource

        return WorkloadApiSource(socket)
    if cert is None and key is None and not bundles and os.environ.get("SPIFFE_ENDPOINT_SOCKET"):
        from intelsec.identity.workload import WorkloadApiSource

        return WorkloadApiSource(None)  # SPIRE or intelsec agent named by SPIFFE_ENDPOINT_SOCKET
    if cert is None or key is None or not bundles:
        raise InputError("give --cert, --key and --bundle, or --socket (or SPIFFE_ENDPOINT_SOCKET) "
                         "for the Workload API")
    from intelsec.identity.sources import FileSource

    return FileSource(cert, key, bundles)


def _serve_forever(handler, context, listen: str, metrics_listen: str | None, registry) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import signal

    from intelsec.identity.sidecar import parse_addr, serve_until
    from intelsec.output import info

    if metrics_listen:
        from prometheus_client import start_http_server

        start_http_server(parse_addr(metrics_listen)[1], parse_addr(metrics_listen)[0], registry=registry)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_until(handler, context, listen, stop, lambda a: info(f"listening on {a[0]}:{a[1]}"))

    asyncio.run(main())


def _plain() -> None:
    return None


@app.command("sidecar")
def sidecar(
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to listen on")],
    upstream: Annotated[str, typer.Option("--upstream", help="Where to forward: HOST:PORT or URL")],
    mode: Annotated[str, typer.Option("--mode", help="enforce (refuse) or shadow (log only)")] = "enforce",
    direction: Annotated[str, typer.Option("--direction", help="inbound (mTLS in) or outbound (mTLS out)")] = "inbound",
    cert: Annotated[Path | None, typer.Option("--cert", help="SVID chain PEM (file source)")] = None,
    key: Annotated[Path | None, typer.Option("--key", help="SVID key PEM (file source)")] = None,
    bundle: Annotated[list[Path] | None, typer.Option("--bundle", help="Trust bundle, one per trust domain")] = None,
    socket: Annotated[str | None, typer.Option("--socket", help="Workload API socket (instead of files)")] = None,
    server_id: Annotated[str | None, typer.Option("--server-id", help="Outbound: required server SPIFFE ID")] = None,
    audience: Annotated[str | None, typer.Option(
        "--audience", help="Inbound: this service's JWT-SVID audience. Outbound: attach a JWT-SVID for it")] = None,
    metrics: Annotated[str | None, typer.Option("--metrics", help="HOST:PORT for Prometheus /metrics")] = None,
    alerts: Annotated[bool, typer.Option("--alerts", help="Raise alerts for refused callers")] = False,
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Run the mTLS sidecar (inbound: verify + Rego authz + forward; outbound: mTLS with this SVID).

    Inbound it verifies the caller's SVID, asks policies/identity.rego, and forwards with x-spiffe-id
    headers or refuses with 403. Outbound it takes plain HTTP locally and speaks mTLS upstream,
    checking the server's SPIFFE ID in the handshake.

    \b
    Examples:
      intelsec identity sidecar --listen 0.0.0.0:8443 --upstream 127.0.0.1:8080 \\
          --cert svid/svid.pem --key svid/svid.key --bundle svid/bundle.pem --mode shadow
      intelsec identity sidecar --direction outbound --listen 127.0.0.1:15001 \\
          --upstream https://ledger.prod:8443 --server-id spiffe://example.com/ns/prod/sa/ledger \\
          --socket /run/spire/agent.sock
    """
    from prometheus_client import CollectorRegistry

    from intelsec.identity.sidecar import InboundSidecar, OutboundSidecar, SidecarMetrics, rego_decider
    from intelsec.identity.spiffeid import InvalidSpiffeId, parse_spiffe_id
    from intelsec.identity.tlsconfig import expect_id

    check_format(mode, ("enforce", "shadow"))
    check_format(direction, ("inbound", "outbound"))
    source = _source(cert, key, bundle, socket)
    registry = CollectorRegistry()
    m = SidecarMetrics(registry)
    if direction == "inbound":
        from intelsec.identity.policy import identity_engine

        ws = open_workspace(workspace)
        engine = identity_engine(ws)
        denial_alerts = None
        if alerts:
            from intelsec.alerts.factory import alert_service
            from intelsec.identity.sidecar import DenialAlerts

            denial_alerts = DenialAlerts(alert_service(ws, open_database(ws, database)).raise_alert)
        inbound = InboundSidecar(source, upstream, rego_decider(engine), m, mode, audience,  # type: ignore[arg-type]
                                 alerts=denial_alerts)
        handler: InboundSidecar | OutboundSidecar = inbound
        context: Callable[[], ssl.SSLContext | None] = inbound.context
    else:
        from intelsec.identity.sidecar import parse_addr

        if parse_addr(listen)[0] not in ("127.0.0.1", "::1", "localhost"):
            raise InputError(f"--listen {listen}: the outbound side is plain HTTP that speaks with this "
                             "workload's identity; listen on loopback only")
        if server_id is not None:
            try:
                parse_spiffe_id(server_id)
            except InvalidSpiffeId as exc:
                raise InputError(f"--server-id: {exc}") from None
        jwt_svid = None
        if audience:
            fetch = getattr(source, "jwt_svid", None)
            if fetch is None:
                raise InputError("--audience on the outbound side needs the Workload API (--socket)")
            jwt_svid = lambda: fetch(audience)  # noqa: E731
        handler = OutboundSidecar(source, upstream, expect_id(server_id, None if server_id else
                                                              source.material().spiffe_id.split("/")[2]), m,
                                  jwt_svid=jwt_svid)
        context = _plain  # plain HTTP on the local side
    _serve_forever(handler, context, listen, metrics, registry)


@app.command("agent")
def agent(
    socket: Annotated[Path, typer.Option("--socket", help="Unix socket path to serve the Workload API on")],
    registrations: Annotated[Path | None, typer.Option(
        "--registrations", help="Registration entries (default: <workspace>/identity/spiffeids.yaml)",
        show_default=False)] = None,
    ttl: TtlOpt = "1h",
    rotate_at: Annotated[float, typer.Option("--rotate-at", min=0.1, max=0.9,
                                             help="Re-issue after this fraction of an SVID's life")] = 0.5,
    k8s_pods: Annotated[str | None, typer.Option(
        "--k8s-pods", help="Enable k8s selectors: kubelet /pods URL or a PodList JSON file")] = None,
    k8s_token_file: Annotated[Path | None, typer.Option("--k8s-token-file", help="Bearer token for --k8s-pods")] = None,
    k8s_ca: Annotated[Path | None, typer.Option("--k8s-ca", help="CA file for the kubelet's certificate")] = None,
    ca_dir: CaDirOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Serve the SPIFFE Workload API on a Unix socket, attesting callers by uid/gid/binary path.

    \b
    Examples:
      intelsec identity agent --socket /run/intelsec/agent.sock
      intelsec identity agent --socket /run/intelsec/agent.sock --k8s-pods https://127.0.0.1:10250/pods \\
          --k8s-token-file /var/run/secrets/kubernetes.io/serviceaccount/token
      SPIFFE_ENDPOINT_SOCKET=unix:/run/intelsec/agent.sock my-service
    """
    import signal
    import threading

    from intelsec.identity.agent import Agent
    from intelsec.identity.attest import load_registrations
    from intelsec.output import info

    ca = _load_ca(ca_dir, workspace)
    path = registrations or open_workspace(workspace).path("identity/spiffeids.yaml")
    entries = load_registrations(path)
    k8s = None
    if k8s_pods:
        from intelsec.identity.k8s import K8sAttestor

        k8s = K8sAttestor(k8s_pods, k8s_token_file, verify=str(k8s_ca) if k8s_ca else True)
    srv = Agent(ca, entries, socket, ttl=_ttl(ttl), rotate_fraction=rotate_at, k8s=k8s)
    srv.start()
    info(f"Workload API on unix:{socket} ({len(entries)} registrations, trust domain {ca.trust_domain})")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    srv.stop()


@app.command("broker")
def broker(
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to listen on (TLS)")],
    cert: Annotated[Path | None, typer.Option("--cert", help="Broker SVID chain PEM (file source)")] = None,
    key: Annotated[Path | None, typer.Option("--key", help="Broker SVID key PEM (file source)")] = None,
    bundle: Annotated[list[Path] | None, typer.Option("--bundle", help="Trust bundle, one per trust domain")] = None,
    socket: Annotated[str | None, typer.Option("--socket", help="Workload API socket (instead of files)")] = None,
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Mint short-lived PostgreSQL logins for attested workloads (mTLS SVID or JWT-SVID), reap expired ones.

    The admin connection URL is read from the environment variable named by
    `identity.broker.admin_url_env` (default INTELSEC_BROKER_ADMIN_URL); grants map SPIFFE IDs to
    group roles in intelsec.yaml.

    \b
    Examples:
      INTELSEC_BROKER_ADMIN_URL=postgresql://broker@db/app intelsec identity broker --listen 0.0.0.0:8444 \\
          --cert svid/svid.pem --key svid/svid.key --bundle svid/bundle.json
      curl --cert svid.pem --key svid.key -X POST https://broker:8444/v1/credentials/postgres
    """
    import asyncio
    import contextlib
    import os
    import signal

    from intelsec.clock import parse_duration
    from intelsec.errors import ConfigError
    from intelsec.identity.broker import BrokerHandler, PostgresBroker
    from intelsec.identity.settings import identity_settings
    from intelsec.identity.sidecar import serve_until
    from intelsec.identity.tlsconfig import server_context
    from intelsec.output import info

    ws = open_workspace(workspace)
    settings = identity_settings(ws).broker
    admin_url = os.environ.get(settings.admin_url_env)
    if not admin_url:
        raise ConfigError(f"environment variable {settings.admin_url_env} (broker admin database URL) is not set")
    if not settings.grants:
        raise ConfigError(f"{ws.root / 'intelsec.yaml'}: identity.broker.grants is empty; nothing could be issued")
    source = _source(cert, key, bundle, socket)
    pb = PostgresBroker(admin_url, settings.grants, open_database(ws, database), _ttl(settings.ttl),
                        settings.role_prefix, max_active=settings.max_active_per_workload)
    handler = BrokerHandler(pb, source, settings.audience)
    interval = parse_duration(settings.reap_interval).total_seconds()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        async def reaper() -> None:
            while not stop.is_set():
                try:
                    await asyncio.to_thread(pb.reap)
                except Exception as exc:  # keep reaping on the next tick (database briefly down...)
                    info(f"reaper: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)

        task = asyncio.create_task(reaper())
        await serve_until(handler, lambda: server_context(source.material(), require_client_cert=False), listen,
                          stop, lambda a: info(f"broker listening on {a[0]}:{a[1]}"))
        await task

    asyncio.run(main())


@app.command("report")
def report(
    manifests: Annotated[Path, typer.Option("--manifests", help="Directory of Kubernetes YAML manifests")],
    tier0: Annotated[list[str] | None, typer.Option("--tier0", help="Tier-0 service (default: identity.tier0)")] = None,
    registrations: Annotated[Path | None, typer.Option(
        "--registrations", help="Registration entries (default: <workspace>/identity/spiffeids.yaml)",
        show_default=False)] = None,
    workspace: WorkspaceOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Identity coverage of tier-0 services from Kubernetes manifests (exit 1 when one falls short).

    For each service: registered? behind an enforcing mTLS sidecar? free of plaintext secrets?
    Secret values are never printed.

    \b
    Examples:
      intelsec identity report --manifests deploy/k8s
      intelsec identity report --manifests deploy/k8s --tier0 payments --tier0 ledger --format json
      intelsec identity report --manifests deploy/k8s --format sarif > identity.sarif
    """
    from intelsec.identity.attest import load_registrations
    from intelsec.identity.report import coverage
    from intelsec.identity.settings import identity_settings

    check_format(fmt, ("table", "json", "sarif"))
    if not manifests.is_dir():
        raise InputError(f"{manifests}: not a directory")
    ws = open_workspace(workspace)
    services = tier0 or identity_settings(ws).tier0
    if not services:
        raise InputError("no tier-0 services: pass --tier0 NAME or set identity.tier0 in intelsec.yaml")
    entries = load_registrations(registrations or ws.path("identity/spiffeids.yaml"))
    rep = coverage(services, manifests, entries)
    if fmt == "json":
        print_json({"ok": rep.ok, **rep.model_dump(mode="json")})
    elif fmt == "sarif":
        from intelsec.identity.report import SARIF_RULES, sarif_results
        from intelsec.output import sarif_log

        print_json(sarif_log("intelsec-identity", SARIF_RULES, sarif_results(rep)))
    else:
        print_table([{"service": s.service, "registered": "yes" if s.registered else "NO", "mtls": s.mtls,
                      "secrets": len(s.plaintext_secrets), "status": "ok" if s.ok else "; ".join(s.problems)}
                     for s in rep.services], ["service", "registered", "mtls", "secrets", "status"])
        findings = [f for s in rep.services for f in s.plaintext_secrets]
        if findings:
            print_table([{"where": f"{f.file}:{f.line}", "object": f.object, "key": f.key, "kind": f.kind}
                         for f in findings], ["where", "object", "key", "kind"], title="plaintext secrets")
        for err in rep.errors:
            typer.echo(f"error: {err}", err=True)
    if not rep.ok:
        raise typer.Exit(1)
