"""Every command teaches by example, and `--help` works everywhere."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from intelsec.cli.main import app
from tests.clirunner import invoke


def _commands() -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, (*path, name))
        else:
            out.append(path)

    walk(typer.main.get_command(app), ())
    return out


COMMANDS = _commands()


def test_every_command_has_examples() -> None:
    cli = typer.main.get_command(app)
    missing = []
    for path in COMMANDS:
        cmd: Any = cli
        for part in path:
            cmd = cmd.commands[part]
        if "Example" not in (cmd.help or ""):
            missing.append(" ".join(path))
    assert len(COMMANDS) > 50
    assert not missing, f"commands without examples in --help: {missing}"


@pytest.mark.parametrize("path", [p for p in COMMANDS if len(p) <= 2][:80], ids=" ".join)
def test_help_exits_zero(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    res = invoke(capsys, *path, "--help")
    assert res.code == 0, res.err
    assert "Usage:" in res.out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from intelsec import __version__

    res = invoke(capsys, "--version")
    assert res.code == 0 and res.out.strip() == f"intelsec {__version__}"
