"""Helpers for deception tests: a real uvicorn server, the CLI in-process, a registry on a workspace."""

from __future__ import annotations

import time
from typing import Any

from tests.clirunner import CliResult, invoke
from tests.liveserver import free_port, serve

__all__ = ["CliResult", "free_port", "invoke", "serve", "wait_for"]


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
