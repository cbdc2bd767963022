"""Normalised SBOM and findings types shared by readers, ranking, plans and the PR bot.

Plain slotted dataclasses, not pydantic: a large image SBOM has tens of thousands of packages and
these objects are built in the hot path of `sbom triage`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "unknown")
SEVERITY_RANK = {s: i for i, s in enumerate(reversed(SEVERITIES))}  # unknown=0 ... critical=4


@dataclass(slots=True)
class Package:
    """One component: `ref` is the document-local id (SPDXID, bom-ref, syft id)."""

    name: str
    version: str
    ecosystem: str
    purl: str | None = None
    ref: str | None = None
    locations: list[str] = field(default_factory=list)
    direct: bool | None = None
    via: list[str] = field(default_factory=list)  # direct dependencies that bring a transitive one in

    @property
    def key(self) -> tuple[str, str, str]:
        return package_key(self.ecosystem, self.name, self.version)


@dataclass(slots=True)
class Cvss:
    version: str  # "2.0", "3.0", "3.1", "4.0"
    vector: str
    score: float
    severity: str


@dataclass(slots=True)
class Finding:
    """One scanner's claim that `vuln_id` affects a package version."""

    vuln_id: str
    package: str
    version: str
    ecosystem: str
    source: str  # scanner name: trivy, grype, osv-scanner, cyclonedx, ...
    purl: str | None = None
    aliases: list[str] = field(default_factory=list)
    severity: str = "unknown"
    cvss: list[Cvss] = field(default_factory=list)
    cwes: list[str] = field(default_factory=list)
    fixed_versions: list[str] = field(default_factory=list)
    fix_state: str | None = None  # fixed, not-fixed, wont-fix, end_of_life, ...
    references: list[str] = field(default_factory=list)
    title: str | None = None
    epss: float | None = None
    kev: bool | None = None
    element: str = ""  # where in the input file this came from, for messages
    suppressed: bool = False  # VEX said not_affected / false_positive


@dataclass(slots=True)
class Problem:
    """A bad element that was skipped or flagged; the run continues."""

    file: str
    element: str
    message: str
    kind: str = "bad_element"

    def __str__(self) -> str:
        where = f"{self.file}: {self.element}" if self.element else self.file
        return f"{where}: {self.message}"


@dataclass(slots=True)
class Document:
    """What one input file yielded."""

    path: str
    format: str
    packages: list[Package] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)  # (dependent ref, dependency ref)
    roots: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def normalise_name(ecosystem: str, name: str) -> str:
    """Names as the ecosystem compares them (PEP 503 for PyPI, case-insensitive elsewhere but Go)."""
    if ecosystem == "pypi":
        return re.sub(r"[-_.]+", "-", name).lower()
    if ecosystem == "golang":
        return name
    return name.lower()


def package_key(ecosystem: str, name: str, version: str) -> tuple[str, str, str]:
    return (ecosystem, normalise_name(ecosystem, name), version)


def severity_of(text: str | None) -> str:
    t = (text or "").strip().lower()
    if t in ("critical", "high", "medium", "low"):
        return t
    if t in ("moderate",):
        return "medium"
    if t in ("negligible", "info", "informational", "none"):
        return "low"
    return "unknown"


def severity_from_score(score: float) -> str:
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0:
        return "low"
    return "unknown"


@dataclass(slots=True)
class Vulnerability:
    """One vulnerability of one installed package, merged across scanners and aliases."""

    id: str
    aliases: list[str]
    package: str
    version: str
    ecosystem: str
    purl: str | None
    severity: str
    cvss: Cvss | None
    cwes: list[str]
    fixed_versions: list[str]
    fix_states: list[str]
    references: list[str]
    title: str | None
    sources: list[str]
    elements: list[str]
    epss: float | None = None
    epss_percentile: float | None = None
    kev: bool = False
    kev_entry: dict[str, Any] | None = None
    risk: float = 0.0
    direct: bool | None = None
    via: list[str] = field(default_factory=list)
    suppressed: bool = False

    @property
    def ids(self) -> list[str]:
        return [self.id, *self.aliases]

    def to_json(self) -> dict[str, Any]:
        """The public shape of `sbom triage --format json` (kept exactly as documented)."""
        return {
            "id": self.id, "aliases": self.aliases, "package": self.package, "version": self.version,
            "purl": self.purl, "ecosystem": self.ecosystem, "severity": self.severity,
            "cvss": None if self.cvss is None else {"score": self.cvss.score, "vector": self.cvss.vector,
                                                     "version": self.cvss.version},
            "epss": self.epss, "kev": self.kev, "fixed_versions": self.fixed_versions, "risk": self.risk,
            "sources": self.sources,
        }
