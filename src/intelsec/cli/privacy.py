"""`intelsec privacy ...`."""

from __future__ import annotations

import typer

from intelsec.cli import dlp

app = typer.Typer(help="Privacy-safe telemetry: format-preserving tokenization, keys, detokenization, DLP.",
                  no_args_is_help=True)
app.add_typer(dlp.app, name="dlp")
