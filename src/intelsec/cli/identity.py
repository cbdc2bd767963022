"""`intelsec identity ...`."""

from __future__ import annotations

from typing import Annotated

import typer

from intelsec.cli.common import FormatOpt, check_format
from intelsec.output import print_json, print_table

app = typer.Typer(help="Attested workload identity: SPIFFE IDs, SVIDs, Workload API, mTLS sidecar, "
                  "credential broker.", no_args_is_help=True)
id_app = typer.Typer(help="SPIFFE ID checks.", no_args_is_help=True)
app.add_typer(id_app, name="id")


@id_app.command("check")
def id_check(spiffe_id: Annotated[str, typer.Argument(help="The SPIFFE ID to check.")],
             fmt: FormatOpt = "table") -> None:
    """Check a SPIFFE ID against every rule of the SPIFFE-ID standard (exit 1 when it breaks one).

    \b
    Examples:
      intelsec identity id check spiffe://example.com/ns/prod/sa/payments
      intelsec identity id check 'spiffe://Example.com/a' --format json
    """
    from intelsec.identity.spiffeid import InvalidSpiffeId, parse_spiffe_id

    check_format(fmt)
    try:
        sid = parse_spiffe_id(spiffe_id)
    except InvalidSpiffeId as exc:
        if fmt == "json":
            print_json({"valid": False, "spiffe_id": spiffe_id, "reason": str(exc)})
        else:
            typer.echo(f"invalid: {exc}")
        raise typer.Exit(1) from None
    if fmt == "json":
        print_json({"valid": True, "spiffe_id": str(sid), "trust_domain": sid.trust_domain, "path": sid.path})
    else:
        print_table([{"trust_domain": sid.trust_domain, "path": sid.path or "/"}], ["trust_domain", "path"])
