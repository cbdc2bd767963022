"""Flow readers, one module per log format, auto-detected from the first non-empty line.

`read_flows` streams flows from many files, quarantines bad lines with file:line and reason, and
fills in hostnames for IP-only flows from DNS answers seen earlier in the stream.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from intelsec.egress.models import Flow, Quarantined, ReadStats
from intelsec.egress.readers.base import BadLine, FlowReader, SkipLine
from intelsec.egress.readers.envoy import EnvoyReader
from intelsec.egress.readers.generic import CsvReader, JsonlReader
from intelsec.egress.readers.hubble import HubbleReader
from intelsec.egress.readers.squid import SquidReader
from intelsec.egress.readers.vpcflow import VpcFlowReader
from intelsec.errors import InputError

# Order matters: specific formats before the generic ones.
READERS: dict[str, type[FlowReader]] = {
    r.name: r for r in (HubbleReader, EnvoyReader, VpcFlowReader, SquidReader, JsonlReader, CsvReader)
}
MAX_QUARANTINE_TEXT = 300

__all__ = ["READERS", "BadLine", "FlowReader", "SkipLine", "detect", "read_flows"]


STDIN = Path("-")


@contextlib.contextmanager
def _open(path: Path) -> Iterator[IO[str]]:
    if path == STDIN:
        wrapper = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        try:
            yield wrapper
        finally:
            wrapper.detach()  # leave the process's stdin open
        return
    try:
        fh: IO[str] = (
            io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")  # noqa: SIM115
            if path.suffix == ".gz"
            else path.open("r", encoding="utf-8", errors="replace")
        )
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with fh:
        yield fh


def detect(first_line: str) -> type[FlowReader] | None:
    for reader in READERS.values():
        if reader.sniff(first_line):
            return reader
    return None


def make_reader(path: Path, lineno: int, first: str, fmt: str | None, mapping: dict[str, str] | None) -> FlowReader:
    """The reader for a file, from `--input-format` or by sniffing its first non-empty line."""
    if fmt in (None, "auto"):
        cls = detect(first)
        if cls is None:
            raise InputError(
                f"{path}:{lineno}: cannot detect the flow log format; pass --input-format "
                f"({', '.join(READERS)}) and, for generic logs, --mapping"
            )
    else:
        if fmt not in READERS:
            raise InputError(f"unknown input format {fmt!r}; choose one of: {', '.join(READERS)}")
        cls = READERS[fmt]
    if cls in (JsonlReader, CsvReader):
        return cls(mapping)  # type: ignore[call-arg]
    return cls()


def _lines(fh: IO[str], path: Path, stats: ReadStats) -> Iterator[tuple[int, str]]:
    """Numbered lines; a truncated or corrupt file (.gz) is quarantined where it breaks, not fatal."""
    lineno = 0
    try:
        for lineno, raw in enumerate(fh, 1):
            yield lineno, raw
    except (OSError, EOFError) as exc:
        stats.quarantined.append(Quarantined(str(path), lineno + 1, f"unreadable from here on: {exc}", ""))


def read_flows(
    paths: list[Path], stats: ReadStats, fmt: str | None = None, mapping: dict[str, str] | None = None
) -> Iterator[Flow]:
    """Yield flows from every file (`-` is stdin); bad lines go to `stats.quarantined`, never stop the run."""
    dns: dict[str, str] = {}
    for path in paths:
        with _open(path) as fh:
            reader: FlowReader | None = None
            for lineno, raw in _lines(fh, path, stats):
                line = raw.strip()
                if not line:
                    continue
                if reader is None:
                    reader = make_reader(path, lineno, line, fmt, mapping)
                    stats.formats[str(path)] = reader.name
                    if isinstance(reader, HubbleReader):
                        reader.dns = dns  # answers seen in one file name IPs in the next
                stats.lines += 1
                try:
                    flow = reader.parse(line)
                except SkipLine:
                    stats.skipped += 1
                    continue
                except BadLine as exc:
                    stats.quarantined.append(Quarantined(str(path), lineno, str(exc), line[:MAX_QUARANTINE_TEXT]))
                    continue
                except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                    stats.quarantined.append(
                        Quarantined(str(path), lineno, f"unexpected record shape: {exc}", line[:MAX_QUARANTINE_TEXT])
                    )
                    continue
                if flow.dst_host is None:
                    if flow.dst_ip is None:
                        stats.quarantined.append(
                            Quarantined(str(path), lineno, "no destination address or name", line[:MAX_QUARANTINE_TEXT])
                        )
                        continue
                    flow.dst_host = dns.get(flow.dst_ip)
                flow.origin = f"{path}:{lineno}"
                stats.flows += 1
                yield flow
