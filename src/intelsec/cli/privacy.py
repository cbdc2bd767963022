"""`intelsec privacy ...`."""

from __future__ import annotations

from typing import Annotated

import typer

from intelsec.cli import dlp

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
