"""Event documents for detection: flattening to dotted names, timestamps, and reading log files.

Bad lines never stop a run: they are returned as quarantined records with file, line and reason.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from intelsec.errors import InputError

# Where common log formats keep the event time (CloudTrail, Okta, Kubernetes audit, ECS, Azure...).
TIME_KEYS = ("timestamp", "@timestamp", "eventTime", "published", "requestReceivedTimestamp",
             "stageTimestamp", "time", "TimeGenerated", "createdDateTime", "ts")


@dataclass(frozen=True)
class Quarantined:
    path: str
    line: int
    reason: str


def flatten(doc: dict[str, Any], prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}`; lists are kept whole (as JSON text later)."""
    out = {} if out is None else out
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flatten(value, name + ".", out)
        else:
            out[name] = value
    return out


def to_iso(value: Any) -> str | None:
    """Normalise a timestamp (ISO text, datetime or epoch seconds/ms) to ISO-8601 UTC with ms."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, datetime):
            dt = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            dt = datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
        else:
            dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


_TIME_KEYS_LOWER = tuple(k.lower() for k in TIME_KEYS)


def event_time(flat: dict[str, Any]) -> str | None:
    """The event's time from the first known time field present (names compared case-insensitively)."""
    lower = {k.lower(): v for k, v in flat.items() if k.lower() in _TIME_KEYS_LOWER}
    for key in _TIME_KEYS_LOWER:
        if key in lower:
            iso = to_iso(lower[key])
            if iso:
                return iso
    return None


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace")


def read_events(path: Path) -> tuple[list[dict[str, Any]], list[Quarantined]]:
    """Read JSON Lines, a JSON array, one JSON object or a CloudTrail `{"Records": [...]}` file."""
    if not path.is_file():
        raise InputError(f"{path}: no such event file")
    try:
        with _open(path) as fh:
            text = fh.read()
    except (OSError, EOFError, zlib.error) as exc:  # a truncated or fake .gz; EOFError would read as Ctrl-D
        raise InputError(f"{path}: cannot read: {exc}") from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        return _whole(path, text)
    if stripped.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            pass  # not one document: JSON Lines
        else:
            records = doc.get("Records") if isinstance(doc, dict) else None
            return _dicts(records, path) if isinstance(records, list) else ([doc], [])
    return _lines(path, text)


def _whole(path: Path, text: str) -> tuple[list[dict[str, Any]], list[Quarantined]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    return _dicts(doc, path)


def _dicts(items: list[Any], path: Path) -> tuple[list[dict[str, Any]], list[Quarantined]]:
    good = [d for d in items if isinstance(d, dict)]
    bad = [Quarantined(str(path), i + 1, f"array item {i} is not a JSON object") for i, d in enumerate(items)
           if not isinstance(d, dict)]
    return good, bad


def _lines(path: Path, text: str) -> tuple[list[dict[str, Any]], list[Quarantined]]:
    events: list[dict[str, Any]] = []
    bad: list[Quarantined] = []
    for number, line in _numbered(text):
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(Quarantined(str(path), number, f"invalid JSON: {exc.msg}"))
            continue
        if isinstance(doc, dict):
            events.append(doc)
        else:
            bad.append(Quarantined(str(path), number, "not a JSON object"))
    return events, bad


def _numbered(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield number, line
