"""Kill switch: a file in the workspace state dir. While it exists no simulation step runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

KILL_FILE = "validation.kill"


@dataclass(frozen=True)
class KillState:
    engaged: bool
    reason: str | None = None
    by: str | None = None
    at: str | None = None


def kill_path(state_dir: Path) -> Path:
    return state_dir / KILL_FILE


def engage(state_dir: Path, reason: str, by: str, now: datetime) -> KillState:
    state_dir.mkdir(parents=True, exist_ok=True)
    state = KillState(True, reason, by, now.isoformat())
    tmp = kill_path(state_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps({"reason": reason, "by": by, "at": state.at}) + "\n", encoding="utf-8")
    tmp.replace(kill_path(state_dir))
    return state


def release(state_dir: Path) -> bool:
    try:
        kill_path(state_dir).unlink()
        return True
    except FileNotFoundError:
        return False


def status(state_dir: Path) -> KillState:
    path = kill_path(state_dir)
    if not path.exists():
        return KillState(False)
    try:
        doc = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        doc = {}  # an unreadable or hand-made (touch) kill file still stops everything
    doc = doc if isinstance(doc, dict) else {}
    return KillState(True, doc.get("reason") or "kill switch engaged", doc.get("by"), doc.get("at"))
