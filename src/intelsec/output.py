"""Output formats in one place: every command renders tables, JSON and SARIF through here."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from intelsec import __version__

FORMATS = ("table", "json", "sarif")


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(data: Any, indent: int | None = 2) -> str:
    return json.dumps(data, default=_default, indent=indent, sort_keys=False, ensure_ascii=False)


def print_json(data: Any) -> None:
    sys.stdout.write(dumps(data) + "\n")
    sys.stdout.flush()


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Piped output (CI logs, files) gets wide tables instead of Rich's 80-column default.
    width = None if stream.isatty() else 200
    return Console(stderr=stderr, soft_wrap=False, highlight=False, width=width)


def print_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], title: str | None = None,
                empty: str = "nothing to show") -> None:
    rows = list(rows)
    out = console()
    if not rows:
        out.print(f"[dim]{empty}[/dim]")
        return
    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    out.print(table)


def sarif_log(tool: str, rules: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]],
              information_uri: str = "https://github.com/intelsec/intelsec") -> dict[str, Any]:
    """A SARIF 2.1.0 document with one run. `rules` and `results` use SARIF's own field names."""
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": tool, "version": __version__, "informationUri": information_uri,
                                "rules": list(rules)}},
            "results": list(results),
        }],
    }


SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


def info(message: str) -> None:
    """Progress/notes go to stderr so stdout stays machine-readable."""
    console(stderr=True).print(message)
