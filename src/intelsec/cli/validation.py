"""`intelsec validation ...`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Continuous validation: ATT&CK-mapped scenarios, Sigma detections, policy drift tests.",
                  no_args_is_help=True)
