"""Run the real `intelsec` entry point in-process and capture exit code, stdout and stderr."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    from intelsec.cli.main import run

    capsys.readouterr()
    old = sys.argv
    sys.argv = ["intelsec", *args]
    try:
        run()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)
