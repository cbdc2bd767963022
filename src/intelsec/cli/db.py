"""`intelsec db ...`."""

from __future__ import annotations

import typer

from intelsec.cli.common import DatabaseOpt, WorkspaceOpt, open_workspace
from intelsec.output import info

app = typer.Typer(help="Manage the state database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(workspace: WorkspaceOpt = None, database: DatabaseOpt = None) -> None:
    """Apply all migrations (SQLite by default, PostgreSQL with --database).

    \b
    Examples:
      intelsec db upgrade -w ./controls
      intelsec db upgrade -w ./controls --database postgresql://intelsec@127.0.0.1/intelsec
    """
    from intelsec.store.db import current_heads, redact_url
    from intelsec.store.db import upgrade as do_upgrade

    ws = open_workspace(workspace)
    url = ws.database_url(database)
    do_upgrade(url)
    info(f"database {redact_url(url)} at {', '.join(sorted(current_heads(url)))}")
