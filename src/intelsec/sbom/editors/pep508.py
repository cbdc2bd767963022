"""PEP 508 requirement strings: bump the version in the clauses that pin a lower bound."""

from __future__ import annotations

import re

from intelsec.sbom.ecosystems import VersionError, parse_version
from intelsec.sbom.editors.interface import below
from intelsec.sbom.models import normalise_name

_REQ = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?P<extras>\s*\[[^\]]*\])?(?P<spec>[^;#@]*)(?P<rest>.*)$",
                  re.S)
_CLAUSE = re.compile(r"(?P<op>===|==|~=|>=|<=|!=|<|>)\s*(?P<ver>[A-Za-z0-9.*+!_-]+)")
RAISE_OPS = {"==", "===", "~=", ">="}


def bump_requirement(req: str, name: str, target: str) -> str | None:
    """`Werkzeug[watchdog]==0.11 ; python_version>'3'` -> same text with 0.15.3; None if not ours.

    Raises ValueError when an upper bound (`<`, `<=`, `!=`) would exclude the target."""
    m = _REQ.match(req.strip()) if req.strip() else None
    if not m or normalise_name("pypi", m["name"]) != normalise_name("pypi", name):
        return None
    spec = m["spec"]
    tv = parse_version("pypi", target)
    changed = False

    def repl(c: re.Match[str]) -> str:
        nonlocal changed
        op, ver = c["op"], c["ver"]
        if op in RAISE_OPS:
            if not below("pypi", ver, target):
                return c.group(0)
            changed = True
            return c.group(0).replace(ver, target)
        try:
            bound = parse_version("pypi", ver.rstrip(".*"))
        except VersionError:
            return c.group(0)
        if (op == "<" and not tv < bound) or (op == "<=" and not tv <= bound) or (op == "!=" and tv == bound):
            raise ValueError(f"{req.strip()!r}: the bound {op}{ver} excludes {target}")
        return c.group(0)

    new_spec = _CLAUSE.sub(repl, spec)
    if not changed:
        if spec.strip():
            return None  # only upper bounds: the target may already be allowed; leave the constraint alone
        new_spec = f">={target}" + spec  # a bare name: add a floor
        changed = True
    lead, trail = req[: len(req) - len(req.lstrip())], req[len(req.rstrip()):]
    return lead + m["name"] + (m["extras"] or "") + new_spec + m["rest"] + trail
