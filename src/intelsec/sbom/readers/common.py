"""Helpers shared by readers: package construction from purls and fixed-version lists."""

from __future__ import annotations

import re
from typing import Any

from intelsec.sbom.ecosystems import ecosystem_of, purl_name, purl_type
from intelsec.sbom.models import Cvss, Package
from intelsec.sbom.scoring import score_vector

_VERSION = re.compile(r"([<>=!~^]*)\s*([^\s,|<>=!]+)")


def make_package(name: str, version: str, purl: str | None, kind: str | None, ref: str | None = None,
                 locations: list[str] | None = None) -> Package:
    """Ecosystem from the purl type when there is one (most reliable), else the scanner's type."""
    ptype = purl_type(purl)
    eco = ecosystem_of(ptype or kind)
    if purl and eco in ("maven", "golang", "npm"):
        # purls carry the canonical coordinates (group:artifact, module path, @scope/name)
        name = purl_name(purl) or name
    return Package(name=name, version=version or "", ecosystem=eco, purl=purl, ref=ref, locations=locations or [])


def split_versions(text: str | None) -> list[str]:
    """`"1.2.3, 2.0.1"` or `"1.2.3 || 2.0.1"` -> ["1.2.3", "2.0.1"]. Trivy writes RustSec patched
    ranges as `">= 3.1.0, >= 2.1.3, < 3.0.0"`: only the lower bounds are fixed versions (an upper
    bound such as `< 3.0.0` is where a patched range ends, not a fix); Ruby's `~> 5.2.4.3` is a fix
    on its line."""
    if not text:
        return []
    return [v for op, v in _VERSION.findall(text) if op in ("", ">=", "=", "==", "~>")]


def scored(vectors: list[Any]) -> list[Cvss]:
    out: list[Cvss] = []
    seen: set[str] = set()
    for vec in vectors:
        if isinstance(vec, str) and vec and vec not in seen:
            seen.add(vec)
            c = score_vector(vec)
            if c is not None:
                out.append(c)
    return out


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def strs(items: Any) -> list[str]:
    """The non-empty strings of a JSON list (anything else is dropped)."""
    return [x for x in as_list(items) if isinstance(x, str) and x]
