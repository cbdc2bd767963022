"""`intelsec privacy fpe encrypt|decrypt` through the real entry point."""

from __future__ import annotations

import pytest

from tests.clirunner import invoke


def test_fpe_cli_ff1_and_ff3_1(capsys: pytest.CaptureFixture[str]) -> None:
    r = invoke(capsys, "privacy", "fpe", "encrypt", "--key", "2B7E151628AED2A6ABF7158809CF4F3C", "0123456789")
    assert (r.code, r.out) == (0, "2433477484\n")
    r = invoke(capsys, "privacy", "fpe", "decrypt", "--alg", "ff3-1", "--key", "2DE79D232DF5585D68CE47882AE256D6",
               "--tweak", "CBD09280979564", "8901801106")
    assert (r.code, r.out) == (0, "3992520240\n")


@pytest.mark.parametrize(("args", "needle"), [
    (["--key", "2B7E"], "16, 24 or 32 bytes"),
    (["--key", "zz"], "hexadecimal"),
    (["--key", "2B7E151628AED2A6ABF7158809CF4F3C", "--alg", "ff3-1", "--tweak", "00"], "7 bytes"),
])
def test_fpe_cli_errors(capsys: pytest.CaptureFixture[str], args: list[str], needle: str) -> None:
    r = invoke(capsys, "privacy", "fpe", "encrypt", *args, "0123456789")
    assert r.code == 2 and needle in r.err and "Traceback" not in r.err
