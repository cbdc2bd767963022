"""`intelsec egress ...`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Egress governance: evaluate flows, run the enforcing proxy, render Cilium/K8s policies, detect drift.", no_args_is_help=True)
