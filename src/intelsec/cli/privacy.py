"""`intelsec privacy ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from intelsec.cli import dlp
from intelsec.cli.common import DatabaseOpt, FormatOpt, WorkspaceOpt, check_format, open_database, open_workspace
from intelsec.output import print_json, print_table

app = typer.Typer(help="Privacy-safe telemetry: format-preserving tokenization, keys, detokenization, DLP.",
                  no_args_is_help=True)
app.add_typer(dlp.app, name="dlp")

fpe_app = typer.Typer(help="Raw FF1/FF3-1 for operators and test vectors. FF1 is the default; FF3-1 is "
                           "deprecated (NIST's 2025 draft withdraws it) and kept for compatibility.",
                      no_args_is_help=True)
app.add_typer(fpe_app, name="fpe")

AlgOpt = Annotated[str, typer.Option("--alg", help="ff1 (default) or ff3-1 (deprecated: compatibility only, "
                                                   "e.g. tokens made by Vault Transform)")]
KeyOpt = Annotated[str, typer.Option("--key", help="AES key, hex (16/24/32 bytes)")]
TweakOpt = Annotated[str, typer.Option("--tweak", help="Tweak, hex (FF3-1: exactly 7 bytes)")]
RadixOpt = Annotated[int, typer.Option("--radix", help="Radix 2..62 (more with --alphabet)")]
AlphabetOpt = Annotated[str | None, typer.Option("--alphabet", help="Custom alphabet (length = radix)")]


def _fpe(alg: str, key: str, tweak: str, radix: int, alphabet: str | None):  # type: ignore[no-untyped-def]
    from intelsec.errors import InputError
    from intelsec.privacy.fpe import cipher

    try:
        key_b, tweak_b = bytes.fromhex(key), bytes.fromhex(tweak)
    except ValueError:
        raise InputError("--key and --tweak must be hexadecimal") from None
    return cipher(alg, key_b, tweak_b, radix, alphabet)


@fpe_app.command("encrypt")
def fpe_encrypt(value: str, key: KeyOpt, alg: AlgOpt = "ff1", tweak: TweakOpt = "", radix: RadixOpt = 10,
                alphabet: AlphabetOpt = None) -> None:
    """Encrypt one value; prints only the result.

    \b
    Examples:
      intelsec privacy fpe encrypt --key 2B7E151628AED2A6ABF7158809CF4F3C 0123456789
      intelsec privacy fpe encrypt --alg ff3-1 --key 2DE79D232DF5585D68CE47882AE256D6 \\
          --tweak CBD09280979564 3992520240
    """
    typer.echo(_fpe(alg, key, tweak, radix, alphabet).encrypt(value))


@fpe_app.command("decrypt")
def fpe_decrypt(value: str, key: KeyOpt, alg: AlgOpt = "ff1", tweak: TweakOpt = "", radix: RadixOpt = 10,
                alphabet: AlphabetOpt = None) -> None:
    """Decrypt one value; prints only the result.

    \b
    Examples:
      intelsec privacy fpe decrypt --key 2B7E151628AED2A6ABF7158809CF4F3C 2433477484
      intelsec privacy fpe decrypt --alg ff1 --radix 36 --key 2B7E151628AED2A6ABF7158809CF4F3C \\
          --tweak 3737373770717273373737 a9tv40mll9kdu509eum
    """
    typer.echo(_fpe(alg, key, tweak, radix, alphabet).decrypt(value))


# ---- keys ------------------------------------------------------------------------------------------

keys_app = typer.Typer(help="Versioned tokenization keys, wrapped by the configured provider "
                            "(local master key, AWS KMS or a PKCS#11 HSM).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
KEY_COLUMNS = ["key_id", "version", "alg", "state", "provider", "kcv", "created_at"]


def _keyring(workspace, keyring, create: bool = False):  # type: ignore[no-untyped-def]
    """The workspace keyring, or a bare keyring file (local provider) when no workspace is used."""
    from intelsec.errors import ConfigError
    from intelsec.privacy.config import PrivacyConfig, privacy_config
    from intelsec.privacy.keys.factory import keyring_for

    path = keyring.resolve() if keyring is not None else None
    try:
        ws = open_workspace(workspace)
    except ConfigError:
        if workspace is not None or path is None:
            raise
        return keyring_for(PrivacyConfig(), path.parent, create=create, keyring_path=path)
    return keyring_for(privacy_config(ws), ws.root, create=create, keyring_path=path)


KeyringOpt = Annotated[Path | None, typer.Option("--keyring", help="Keyring file (default: from the workspace "
                                                                    "config, .intelsec/keys/keyring.json)")]


@keys_app.command("create")
def keys_create(key_id: Annotated[str, typer.Argument(help="Key id, e.g. telemetry")] = "telemetry",
                alg: AlgOpt = "ff1", workspace: WorkspaceOpt = None, keyring: KeyringOpt = None,
                fmt: FormatOpt = "table") -> None:
    """Create a key (version 1). The local provider creates a 0600 master key file if needed.

    \b
    Examples:
      intelsec privacy keys create telemetry
      INTELSEC_MASTER_KEY=$(openssl rand -hex 32) intelsec privacy keys create exports --alg ff1
    """
    check_format(fmt)
    _render([_keyring(workspace, keyring, create=True).create(key_id, alg)], fmt)


@keys_app.command("rotate")
def keys_rotate(key_id: Annotated[str, typer.Argument(help="Key id")] = "telemetry", workspace: WorkspaceOpt = None,
                keyring: KeyringOpt = None, fmt: FormatOpt = "table") -> None:
    """Add a new active version; older versions stay for detokenization and re-tokenization.

    \b
    Example:
      intelsec privacy keys rotate telemetry
    """
    check_format(fmt)
    _render([_keyring(workspace, keyring).rotate(key_id)], fmt)


@keys_app.command("list")
def keys_list(workspace: WorkspaceOpt = None, keyring: KeyringOpt = None, fmt: FormatOpt = "table") -> None:
    """List keys and versions (never key material).

    \b
    Example:
      intelsec privacy keys list --format json
    """
    check_format(fmt)
    _render(_keyring(workspace, keyring).list(), fmt)


@keys_app.command("export-public-metadata")
def keys_export(workspace: WorkspaceOpt = None, keyring: KeyringOpt = None,
                output: Annotated[Path | None, typer.Option("-o", "--output", help="File (default: stdout)")] = None
                ) -> None:
    """Export key ids, versions, algorithms, providers and check values as JSON, for audits and
    for consumers that must know which key version made a file. No key material, wrapped or not.

    \b
    Example:
      intelsec privacy keys export-public-metadata -o keys-public.json
    """
    from intelsec.output import dumps

    doc = {"keys": _keyring(workspace, keyring).list()}
    if output:
        output.write_text(dumps(doc) + "\n")
    else:
        print_json(doc)


def _render(rows: list[dict], fmt: str) -> None:  # type: ignore[type-arg]
    if fmt == "json":
        print_json(rows)
    else:
        print_table(rows, KEY_COLUMNS, empty="no keys")


# ---- tokenize --------------------------------------------------------------------------------------

@app.command("tokenize")
def tokenize(
    inputs: Annotated[list[Path], typer.Argument(help="JSONL (.gz), CSV or Parquet files")],
    schema: Annotated[Path | None, typer.Option("--schema", help="Telemetry schema (default: "
                                                "<workspace>/telemetry/schema.yaml)")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Output file (one input) or directory")] = None,
    check: Annotated[bool, typer.Option("--check", help="Prove the inputs are fully tokenized per schema "
                                                        "(exit 1 listing offending paths)")] = False,
    key: Annotated[str | None, typer.Option("--key", help="Key id (default: schema `key`, then "
                                                          "privacy.default_key)")] = None,
    key_version: Annotated[int | None, typer.Option("--key-version", help="Key version (default: active)")] = None,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Worker processes")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 5000,
    fingerprints: Annotated[Path | None, typer.Option("--fingerprints", help="State directory holding the "
                                                      "fingerprint filters (default: the workspace's .intelsec)")
                            ] = None,
    workspace: WorkspaceOpt = None,
    keyring: KeyringOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Tokenize the declared sensitive fields of telemetry files, or check that files are tokenized.

    Records that cannot be fully tokenized are left out and listed with file:line and reason in
    <OUT>.quarantine.jsonl; the key id/version goes to <OUT>.meta.json (Parquet: file metadata).
    Every token emitted is remembered in the workspace fingerprint filter so DLP scans report it as
    "tokenized", not as a leak. Exit 1 when records were quarantined (or, with --check, when a
    field is not tokenized).

    \b
    Examples:
      intelsec privacy tokenize --schema telemetry/schema.yaml auth.jsonl.gz -o auth.tok.jsonl.gz
      intelsec privacy tokenize -j 2 logs/*.parquet -o tokenized/
      intelsec privacy tokenize --check tokenized/auth.tok.jsonl.gz
    """
    from intelsec.errors import ConfigError, InputError
    from intelsec.fingerprints import open_filter, save_filter
    from intelsec.output import info
    from intelsec.privacy.telemetry_schema import TelemetrySchema
    from intelsec.privacy.tokenize_run import check_files, tokenize_files
    from intelsec.yamlio import load_model

    check_format(fmt)
    ws = None
    try:
        ws = open_workspace(workspace)
    except ConfigError:
        if workspace is not None or (schema is None) or (keyring is None and not check):
            raise
    schema_path = schema or (ws.path("telemetry/schema.yaml") if ws else None)
    assert schema_path is not None
    sch: TelemetrySchema = load_model(schema_path, TelemetrySchema)
    state_dir = fingerprints or (ws.state_dir if ws else None)

    if check:
        if state_dir is None:
            raise ConfigError("--check needs the fingerprint filters: give --workspace or --fingerprints DIR")
        from intelsec.fingerprints import FINGERPRINT_DIR

        if not (state_dir / FINGERPRINT_DIR / "tokenized.filter").exists():
            raise InputError(f"{state_dir / FINGERPRINT_DIR}: no tokenized.filter yet (nothing tokenized here)")
        known = open_filter(state_dir, "tokenized")
        records, problems = check_files(inputs, sch, known.__contains__, batch_size)
        if fmt == "json":
            print_json({"records": records, "ok": not problems, "problems": problems})
        else:
            for p in problems:
                typer.echo(p)
            info(f"checked {records} records: {'fully tokenized' if not problems else f'{len(problems)} problems'}")
        raise typer.Exit(1 if problems else 0)

    if output is None:
        raise InputError("give -o/--output (a file for one input, a directory for several)")
    from intelsec.privacy.config import PrivacyConfig, privacy_config

    cfg = privacy_config(ws) if ws else PrivacyConfig()
    data_key = _keyring(workspace, keyring).data_key(key or sch.key or cfg.default_key, key_version)
    flt = open_filter(state_dir, "tokenized") if state_dir else None
    if flt is None:
        info("note: no workspace or --fingerprints: emitted tokens are not recorded, so DLP scans cannot tell "
             "them from leaks")
    try:
        summary = _with_progress(lambda cb: tokenize_files(list(inputs), output, sch, data_key, workers=workers,
                                                           batch_size=batch_size, fingerprints=flt, on_batch=cb))
    finally:  # also when a later input fails: tokens already written must stay known to DLP scans
        if flt is not None and state_dir is not None:
            save_filter(state_dir, flt)
    d = summary.as_dict() | {"key_id": data_key.key_id, "key_version": data_key.version}
    if ws is not None:  # feeds the "PII tokens/min" dashboard panel
        from intelsec.store.runs import record_run

        counts = {k: d[k] for k in ("records", "fields_tokenized", "quarantined", "seconds")}
        record_run(open_database(ws, None), "privacy.tokenize", "failed" if summary.quarantined else "ok", counts)
    if fmt == "json":
        print_json(d)
    else:
        print_table([d], ["records", "fields_tokenized", "quarantined", "tokens_per_minute", "key_id",
                          "key_version"])
    if summary.quarantined:
        info(f"{summary.quarantined} records quarantined: see {output}*.quarantine.jsonl")
        raise typer.Exit(1)


def _with_progress(run):  # type: ignore[no-untyped-def]
    import sys

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from intelsec.output import console

    with Progress(SpinnerColumn(), TextColumn("{task.completed:,} records"), TimeElapsedColumn(),
                  console=console(stderr=True), transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("tokenize", total=None)
        return run(lambda n: bar.advance(task, n))


# ---- detokenize ------------------------------------------------------------------------------------

@app.command("detokenize")
def detokenize(
    tokens: Annotated[list[str], typer.Argument(help="Tokens to reverse (all from the same field)")],
    field: Annotated[str, typer.Option("--field", help="Schema field the tokens came from, e.g. user.email")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the audit trail)")],
    ticket: Annotated[str | None, typer.Option("--ticket", help="Approval / case ticket id")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who asks (default: the OS user)")] = None,
    key_version: Annotated[int | None, typer.Option("--key-version", help="Key version that made the tokens "
                                                                          "(see the file's .meta.json)")] = None,
    schema: Annotated[Path | None, typer.Option("--schema", help="Telemetry schema (default: "
                                                "<workspace>/telemetry/schema.yaml)")] = None,
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Reverse tokens of one field, with an audit record (who, when, field, count, reason, ticket).

    Every request, granted or denied, is audited before anything is printed. Prints one value per
    line, in the order given (json: tokens, values, errors, audit id).

    \b
    Examples:
      intelsec privacy detokenize --field user.email --reason "IR-1234 phishing triage" \\
          --ticket IR-1234 2h9dt.2tzlh@5lusxrj.com
      intelsec privacy detokenize --field source.ip --key-version 1 --reason "case 77 scope" 132.5.91.253
    """
    import getpass

    from pydantic import ValidationError

    from intelsec.errors import InputError
    from intelsec.privacy.detokenize import DetokenizeRequest, detokenizer_for

    check_format(fmt)
    ws = open_workspace(workspace)
    svc = detokenizer_for(ws, open_database(ws, database), schema_path=schema)
    try:
        req = DetokenizeRequest(field=field, tokens=tokens, reason=reason, ticket=ticket, key_version=key_version)
    except ValidationError as exc:
        raise InputError(f"invalid request: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from None
    res = svc.detokenize(by or getpass.getuser(), "cli", req)
    if fmt == "json":
        print_json({"field": field, "tokens": tokens, "values": res.values,
                    "errors": {tokens[i]: e for i, e in res.errors.items()}, "audit_id": res.audit_id,
                    "key_id": res.key_id, "key_version": res.key_version})
    else:
        for i, v in enumerate(res.values):
            typer.echo(v if v is not None else f"error: {res.errors.get(i, 'not a token')}")
    if res.errors:
        raise typer.Exit(1)


@app.command("audit")
def audit(workspace: WorkspaceOpt = None, database: DatabaseOpt = None,
          limit: Annotated[int, typer.Option(min=1, max=10000)] = 50, fmt: FormatOpt = "table") -> None:
    """Show the detokenization audit trail, newest first.

    \b
    Example:
      intelsec privacy audit --limit 20
    """
    from intelsec.privacy.detokenize import detokenizer_for

    check_format(fmt)
    ws = open_workspace(workspace)
    rows = [{"time": r.time.strftime("%Y-%m-%d %H:%M:%S"), "caller": r.caller, "channel": r.channel,
             "field": r.field, "count": r.count, "granted": r.granted, "decision": r.decision,
             "ticket": r.ticket, "reason": r.reason, "key": f"{r.key_id} v{r.key_version}" if r.key_id else None}
            for r in detokenizer_for(ws, open_database(ws, database)).recent(limit)]
    if fmt == "json":
        print_json(rows)
    else:
        print_table(rows, ["time", "caller", "channel", "field", "count", "granted", "decision", "ticket"],
                    empty="no detokenization requests")
