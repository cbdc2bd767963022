"""Destination categories: domain suffixes through the Public Suffix List, CIDRs by longest prefix.

Lookups stay O(labels) for names (one hash probe per label down to the registrable domain) and
O(distinct prefix lengths) for addresses (one hash probe per length), so 100k+ entries cost memory,
not time. The PSL is tldextract's bundled snapshot; nothing is fetched at run time.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import tldextract

from intelsec.egress.schemas import CategoryFile

UNKNOWN = "unknown"


@lru_cache(maxsize=1)
def _psl() -> tldextract.TLDExtract:
    # suffix_list_urls=() and no cache dir: only the snapshot bundled with the package is used.
    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), include_psl_private_domains=False)


def public_suffix(host: str) -> str:
    """The ICANN public suffix of `host` ('' when the TLD is not in the list)."""
    return str(_psl()(host).suffix)


def registrable_domain(host: str) -> str:
    """eTLD+1 (`a.b.example.co.uk` -> `example.co.uk`); the host itself when there is none."""
    ext = _psl()(host)
    return f"{ext.domain}.{ext.suffix}" if ext.domain and ext.suffix else host


def is_public_suffix(name: str) -> bool:
    ext = _psl()(name)
    return not ext.domain and bool(ext.suffix)


class CidrTable:
    """Longest-prefix match over many CIDRs: a dict per prefix length, probed longest first."""

    def __init__(self) -> None:
        self._v4: dict[int, dict[int, str]] = {}
        self._v6: dict[int, dict[int, str]] = {}
        self._lens4: list[int] = []
        self._lens6: list[int] = []

    def add(self, cidr: str, value: str) -> None:
        net = ipaddress.ip_network(cidr, strict=False)
        table = self._v4 if net.version == 4 else self._v6
        table.setdefault(net.prefixlen, {}).setdefault(int(net.network_address), value)
        self._lens4 = sorted(self._v4, reverse=True)
        self._lens6 = sorted(self._v6, reverse=True)

    def __len__(self) -> int:
        return sum(len(t) for t in self._v4.values()) + sum(len(t) for t in self._v6.values())

    def lookup(self, ip: str) -> str | None:
        try:
            if ":" in ip:
                value = int.from_bytes(socket.inet_pton(socket.AF_INET6, ip.split("%", 1)[0]), "big")
                tables, lens, bits = self._v6, self._lens6, 128
            else:
                value = int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big")
                tables, lens, bits = self._v4, self._lens4, 32
        except (OSError, ValueError):
            return None
        for length in lens:
            hit = tables[length].get(value >> (bits - length) << (bits - length))
            if hit is not None:
                return hit
        return None


@dataclass(frozen=True)
class CategoryInfo:
    name: str
    risk: str
    approved: bool
    description: str = ""


class Categorizer:
    """Maps (host, ip) to a category name; `unknown` when nothing matches."""

    def __init__(self, categories: Iterable[CategoryFile] = ()) -> None:
        self.info: dict[str, CategoryInfo] = {}
        self._domains: dict[str, str] = {}
        self._cidrs = CidrTable()
        self._cache: dict[tuple[str | None, str | None], str] = {}
        for cat in categories:
            self.add(cat)

    def add(self, cat: CategoryFile) -> None:
        self.info[cat.name] = CategoryInfo(cat.name, cat.risk, cat.approved, cat.description)
        for d in cat.domains:
            self._domains.setdefault(d, cat.name)
        for c in cat.cidrs:
            self._cidrs.add(c, cat.name)
        self._cache.clear()

    @property
    def sizes(self) -> tuple[int, int]:
        return len(self._domains), len(self._cidrs)

    def domain_category(self, host: str) -> str | None:
        labels = host.split(".")
        suffix = public_suffix(host)
        # stop at the registrable domain: a public suffix is never a category entry
        stop = len(labels) - (suffix.count(".") + 1 if suffix else 1)
        domains = self._domains
        for i in range(max(stop, 1)):
            hit = domains.get(".".join(labels[i:]))
            if hit is not None:
                return hit
        return None

    def categorize(self, host: str | None, ip: str | None = None) -> str:
        key = (host, ip)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = None
        if host:
            result = self.domain_category(host.lower().rstrip("."))
        if result is None and ip:
            result = self._cidrs.lookup(ip)
        result = result or UNKNOWN
        if len(self._cache) > 500_000:
            self._cache.clear()
        self._cache[key] = result
        return result
