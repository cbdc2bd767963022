"""Fix plans: per package, the lowest version that fixes all (or most) of its vulnerabilities,
with the ecosystem's own version ordering (`univers`), and a reason for everything left unfixed."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from univers.versions import Version

from intelsec.sbom.ecosystems import VersionError, major, parse_version
from intelsec.sbom.models import Vulnerability, normalise_name

_PRE = re.compile(r"(?i)\d(?:a|b|c|rc)\d+(?:$|[.+-])|[.-](?:alpha|beta|pre|preview|rc|dev|snapshot|m\d)")
WONT_FIX = {"wont-fix", "will_not_fix", "end_of_life", "fix_deferred", "not-fixed", "affected"}


@dataclass
class Unfixed:
    id: str
    reason: str


@dataclass
class Plan:
    package: str
    ecosystem: str
    installed: str
    purl: str | None
    target: str | None
    crosses_major: bool
    fixes: list[str]
    unfixed: list[Unfixed]
    direct: bool | None
    via: list[str]
    risk: float
    severity: str
    vulns: list[Vulnerability] = field(default_factory=list, repr=False)

    @property
    def action(self) -> str:
        """A PR only when there is a version to move to; otherwise a ticket."""
        return "pr" if self.target else "ticket"

    @property
    def fingerprint(self) -> str:
        """Stable across runs and target changes: one branch/issue per installed package version."""
        key = f"{self.ecosystem}|{normalise_name(self.ecosystem, self.package)}|{self.installed}"
        return hashlib.sha256(key.encode()).hexdigest()[:12]

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package, "ecosystem": self.ecosystem, "installed": self.installed, "purl": self.purl,
            "target": self.target, "crosses_major": self.crosses_major, "action": self.action,
            "fixes": self.fixes, "unfixed": [{"id": u.id, "reason": u.reason} for u in self.unfixed],
            "direct": self.direct, "via": self.via, "risk": self.risk, "severity": self.severity,
            "fingerprint": self.fingerprint,
        }


def _parse_all(eco: str, texts: list[str]) -> tuple[list[tuple[Version, str]], list[str]]:
    ok, bad = [], []
    for t in texts:
        try:
            ok.append((parse_version(eco, t), t))
        except VersionError:
            bad.append(t)
    return ok, bad


def _fixed_by(eco: str, target: Version, target_text: str, fixes: list[tuple[Version, str]]) -> bool:
    """`target` fixes a vulnerability when it is at or above the fix of its own release line, or
    above every listed fix. (A fix listed for 2.1.3 does not make 2.0.0 safe.)"""
    line = major(eco, target_text)
    same_line = [v for v, t in fixes if major(eco, t) == line]
    if same_line:
        return target >= max(same_line)
    return all(target >= v for v, _ in fixes) and bool(fixes)


def _choose(eco: str, candidates: list[tuple[Version, str]], usable: dict[str, list[tuple[Version, str]]]
            ) -> tuple[tuple[Version, str] | None, list[str]]:
    """The lowest candidate that fixes the most vulnerabilities (candidates are sorted ascending)."""
    best: tuple[Version, str] | None = None
    best_fixed: list[str] = []
    for pv, text in candidates:
        fixed = [vid for vid, fixes in usable.items() if _fixed_by(eco, pv, text, fixes)]
        if len(fixed) > len(best_fixed):
            best, best_fixed = (pv, text), fixed
            if len(fixed) == len(usable):
                break
    return best, best_fixed


def plan_package(vulns: list[Vulnerability], allow_major: bool = True) -> Plan:
    v0 = vulns[0]
    eco, installed = v0.ecosystem, v0.version
    plan = Plan(package=v0.package, ecosystem=eco, installed=installed, purl=v0.purl, target=None,
                crosses_major=False, fixes=[], unfixed=[], direct=v0.direct, via=v0.via,
                risk=max(v.risk for v in vulns), severity=v0.severity, vulns=vulns)
    try:
        inst = parse_version(eco, installed)
    except VersionError:
        plan.unfixed = [Unfixed(v.id, f"installed version {installed!r} is not a valid {eco} version") for v in vulns]
        return plan
    usable: dict[str, list[tuple[Version, str]]] = {}
    for v in vulns:
        parsed, bad = _parse_all(eco, v.fixed_versions)
        above = [(pv, t) for pv, t in parsed if pv > inst]
        if above:
            usable[v.id] = above
        elif not v.fixed_versions:
            states = [s for s in v.fix_states if s in WONT_FIX and s not in ("affected", "not-fixed")]
            why = f"vendor will not fix ({', '.join(states)})" if states else "no fixed release"
            plan.unfixed.append(Unfixed(v.id, why))
        elif bad and not parsed:
            plan.unfixed.append(Unfixed(v.id, f"fixed-version data unparsable: {', '.join(bad)}"))
        else:
            plan.unfixed.append(Unfixed(v.id, "fixed-version data contradictory: fixed in "
                                        f"{', '.join(v.fixed_versions)} but installed {installed} is still reported"))
    line = major(eco, installed)
    unique = {t: pv for fixes in usable.values() for pv, t in fixes}
    candidates = sorted(((pv, t) for t, pv in unique.items()), key=lambda x: x[0])
    if not allow_major:
        candidates = [c for c in candidates if major(eco, c[1]) == line]
    best, best_fixed = _choose(eco, [c for c in candidates if not _PRE.search(c[1])], usable)
    any_best, any_fixed = _choose(eco, candidates, usable)
    if len(any_fixed) > len(best_fixed):  # a pre-release only when no stable release does as much
        best, best_fixed = any_best, any_fixed
    for vid, fixes in usable.items():
        if vid in best_fixed:
            continue
        lines = sorted({major(eco, t) for _, t in fixes})
        if line not in lines:
            where = ", ".join(t for _, t in fixes)
            plan.unfixed.append(Unfixed(vid, f"fix only on another major line ({where})"))
        else:
            plan.unfixed.append(Unfixed(vid, "no single version fixes it together with the others (fixed in "
                                        f"{', '.join(t for _, t in fixes)})"))
    if best is not None:
        plan.target = best[1]
        if eco == "golang" and installed.startswith("v") and not best[1].startswith("v"):
            plan.target = "v" + best[1]
        plan.fixes = sorted(best_fixed)
        plan.crosses_major = major(eco, best[1]) != line
    return plan


def build_plans(vulns: list[Vulnerability], allow_major: bool = True) -> list[Plan]:
    by_pkg: dict[tuple[str, str, str], list[Vulnerability]] = {}
    for v in vulns:
        if not v.suppressed:
            by_pkg.setdefault((v.ecosystem, normalise_name(v.ecosystem, v.package), v.version), []).append(v)
    plans = [plan_package(vs, allow_major) for vs in by_pkg.values()]
    return sorted(plans, key=lambda p: (-p.risk, p.package))
