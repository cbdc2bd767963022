"""`intelsec identity ...`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Attested workload identity: SPIFFE IDs, SVIDs, Workload API, mTLS sidecar, credential broker.", no_args_is_help=True)
