"""Generic JSONL and CSV flows: canonical field names, or a field mapping from the user.

A mapping is `{canonical field: source field}`; JSON source fields may be dotted paths
(`destination.fqdn`). The proxy's own flow log is canonical JSONL, so it reads back here.
"""

from __future__ import annotations

import csv
from typing import Any

from intelsec.egress.models import Flow
from intelsec.egress.readers.base import (
    BadLine,
    FlowReader,
    SkipLine,
    json_object,
    looks_like_ip,
    sniff_object,
    to_int,
    to_port,
)

FIELDS = (
    "time",
    "src_ns",
    "src_workload",
    "src_ip",
    "dst_host",
    "dst_ip",
    "dst_port",
    "protocol",
    "bytes",
    "verdict_seen",
    "direction",
)
DEST = ("dst_host", "dst_ip")


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _build(get: Any, mapping: dict[str, str]) -> Flow:
    values = {f: get(mapping.get(f, f)) for f in FIELDS}
    host = values["dst_host"]
    ip = values["dst_ip"]
    if host in ("", "-"):
        host = None
    if host and looks_like_ip(str(host)) and not ip:
        host, ip = None, host
    if not host and not ip:
        raise BadLine("no destination (dst_host or dst_ip)")
    direction = values["direction"]
    return Flow(
        time=str(values["time"]) if values["time"] not in (None, "") else None,
        src_ns=values["src_ns"] or None,
        src_workload=values["src_workload"] or None,
        src_ip=values["src_ip"] or None,
        dst_host=str(host).lower().rstrip(".") if host else None,
        dst_ip=str(ip) if ip else None,
        dst_port=to_port(values["dst_port"]),
        protocol=str(values["protocol"]).lower() if values["protocol"] else None,
        bytes=to_int(values["bytes"], "bytes"),
        verdict_seen=values["verdict_seen"] or None,
        direction=direction if direction in ("egress", "ingress") else None,
    )


class JsonlReader(FlowReader):
    name = "jsonl"

    def __init__(self, mapping: dict[str, str] | None = None) -> None:
        self.mapping = mapping or {}

    @classmethod
    def sniff(cls, line: str) -> bool:
        obj = sniff_object(line)
        return obj is not None and any(k in obj for k in DEST)

    def parse(self, line: str) -> Flow:
        obj = json_object(line)
        return _build(lambda path: _get(obj, path), self.mapping)


class CsvReader(FlowReader):
    name = "csv"

    def __init__(self, mapping: dict[str, str] | None = None, delimiter: str = ",") -> None:
        self.mapping = mapping or {}
        self.delimiter = delimiter
        self.header: list[str] | None = None

    @classmethod
    def sniff(cls, line: str) -> bool:
        try:
            cols = [c.strip() for c in next(csv.reader([line]))]
        except (csv.Error, StopIteration):  # e.g. a field over the csv module's size limit
            return False
        return any(k in cols for k in DEST)

    def parse(self, line: str) -> Flow:
        try:
            cols = next(csv.reader([line], delimiter=self.delimiter))
        except (csv.Error, StopIteration) as exc:
            raise BadLine(f"invalid CSV: {exc}") from None
        if self.header is None:
            self.header = [c.strip() for c in cols]
            wanted = [self.mapping.get(f, f) for f in DEST]
            if not any(w in self.header for w in wanted):
                raise BadLine(f"CSV header lacks a destination column ({' or '.join(wanted)})")
            raise SkipLine
        if len(cols) != len(self.header):
            raise BadLine(f"{len(cols)} columns, header has {len(self.header)}")
        row = dict(zip(self.header, cols, strict=True))
        return _build(lambda name: row.get(name), self.mapping)
