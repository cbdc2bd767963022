"""The reader interface: sniff a first line, then turn each line into a `Flow`."""

from __future__ import annotations

import ipaddress
import json
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any, ClassVar

from intelsec.egress.models import Flow


class BadLine(Exception):
    """The line is not a valid record of this format; the message is the quarantine reason."""


class SkipLine(Exception):
    """The line is valid but carries no flow (a header, a NODATA record, a node status)."""


class FlowReader(ABC):
    """One log format. Instances are per file, so readers may keep state such as a header."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def sniff(cls, line: str) -> bool:
        """Does this first non-empty line look like this format?"""

    @abstractmethod
    def parse(self, line: str) -> Flow:
        """Return a flow, or raise BadLine / SkipLine."""


def json_object(line: str) -> dict[str, Any]:
    """The line as a JSON object, else BadLine saying why (nesting too deep included)."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise BadLine(f"invalid JSON: {str(exc)[:200]}") from None
    if not isinstance(obj, dict):
        raise BadLine("not a JSON object")
    return obj


def sniff_object(line: str) -> dict[str, Any] | None:
    """The line as a JSON object, or None (for `sniff`)."""
    try:
        return json_object(line)
    except BadLine:
        return None


def epoch_iso(value: str | float) -> str:
    try:
        return datetime.fromtimestamp(float(value), UTC).isoformat().replace("+00:00", "Z")
    except (ValueError, OverflowError, OSError):
        raise BadLine(f"invalid timestamp {str(value)[:40]!r}") from None


def to_port(value: object) -> int | None:
    if value in (None, "", "-"):
        return None
    try:
        port = int(str(value))
    except ValueError:
        raise BadLine(f"invalid port {str(value)[:20]!r}") from None
    if not 0 <= port <= 65535:
        raise BadLine(f"port out of range: {port}")
    return port


def to_int(value: object, what: str) -> int | None:
    if value in (None, "", "-"):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise BadLine(f"invalid {what} {str(value)[:20]!r}") from None


def to_ip(value: object) -> str | None:
    if value in (None, "", "-"):
        return None
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise BadLine(f"invalid IP address {str(value)[:60]!r}") from None


def split_host_port(value: str, default_port: int | None = None) -> tuple[str, int | None]:
    """`host:port`, `[v6]:port`, or a bare host."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, to_port(rest[1:]) if rest.startswith(":") else default_port
    if value.count(":") == 1:
        host, _, port = value.partition(":")
        return host, to_port(port)
    return value, default_port


def looks_like_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
