"""Find honeytokens in logs: decoy access key ids in CloudTrail, any planted value in other logs.

CloudTrail files may be `{"Records": [...]}` (as delivered to S3, optionally .gz), a JSON array,
or JSON lines. Anything else is scanned line by line for planted values. A record or file that
cannot be read is counted and skipped.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEST_UA = re.compile(r"intelsec-test:(\d+\.[0-9a-f]{32,64})")


@dataclass
class Hit:
    asset_id: str
    file: str
    line: int
    source_ip: str | None = None
    user_agent: str | None = None
    identity: str | None = None
    action: str | None = None
    region: str | None = None
    test_token: str | None = None
    channel: str = "cloudtrail"


@dataclass
class ScanStats:
    files: int = 0
    records: int = 0
    bad: list[str] = field(default_factory=list)
    unreadable_files: int = 0
    hits: list[Hit] = field(default_factory=list)


def _open_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", errors="replace")


def _records(text: str, stats: ScanStats, name: str) -> Iterator[tuple[int, Any]] | None:
    """(line, record) pairs if the text is CloudTrail JSON, else None."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
            return ((1, r) for r in doc["Records"])
        if isinstance(doc, list):
            return ((1, r) for r in doc)
        if isinstance(doc, dict) and "eventName" in doc:
            return iter([(1, doc)])
        if doc is None and stripped.startswith("{"):
            return _json_lines(text, stats, name)
    return None


def _json_lines(text: str, stats: ScanStats, name: str) -> Iterator[tuple[int, Any]]:
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield no, json.loads(line)
        except (ValueError, RecursionError):
            stats.bad.append(f"{name}:{no}: not JSON")


def scan(paths: list[Path], aws_keys: dict[str, str], values: dict[str, str]) -> ScanStats:
    """`aws_keys`: access key id -> asset; `values`: any planted value -> asset (for plain logs)."""
    stats = ScanStats()
    pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))) if values else None
    for path in paths:
        try:
            text = _open_text(path)
        except (OSError, gzip.BadGzipFile, EOFError) as exc:
            stats.bad.append(f"{path}: cannot read: {type(exc).__name__}")
            stats.unreadable_files += 1
            continue
        stats.files += 1
        records = _records(text, stats, str(path))
        if records is None:
            _scan_text(path, text, pattern, values, stats)
            continue
        for line, rec in records:
            stats.records += 1
            if not isinstance(rec, dict):
                stats.bad.append(f"{path}:{line}: record is not an object")
                continue
            ident_raw = rec.get("userIdentity")
            ident: dict[str, Any] = ident_raw if isinstance(ident_raw, dict) else {}
            key_id = ident.get("accessKeyId")
            if isinstance(key_id, str) and key_id in aws_keys:
                ua = str(rec.get("userAgent") or "")
                m = TEST_UA.search(ua)
                stats.hits.append(Hit(
                    asset_id=aws_keys[key_id], file=str(path), line=line, source_ip=rec.get("sourceIPAddress"),
                    user_agent=ua or None, identity=ident.get("arn"), region=rec.get("awsRegion"),
                    action=f"{rec.get('eventSource', '?')} {rec.get('eventName', '?')}",
                    test_token=m.group(1) if m else None))
    return stats


def _scan_text(path: Path, text: str, pattern: re.Pattern[str] | None, values: dict[str, str],
               stats: ScanStats) -> None:
    if pattern is None:
        return
    for no, line in enumerate(text.splitlines(), 1):
        stats.records += 1
        for m in pattern.finditer(line):
            t = TEST_UA.search(line)
            stats.hits.append(Hit(asset_id=values[m.group(0)], file=str(path), line=no, channel="log",
                                  test_token=t.group(1) if t else None))
