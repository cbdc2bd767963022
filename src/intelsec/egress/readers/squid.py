"""Squid native access.log: `time elapsed client code/status bytes method URL user hierarchy/peer type`."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from intelsec.egress.models import Flow
from intelsec.egress.readers.base import BadLine, FlowReader, epoch_iso, split_host_port, to_ip, to_port

_LINE = re.compile(
    r"^(?P<time>\d+(?:\.\d+)?)\s+(?P<elapsed>-?\d+)\s+(?P<client>\S+)\s+(?P<code>[A-Z_]+/\d{3})\s+"
    r"(?P<bytes>\d+)\s+(?P<method>\S+)\s+(?P<url>\S+)\s+(?P<user>\S+)\s+(?P<hier>[A-Z_]+)/(?P<peer>\S+)"
    r"(?:\s+(?P<type>\S+))?"
)


class SquidReader(FlowReader):
    name = "squid"

    @classmethod
    def sniff(cls, line: str) -> bool:
        return _LINE.match(line) is not None

    def parse(self, line: str) -> Flow:
        m = _LINE.match(line)
        if m is None:
            raise BadLine("not a Squid native access.log line")
        url = m["url"]
        if m["method"] == "CONNECT" or "://" not in url:
            host, port = split_host_port(url, 443)
        else:
            parts = urlsplit(url)
            if not parts.hostname:
                raise BadLine(f"URL without host: {url[:80]!r}")
            host = parts.hostname
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                raise BadLine(f"invalid port in URL {url[:80]!r}") from None
        peer = m["peer"]
        try:
            dst_ip = to_ip(peer)
        except BadLine:
            dst_ip = None
        return Flow(
            time=epoch_iso(m["time"]),
            src_ip=m["client"],
            dst_host=host.lower(),
            dst_ip=dst_ip,
            dst_port=to_port(port),
            protocol="tcp",
            bytes=int(m["bytes"]),
            verdict_seen=m["code"],
            direction="egress",
        )
