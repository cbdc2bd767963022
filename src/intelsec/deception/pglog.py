"""Tail a PostgreSQL jsonlog or csvlog and report every attempt by a honey role.

Needs `log_connections = on`. Records are grouped per session, so one login attempt is one hit
whether it failed at the password or was refused afterwards. Unreadable lines are skipped and
counted, never fatal. The read offset is kept in a small state file, so a restarted watcher
continues where it stopped (and starts over when the log was rotated or truncated).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

APP_NAME = re.compile(r"application_name=(\S+)")


@dataclass
class PgRecord:
    time: str
    user: str | None
    database: str | None
    remote_host: str | None
    session: str
    severity: str
    message: str


@dataclass
class Attempt:
    role: str
    database: str | None
    remote_host: str | None
    session: str
    time: str
    outcome: str  # "refused" or "authorized"
    message: str
    application_name: str | None


@dataclass
class PollStats:
    records: int = 0
    bad_lines: int = 0
    attempts: list[Attempt] = field(default_factory=list)


def state_file_for(state_dir: Path, log: Path) -> Path:
    """Where the read offset of `log` is kept (shared by the CLI watcher and the service)."""
    import hashlib

    digest = hashlib.sha256(str(log.resolve()).encode()).hexdigest()[:12]
    return state_dir / "deception" / f"pglog-{digest}.json"


def detect_format(path: Path) -> str:
    return "csv" if path.suffix == ".csv" else "json"


def parse_json(text: str, stats: PollStats) -> Iterator[PgRecord]:
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            yield PgRecord(str(d["timestamp"]), d.get("user"), d.get("dbname"), d.get("remote_host"),
                           str(d.get("session_id", "")), str(d.get("error_severity", "")), str(d.get("message", "")))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            stats.bad_lines += 1


def parse_csv(text: str, stats: PollStats) -> Iterator[PgRecord]:
    try:
        for row in csv.reader(io.StringIO(text)):
            if len(row) < 14:
                stats.bad_lines += 1
                continue
            host = row[4].rsplit(":", 1)[0] if row[4] else None
            yield PgRecord(row[0], row[1] or None, row[2] or None, host, row[5], row[11], row[13])
    except csv.Error:
        stats.bad_lines += 1


class PgLogWatcher:
    chunk_bytes = 8 << 20  # read at most this much at once, so a large existing log never fills memory

    def __init__(self, path: Path, roles: set[str], fmt: str | None = None, state_file: Path | None = None) -> None:
        self.path = path
        self.roles = roles
        self.fmt = fmt or detect_format(path)
        self.state_file = state_file
        self.offset, self.inode = 0, 0
        if state_file is not None and state_file.exists():
            try:
                st = json.loads(state_file.read_text())
                self.offset, self.inode = int(st["offset"]), int(st["inode"])
            except (ValueError, KeyError, TypeError):
                pass

    def skip_to_end(self) -> None:
        st = os.stat(self.path)
        self.offset, self.inode = st.st_size, st.st_ino
        self._save()

    def _save(self) -> None:
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.state_file.write_text(json.dumps({"path": str(self.path), "offset": self.offset, "inode": self.inode}))

    def poll(self) -> PollStats:
        """Read complete new records and return the honey-role attempts among them."""
        stats = PollStats()
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return stats
        if st.st_ino != self.inode or st.st_size < self.offset:  # rotated or truncated
            self.offset, self.inode = 0, st.st_ino
        start = self.offset
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            while chunk := fh.read(self.chunk_bytes):
                end = chunk.rfind(b"\n") + 1
                if self.fmt == "csv":
                    end = _csv_complete(chunk[:end])
                if end == 0:
                    if len(chunk) < self.chunk_bytes:
                        break  # the last record is still being written
                    end = len(chunk)  # one record longer than a chunk: skip it, count it
                    stats.bad_lines += 1
                else:
                    self._read(chunk[:end].decode("utf-8", errors="replace"), stats)
                self.offset += end
                fh.seek(self.offset)
        if self.offset != start:
            self._save()
        return stats

    def _read(self, text: str, stats: PollStats) -> None:
        """Group complete records per session and record one attempt per honey-role session."""
        parse: Callable[[str, PollStats], Iterator[PgRecord]] = parse_csv if self.fmt == "csv" else parse_json
        sessions: dict[str, list[PgRecord]] = {}
        for rec in parse(text, stats):
            stats.records += 1
            if rec.user in self.roles:
                sessions.setdefault(rec.session or f"{rec.time}:{rec.remote_host}", []).append(rec)
        for session, recs in sessions.items():
            authorized = next((r for r in recs if r.message.startswith("connection authorized")), None)
            app = APP_NAME.search(authorized.message) if authorized else None
            fatal = next((r for r in recs if r.severity in ("FATAL", "ERROR", "PANIC")), None)
            first = recs[0]
            stats.attempts.append(Attempt(
                role=str(first.user), database=first.database, remote_host=first.remote_host, session=session,
                time=first.time, outcome="refused" if fatal else "authorized" if authorized else "attempted",
                message=(fatal or recs[-1]).message[:300], application_name=app.group(1) if app else None))


def _csv_complete(data: bytes) -> int:
    """Length of the prefix that ends on a record boundary (quotes balanced at a newline)."""
    inside, pos, last = False, 0, 0
    for line in data.split(b"\n")[:-1]:
        pos += len(line) + 1
        if line.count(b'"') % 2:
            inside = not inside
        if not inside:
            last = pos
    return last
