"""`intelsec privacy dlp ...`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Scan exports and telemetry for PII and secrets.", no_args_is_help=True)
