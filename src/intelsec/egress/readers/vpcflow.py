"""AWS VPC Flow Logs: the default v2 format, any version's default field order, or a header line."""

from __future__ import annotations

import re

from intelsec.egress.models import Flow
from intelsec.egress.readers.base import BadLine, FlowReader, SkipLine, epoch_iso, to_int, to_ip, to_port

V2 = [
    *[
        "version",
        "account-id",
        "interface-id",
        "srcaddr",
        "dstaddr",
        "srcport",
        "dstport",
        "protocol",
        "packets",
        "bytes",
    ],
    *["start", "end", "action", "log-status"],
]
ALL = [
    *V2,
    *["vpc-id", "subnet-id", "instance-id", "tcp-flags", "type", "pkt-srcaddr", "pkt-dstaddr", "region", "az-id"],
    *[
        "sublocation-type",
        "sublocation-id",
        "pkt-src-aws-service",
        "pkt-dst-aws-service",
        "flow-direction",
        "traffic-path",
    ],
]
DEFAULT_LENGTHS = (14, 21, 25, 29)  # v2, v3, v4, v5 default field lists
PROTOCOLS = {"1": "icmp", "6": "tcp", "17": "udp", "58": "icmpv6", "132": "sctp"}
_FIELD = re.compile(r"^[a-z][a-z0-9-]*$")


def _is_header(tokens: list[str]) -> bool:
    return all(_FIELD.match(t) for t in tokens) and ("dstaddr" in tokens or "pkt-dstaddr" in tokens)


class VpcFlowReader(FlowReader):
    name = "aws-vpcflow"

    def __init__(self) -> None:
        self.fields: list[str] | None = None

    @classmethod
    def sniff(cls, line: str) -> bool:
        tokens = line.split()
        if _is_header(tokens):
            return True
        return (
            len(tokens) in DEFAULT_LENGTHS
            and tokens[0] in ("2", "3", "4", "5")
            and (tokens[2].startswith("eni-") or tokens[2] == "-")
        )

    def parse(self, line: str) -> Flow:
        tokens = line.split()
        if self.fields is None:
            if _is_header(tokens):
                self.fields = tokens
                raise SkipLine
            if len(tokens) not in DEFAULT_LENGTHS:
                raise BadLine(
                    f"{len(tokens)} fields; expected a header line or a default format "
                    f"({', '.join(map(str, DEFAULT_LENGTHS))} fields)"
                )
            fields: list[str] = ALL[: len(tokens)]
        else:
            fields = self.fields
        if len(tokens) != len(fields):
            raise BadLine(f"{len(tokens)} fields, header has {len(fields)}")
        rec = dict(zip(fields, tokens, strict=True))
        if rec.get("log-status") in ("NODATA", "SKIPDATA"):
            raise SkipLine
        src = to_ip(rec.get("srcaddr"))
        dst = to_ip(rec.get("dstaddr"))
        # Behind a NAT gateway the packet-level address is the real peer.
        pkt_dst = to_ip(rec.get("pkt-dstaddr"))
        pkt_src = to_ip(rec.get("pkt-srcaddr"))
        dst = pkt_dst or dst
        src = pkt_src or src
        if dst is None:
            raise BadLine("no destination address")
        start = rec.get("start")
        direction = rec.get("flow-direction")
        proto = rec.get("protocol")
        return Flow(
            time=epoch_iso(start) if start not in (None, "-") else None,
            src_ip=src,
            src_workload=rec.get("instance-id") if rec.get("instance-id") not in (None, "-") else None,
            dst_ip=dst,
            dst_port=to_port(rec.get("dstport")),
            protocol=PROTOCOLS.get(proto, proto) if proto not in (None, "-") else None,
            bytes=to_int(rec.get("bytes"), "bytes"),
            verdict_seen=rec.get("action") if rec.get("action") not in (None, "-") else None,
            direction=direction if direction in ("egress", "ingress") else None,
        )
