"""`intelsec deception ...`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Deceptive assets: canary routes, beacons, honey DB users, honeytokens.", no_args_is_help=True)
