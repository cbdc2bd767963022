"""`intelsec init`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from intelsec.output import info


def init(
    directory: Annotated[Path, typer.Argument(help="Directory to create the workspace in.")] = Path("controls"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
) -> None:
    """Write a controls workspace: intelsec.yaml, Rego policies with tests, identity, egress,
    deception, validation, DLP and telemetry files.

    \b
    Examples:
      intelsec init ./controls
      intelsec init ./controls --force     # restore the template over local edits
    """
    from intelsec.workspace.scaffold import init_workspace

    result = init_workspace(directory, force=force)
    for rel in result.written:
        info(f"  wrote   {directory / rel}")
    for rel in result.skipped:
        info(f"  kept    {directory / rel} (exists; --force overwrites)")
    info(f"workspace ready: {directory}  next: intelsec config validate -w {directory}")
