"""Stream files of any size through a scanner in constant memory, recording every problem.

Plain text, JSONL, CSV and logs are scanned line by line; gzip is detected by its magic bytes.
Binary files (a NUL byte near the start) are skipped and said so. An unreadable file, a broken
gzip stream, an over-long line or invalid UTF-8 become a `Problem` naming the file (and line);
the run goes on with the rest.
"""

from __future__ import annotations

import gzip
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from intelsec.privacy.dlp.engine import line_bounds
from intelsec.privacy.dlp.scanner import Finding, Scanner

BLOCK_SIZE = 1 << 20
MAX_LINE = 16 << 20  # minified JSON (SBOMs, exports) often has multi-megabyte lines
SKIP_DIRS = frozenset({".git", ".intelsec", "__pycache__"})


@dataclass
class Problem:
    path: str
    line: int | None
    kind: str  # unreadable | broken_gzip | line_too_long | invalid_utf8 | invalid_pattern | binary
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


@dataclass
class ScanStats:
    files_scanned: int = 0
    binary_skipped: int = 0
    unreadable: int = 0
    broken_gzip: int = 0
    bytes_scanned: int = 0
    lines_scanned: int = 0
    lines_skipped: int = 0
    invalid_utf8_lines: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def incomplete(self) -> bool:
        """True when some input could not be scanned as given (skipped binaries do not count)."""
        return any(p.kind != "binary" for p in self.problems)


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files under each path (directories walked in sorted order, `.git`/`.intelsec` skipped)."""
    for raw in paths:
        p = Path(raw)
        if str(raw) != "-" and p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
                for name in sorted(files):
                    yield Path(root) / name
        else:
            yield p


def _open(path: Path) -> BinaryIO:
    if str(path) == "-":
        stdin = sys.stdin.buffer
        if hasattr(stdin, "peek") and stdin.peek(2)[:2] == b"\x1f\x8b":  # a piped .gz: closing it leaves stdin open
            return gzip.GzipFile(fileobj=stdin, mode="rb")  # type: ignore[return-value]
        return stdin
    fh: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by the caller
    if fh.read(2) == b"\x1f\x8b":
        fh.seek(0)
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    fh.seek(0)
    return fh


class FileScanner:
    """Runs a `Scanner` over files, keeping `stats` for the summary."""

    def __init__(self, scanner: Scanner, block_size: int = BLOCK_SIZE, max_line: int = MAX_LINE) -> None:
        self.scanner = scanner
        self.block_size = block_size
        self.max_line = max_line
        self.stats = ScanStats()

    def _problem(self, path: str, line: int | None, kind: str, message: str) -> None:
        self.stats.problems.append(Problem(path, line, kind, message))

    def scan_paths(self, paths: Iterable[str | Path]) -> Iterator[Finding]:
        for path in iter_files(paths):
            for batch in self._file_batches(path):
                yield from batch

    def _file_batches(self, path: Path) -> Iterator[list[Finding]]:
        name = "<stdin>" if str(path) == "-" else path.as_posix()
        try:
            fh = _open(path)
        except OSError as exc:
            self.stats.unreadable += 1
            self._problem(name, None, "unreadable", f"cannot read: {exc.strerror or exc}")
            return
        try:
            yield from self._scan_stream(fh, name)
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()

    def _scan_stream(self, fh: BinaryIO, name: str) -> Iterator[list[Finding]]:
        st = self.stats
        line_no, carry, skipping, first = 1, b"", False, True
        bad = [0, 0]  # invalid UTF-8 lines: count, first line number (constant memory)
        # gzip raises only when it reaches a damaged spot: small reads keep what came before it
        size = min(self.block_size, 1 << 16) if isinstance(fh, gzip.GzipFile) else self.block_size
        try:
            while True:
                data = fh.read(size)
                if first:
                    first = False
                    if b"\x00" in data[:8192]:
                        st.binary_skipped += 1
                        self._problem(name, None, "binary", "binary file skipped")
                        return
                    st.files_scanned += 1
                if not data:
                    break
                st.bytes_scanned += len(data)
                if skipping:  # still inside an over-long line: drop bytes up to its end
                    k = data.find(b"\n")
                    if k < 0:
                        continue
                    data, skipping, line_no = data[k + 1:], False, line_no + 1
                buf = carry + data
                k = buf.rfind(b"\n")
                block, carry = (buf[: k + 1], buf[k + 1:]) if k >= 0 else (b"", buf)
                if block:
                    n = block.count(b"\n")
                    self.stats.lines_scanned += n
                    yield self._block(block, line_no, name, bad)
                    line_no += n
                if len(carry) > self.max_line:
                    self._skip_long(name, line_no)
                    carry, skipping = b"", True
            if carry and not skipping:
                self.stats.lines_scanned += 1
                yield self._block(carry, line_no, name, bad)
        except (OSError, EOFError, zlib.error) as exc:
            if isinstance(fh, gzip.GzipFile):
                st.broken_gzip += 1
                self._problem(name, line_no, "broken_gzip",
                              f"broken gzip stream ({exc}); scanned up to here, rest skipped")
            else:
                st.unreadable += 1
                self._problem(name, line_no, "unreadable", f"read failed ({exc}); rest of file skipped")
        finally:
            if bad[0]:
                st.invalid_utf8_lines += bad[0]
                self._problem(name, bad[1], "invalid_utf8",
                              f"{bad[0]} line(s) not valid UTF-8 (first here); scanned with invalid bytes escaped")

    def _skip_long(self, name: str, line: int) -> None:
        self.stats.lines_skipped += 1
        self._problem(name, line, "line_too_long", f"line longer than {self.max_line} bytes skipped")

    def _drop_long_lines(self, block: bytes, line_no: int, name: str) -> bytes:
        """Empty the over-long lines that arrived whole in one read (line numbers stay put)."""
        starts, ends = line_bounds(block)
        parts, prev = [], 0
        for i in (ends - starts > self.max_line).nonzero()[0].tolist():
            self._skip_long(name, line_no + i)
            parts.append(block[prev:starts[i]])
            prev = int(ends[i])
        return block[prev:] if not parts else b"".join(parts) + block[prev:]

    def _block(self, block: bytes, line_no: int, name: str, bad: list[int]) -> list[Finding]:
        if len(block) > self.max_line:
            block = self._drop_long_lines(block, line_no, name)
        found: list[int] = []
        out = self.scanner.scan_block(block, line_no, found, name)
        if found:
            bad[1] = bad[1] or found[0]
            bad[0] += len(found)
        return out
