"""`intelsec config ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from intelsec.cli.common import FormatOpt, check_format
from intelsec.output import info, print_json

app = typer.Typer(help="Check a workspace's configuration.", no_args_is_help=True)


@app.command("validate")
def validate(
    workspace: Annotated[Path, typer.Option("--workspace", "-w", help="Workspace directory.")] = Path("."),
    fmt: FormatOpt = "table",
) -> None:
    """Validate every YAML file against its model and compile every Rego file.

    Errors are printed as file:line: message; the exit code is 2 when any file is invalid.

    \b
    Example:
      intelsec config validate -w ./controls
    """
    from intelsec.workspace.validate import validate_workspace

    check_format(fmt)
    report = validate_workspace(workspace.resolve())
    if fmt == "json":
        print_json({"valid": not report.errors, "checked": report.checked, "errors": report.errors})
    else:
        for err in report.errors:
            typer.echo(err, err=True)
        if not report.errors:
            info(f"ok: {len(report.checked)} files valid")
    if report.errors:
        raise typer.Exit(2)
