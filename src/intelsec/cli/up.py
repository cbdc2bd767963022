"""`intelsec up`."""

from __future__ import annotations

import errno
import socket
from typing import Annotated

import typer

from intelsec.cli.common import DatabaseOpt, WorkspaceOpt, open_database, open_workspace
from intelsec.errors import IntelsecError
from intelsec.output import info


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise IntelsecError(f"port {port} on {host} is already in use; pick another with --port") from None
            raise IntelsecError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def up(
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: intelsec.yaml, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from intelsec.yaml: 8080)")] = None,
) -> None:
    """Start the control plane: REST API, console, /metrics, OPA Data API, alert dispatcher.

    \b
    Examples:
      intelsec up -w ./controls
      intelsec up -w ./controls --port 9090 --database postgresql://intelsec@127.0.0.1/intelsec
    """
    import uvicorn

    from intelsec.server.app import create_app

    ws = open_workspace(workspace)
    bind_host = host or ws.config.server.host
    bind_port = port or ws.config.server.port
    _check_port(bind_host, bind_port)
    db = open_database(ws, database)
    db.check()
    app = create_app(ws, db)
    info(f"intelsec control plane on http://{bind_host}:{bind_port}  (console /, metrics /metrics)")
    uvicorn.run(app, host=bind_host, port=bind_port, log_level="warning", timeout_graceful_shutdown=10)
