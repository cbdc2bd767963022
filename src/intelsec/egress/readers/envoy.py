"""Envoy access logs: JSON format, the default text format, and text lines wrapped by a log shipper."""

from __future__ import annotations

import re
from typing import Any

from intelsec.egress.models import Flow
from intelsec.egress.readers.base import (
    BadLine,
    FlowReader,
    json_object,
    looks_like_ip,
    sniff_object,
    split_host_port,
    to_int,
)

_TEXT = re.compile(
    r'^(?:ACCESS\s+)?\[(?P<time>[^\]]+)\]\s+"(?P<method>\S+) (?P<path>\S+) (?P<proto>\S+)"\s+(?P<code>\d+)\s+'
    r'(?P<flags>\S+)\s+(?P<rx>\d+)\s+(?P<tx>\d+)\s+(?P<dur>\S+)\s+(?P<ust>\S+)\s+"(?P<xff>[^"]*)"\s+'
    r'"(?P<ua>[^"]*)"\s+"(?P<rid>[^"]*)"\s+"(?P<authority>[^"]*)"\s+"(?P<upstream>[^"]*)"'
)
_JSON_KEYS = ("upstream_host", "authority", "upstream_cluster", "downstream_remote_address")


def _none(value: Any) -> Any:
    return None if value in (None, "", "-") else value


def _flow(
    time: Any,
    authority: Any,
    upstream: Any,
    client: Any,
    code: Any,
    bytes_sent: Any,
    namespace: str | None = None,
    workload: str | None = None,
) -> Flow:
    host = port = None
    if _none(authority):
        h, port = split_host_port(str(authority))
        host = None if looks_like_ip(h) else h.lower()
    dst_ip = None
    if _none(upstream):
        ip, up_port = split_host_port(str(upstream))
        if looks_like_ip(ip):
            dst_ip, port = ip, up_port
        elif host is None:
            host = ip.lower()
            port = up_port
    if host is None and dst_ip is None:
        raise BadLine("no authority or upstream host")
    src = _none(client)
    if src:
        src = str(src).split(",")[0].strip()
        src = split_host_port(src)[0] if src.count(":") == 1 else src
    return Flow(
        time=_none(time),
        src_ns=namespace,
        src_workload=workload,
        src_ip=src if src and looks_like_ip(src) else None,
        dst_host=host,
        dst_ip=dst_ip,
        dst_port=port,
        protocol="tcp",
        bytes=to_int(_none(bytes_sent), "bytes"),
        verdict_seen=str(code) if _none(code) is not None else None,
        direction="egress",
    )


def _from_text(m: re.Match[str], namespace: str | None = None, workload: str | None = None) -> Flow:
    return _flow(m["time"], m["authority"], m["upstream"], m["xff"], m["code"], m["tx"], namespace, workload)


class EnvoyReader(FlowReader):
    name = "envoy"

    @classmethod
    def sniff(cls, line: str) -> bool:
        if _TEXT.match(line):
            return True
        if not line.startswith("{"):
            return False
        obj = sniff_object(line)
        if obj is None:
            return False
        msg = obj.get("message") or obj.get("log")
        return (isinstance(msg, str) and _TEXT.match(msg) is not None) or sum(k in obj for k in _JSON_KEYS) >= 2

    def parse(self, line: str) -> Flow:
        if not line.startswith("{"):
            m = _TEXT.match(line)
            if m is None:
                raise BadLine("not an Envoy access log line")
            return _from_text(m)
        obj = json_object(line)
        msg = obj.get("message") or obj.get("log")
        if isinstance(msg, str):
            m = _TEXT.match(msg.strip())
            if m is None:
                raise BadLine("wrapped message is not an Envoy access log line")
            k8s = obj.get("kubernetes") or {}
            pod = (k8s.get("pod") or {}).get("name") if isinstance(k8s, dict) else None
            return _from_text(m, k8s.get("namespace") if isinstance(k8s, dict) else None, pod)
        return _flow(
            obj.get("start_time"),
            obj.get("authority"),
            obj.get("upstream_host"),
            obj.get("x_forwarded_for") or obj.get("downstream_remote_address"),
            obj.get("response_code"),
            obj.get("bytes_sent"),
        )
