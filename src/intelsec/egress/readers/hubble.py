"""Cilium Hubble flows: `hubble observe -o json` (one `{"flow": {...}}` per line, or bare flows)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from intelsec.egress.models import Flow
from intelsec.egress.readers.base import (
    BadLine,
    FlowReader,
    SkipLine,
    json_object,
    looks_like_ip,
    sniff_object,
    to_port,
)

_NON_FLOW = ("node_status", "lost_events", "debug_event", "agent_event")
_IN_CLUSTER = {
    "reserved:host",
    "reserved:remote-node",
    "reserved:health",
    "reserved:kube-apiserver",
    "reserved:init",
    "reserved:ingress",
}
MAX_DNS_ENTRIES = 1_000_000
_L4 = (("TCP", "tcp"), ("UDP", "udp"), ("SCTP", "sctp"), ("ICMPv4", "icmp"), ("ICMPv6", "icmpv6"))


def _dns_answer(flow: dict[str, Any]) -> tuple[str, list[str]] | None:
    l7 = flow.get("l7") or {}
    dns = l7.get("dns") if isinstance(l7, dict) else None
    if not dns or l7.get("type") != "RESPONSE" or dns.get("rcode") or not dns.get("ips"):
        return None
    return str(dns.get("query", "")).rstrip(".").lower(), [str(ip) for ip in dns["ips"]]


class HubbleReader(FlowReader):
    name = "hubble"

    def __init__(self) -> None:
        # Answers seen so far in this stream: IP -> hostname (Hubble L7 DNS visibility).
        self.dns: dict[str, str] = {}

    @classmethod
    def sniff(cls, line: str) -> bool:
        if not line.startswith("{"):
            return False
        obj = sniff_object(line)
        return obj is not None and (
            isinstance(obj.get("flow"), dict)
            or any(k in obj for k in _NON_FLOW)
            or ("verdict" in obj and ("IP" in obj or "l4" in obj or "source" in obj))
        )

    def parse(self, line: str) -> Flow:
        obj = json_object(line)
        if any(k in obj for k in _NON_FLOW):
            raise SkipLine
        f = obj.get("flow", obj)
        if not isinstance(f, dict) or not ("IP" in f or "l4" in f or "l7" in f):
            raise BadLine("no flow (expected a `flow` object with IP/l4/l7)")
        ip = f.get("IP") or {}
        src = f.get("source") or {}
        dst = f.get("destination") or {}
        l4 = f.get("l4") or {}
        protocol = port = None
        for key, proto in _L4:
            if key in l4:
                protocol, port = proto, to_port((l4[key] or {}).get("destination_port"))
                break
        answer = _dns_answer(f)
        if answer:
            if len(self.dns) > MAX_DNS_ENTRIES:  # bounded memory on endless streams
                self.dns.clear()
            for addr in answer[1]:
                self.dns[addr] = answer[0]
        dst_ip = ip.get("destination")
        names = f.get("destination_names") or []
        host = str(names[0]).rstrip(".").lower() if names else None
        l7 = f.get("l7") or {}
        if host is None and isinstance(l7, dict) and isinstance(l7.get("http"), dict):
            url_host = urlsplit(str(l7["http"].get("url", ""))).hostname
            if url_host and not looks_like_ip(url_host):
                host = url_host.lower()
        if host is None and dst_ip:
            host = self.dns.get(dst_ip)
        labels = set(dst.get("labels") or [])
        internal: bool | None = None
        if dst.get("namespace") or labels & _IN_CLUSTER:
            internal = True
        elif "reserved:world" in labels:
            internal = False
        workload = src.get("pod_name") or next((w.get("name") for w in src.get("workloads") or []), None)
        direction = str(f.get("traffic_direction") or "").lower() or None
        return Flow(
            time=f.get("time") or obj.get("time"),
            src_ns=src.get("namespace"),
            src_workload=workload,
            src_ip=ip.get("source"),
            dst_host=host,
            dst_ip=dst_ip,
            dst_port=port,
            protocol=protocol,
            verdict_seen=f.get("verdict"),
            direction=direction if direction in ("egress", "ingress") else None,
            reply=bool(f.get("is_reply") or f.get("reply")),
            internal=internal,
        )
