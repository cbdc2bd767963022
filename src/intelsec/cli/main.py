"""The `intelsec` command."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from intelsec import __version__
from intelsec.cli import (
    alerts,
    config_cmd,
    db,
    deception,
    egress,
    identity,
    init,
    policy,
    privacy,
    sbom,
    up,
    validation,
)
from intelsec.errors import IntelsecError

app = typer.Typer(
    name="intelsec",
    help="""Security controls as code, enforced and measured.

\b
Start here:
  intelsec init ./controls                  write a workspace of controls
  intelsec config validate -w ./controls    check every file in it
  intelsec policy test -w ./controls        run the Rego unit tests
  intelsec up -w ./controls                 start the control plane (API, console, /metrics)
""",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"intelsec {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
) -> None:
    _state["debug"] = debug or os.environ.get("INTELSEC_DEBUG") == "1"
    logging.basicConfig(level=logging.DEBUG if _state["debug"] else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


app.command("init")(init.init)
app.command("up")(up.up)
app.add_typer(config_cmd.app, name="config")
app.add_typer(db.app, name="db")
app.add_typer(alerts.app, name="alerts")
app.add_typer(policy.app, name="policy")
app.add_typer(identity.app, name="identity")
app.add_typer(deception.app, name="deception")
app.add_typer(egress.app, name="egress")
app.add_typer(sbom.app, name="sbom")
app.add_typer(privacy.app, name="privacy")
app.add_typer(validation.app, name="validation")
app.add_typer(validation.detect_app, name="detect")


def run() -> None:
    """Console entry point: user errors become one clear line and exit code 2, not a traceback."""
    try:
        code = app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except IntelsecError as exc:
        if _state["debug"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if _state["debug"]:
            raise
        typer.echo(f"error: unexpected {type(exc).__name__}: {exc} (rerun with --debug for details)", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
