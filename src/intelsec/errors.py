"""Error hierarchy: every user-facing failure is an IntelsecError with an actionable message.

The CLI prints `error: <message>` and exits with `exit_code` (2 for bad input/config), never a
traceback unless --debug is given.
"""

from __future__ import annotations

from pathlib import Path


class IntelsecError(Exception):
    """Base class for errors a user can act on."""

    exit_code = 2


class ConfigError(IntelsecError):
    """A workspace or configuration file is missing or invalid."""


class InputError(IntelsecError):
    """An input file or value is unusable."""


class PolicyError(IntelsecError):
    """A Rego policy does not compile or cannot be evaluated."""


class StoreError(IntelsecError):
    """The state database is unreachable or not migrated."""


class NotFoundError(IntelsecError):
    """A requested object does not exist."""

    exit_code = 1


def located(path: str | Path, line: int | None, message: str, column: int | None = None) -> str:
    """Format `file:line[:col]: message` the way compilers do, so editors can jump to it."""
    where = str(path)
    if line is not None:
        where += f":{line}"
        if column is not None:
            where += f":{column}"
    return f"{where}: {message}"
