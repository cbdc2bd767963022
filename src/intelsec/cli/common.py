"""Options and helpers shared by commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from intelsec.config import Workspace
from intelsec.errors import InputError

if TYPE_CHECKING:
    from intelsec.store.db import Database

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace directory (default: $INTELSEC_WORKSPACE or .)",
                 show_default=False),
]
DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", help="Database URL (default: $INTELSEC_DATABASE_URL, intelsec.yaml, then "
                 "SQLite in <workspace>/.intelsec/state.db)", show_default=False),
]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="Output format: table or json")]


def check_format(fmt: str, allowed: tuple[str, ...] = ("table", "json")) -> str:
    if fmt not in allowed:
        raise InputError(f"unknown format {fmt!r}; choose one of: {', '.join(allowed)}")
    return fmt


def open_workspace(path: Path | None) -> Workspace:
    return Workspace.load(path)


def open_database(ws: Workspace, url: str | None, migrate: bool = True) -> Database:
    """Open the workspace database, applying migrations first so every command sees current tables."""
    from intelsec.store.db import Database, upgrade

    resolved = ws.database_url(url)
    if migrate:
        upgrade(resolved)
    return Database(resolved)
