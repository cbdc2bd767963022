"""Append alerts to a JSON Lines file (fsynced), one object per delivery."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from intelsec.alerts.sinks.interface import DeliveryError, Sink


class JsonlSink(Sink):
    def __init__(self, path: Path, name: str = "jsonl") -> None:
        self.path = path
        self.name = name

    def deliver(self, payload: dict[str, Any], idempotency_key: str) -> None:
        line = json.dumps({"idempotency_key": idempotency_key, "alert": payload}, sort_keys=True) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise DeliveryError(f"cannot write {self.path}: {exc.strerror}") from None
