"""Baselines: accepted findings stored as salted fingerprints, never values (like detect-secrets).

A fingerprint is HMAC-SHA256(salt, detector NUL value) with a random salt kept in the file, so
baselines cannot be matched against precomputed tables. Low-entropy values (an SSN) remain
guessable by brute force from the file: keep baselines in the same trust zone as the exports.
Findings match on (path, detector, fingerprint); line numbers are informative only, so edits
that move a line keep it baselined.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from intelsec.errors import InputError
from intelsec.privacy.dlp.scanner import Finding

FORMAT = "intelsec-dlp-baseline"


class Baseline:
    def __init__(self, salt: bytes, entries: Iterable[tuple[str, str, str]] = ()) -> None:
        self.salt = salt
        self.entries = set(entries)

    def __repr__(self) -> str:
        return f"Baseline(entries={len(self.entries)})"

    @classmethod
    def new(cls) -> Baseline:
        return cls(secrets.token_bytes(16))

    def fingerprint(self, detector: str, value: str) -> str:
        msg = detector.encode() + b"\0" + value.encode("utf-8", "surrogateescape")
        return hmac.new(self.salt, msg, hashlib.sha256).hexdigest()

    def key(self, f: Finding) -> tuple[str, str, str]:
        return (f.path, f.detector, self.fingerprint(f.detector, f.value))

    def __contains__(self, f: Finding) -> bool:
        return self.key(f) in self.entries

    def build(self, findings: Iterable[Finding]) -> list[dict[str, Any]]:
        rows: dict[tuple[str, str, str], int] = {}
        for f in findings:
            k = self.key(f)
            rows.setdefault(k, f.line)
            self.entries.add(k)
        return [{"path": p, "detector": d, "fingerprint": fp, "line": line}
                for (p, d, fp), line in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[1], kv[0][1]))]

    def document(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        return {"format": FORMAT, "version": 1, "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "fingerprint": "hmac-sha256", "salt": self.salt.hex(), "results": results}

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"{path}: cannot read baseline: {exc.strerror or exc}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not a JSON baseline: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != 1:
            raise InputError(f"{path}: not an intelsec DLP baseline (write one with `intelsec privacy dlp baseline`)")
        try:
            salt = bytes.fromhex(doc["salt"])
            entries = [(r["path"], r["detector"], r["fingerprint"]) for r in doc.get("results", [])]
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: malformed baseline entry: {exc}") from None
        return cls(salt, entries)
