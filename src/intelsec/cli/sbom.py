"""`intelsec sbom ...`."""

from __future__ import annotations

import typer

app = typer.Typer(help="SBOM -> fix automation: triage findings, plan fixes, open PRs, burn-down.", no_args_is_help=True)
