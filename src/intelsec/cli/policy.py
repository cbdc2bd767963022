"""`intelsec policy ...`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from intelsec.cli.common import WorkspaceOpt, open_workspace
from intelsec.errors import InputError
from intelsec.output import print_json

app = typer.Typer(help="Evaluate and test the workspace's Rego policies.", no_args_is_help=True)


def _read_input(source: str | None) -> Any:
    if source is None:
        return {}
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{source}: cannot read input: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}:{exc.lineno}:{exc.colno}: invalid JSON input: {exc.msg}") from None


@app.command("eval")
def eval_(
    query: Annotated[str, typer.Argument(help="Rule or package path, e.g. data.egress.deny")],
    input_file: Annotated[str | None, typer.Option("--input", "-i", help="JSON input file, or - for stdin")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Evaluate a query against the workspace policies and print the decision as JSON.

    \b
    Examples:
      intelsec policy eval data.egress.deny -w ./controls --input flow.json
      echo '{"peer": {}}' | intelsec policy eval data.identity -w ./controls --input -
    """
    from intelsec.policy.workspace import engine_for_workspace

    engine = engine_for_workspace(open_workspace(workspace))
    print_json(engine.decide(query, _read_input(input_file)))


@app.command("test")
def test(
    workspace: WorkspaceOpt = None,
    run: Annotated[str | None, typer.Option("--run", "-r", help="Only tests whose name matches this regex.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print passing tests too.")] = False,
) -> None:
    """Run `test_*` rules from every *_test.rego file, like `opa test`. Exit 1 on any failure.

    \b
    Example:
      intelsec policy test -w ./controls -v
    """
    from intelsec.policy.testing import run_tests
    from intelsec.policy.workspace import engine_for_workspace

    engine = engine_for_workspace(open_workspace(workspace), include_tests=True)
    report = run_tests(engine, run)
    for r in report.results:
        if not r.passed:
            typer.echo(f"FAIL: {r.name} ({r.duration_ms:.2f}ms): {r.error}")
        elif verbose:
            typer.echo(f"PASS: {r.name} ({r.duration_ms:.2f}ms)")
    total = len(report.results)
    typer.echo("-" * 60)
    if report.failed:
        typer.echo(f"PASS: {report.passed}/{total}")
        typer.echo(f"FAIL: {report.failed}/{total}")
        raise typer.Exit(1)
    if total == 0:
        typer.echo("no tests found (test_* rules in *_test.rego)")
        raise typer.Exit(1)
    typer.echo(f"PASS: {total}/{total}")
