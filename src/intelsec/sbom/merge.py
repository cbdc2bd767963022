"""De-duplication: the same vulnerability of the same package version, reported by several
scanners or under several ids (CVE, GHSA, GO-, OSV...), becomes one `Vulnerability`."""

from __future__ import annotations

from collections.abc import Iterable

from intelsec.sbom.models import SEVERITY_RANK, Finding, Package, Vulnerability, normalise_name
from intelsec.sbom.scoring import best

_ID_PREFERENCE = ("CVE-", "GHSA-")


def _canonical(ids: Iterable[str]) -> str:
    ordered = sorted(set(ids))
    for prefix in _ID_PREFERENCE:
        for i in ordered:
            if i.startswith(prefix):
                return i
    return ordered[0]


def _version_key(ecosystem: str, version: str) -> str:
    return version[1:] if ecosystem == "golang" and version.startswith("v") else version


def group_key(ecosystem: str, name: str, version: str) -> tuple[str, str, str]:
    return (ecosystem, normalise_name(ecosystem, name), _version_key(ecosystem, version))


def fill_ecosystems(findings: list[Finding], packages: list[Package]) -> None:
    """SARIF carries no ecosystem: borrow it from an SBOM package or another report of the same name@version."""
    known: dict[tuple[str, str], str] = {}
    for p in packages:
        known.setdefault((p.name.lower(), p.version), p.ecosystem)
    for f in findings:
        if f.ecosystem != "unknown":
            known.setdefault((f.package.lower(), f.version), f.ecosystem)
    for f in findings:
        if f.ecosystem == "unknown":
            f.ecosystem = known.get((f.package.lower(), f.version), "unknown")


def merge(findings: list[Finding]) -> list[Vulnerability]:
    by_pkg: dict[tuple[str, str, str], list[list[Finding]]] = {}
    for f in findings:
        groups = by_pkg.setdefault(group_key(f.ecosystem, f.package, f.version), [])
        ids = {f.vuln_id, *f.aliases}
        hits = [g for g in groups if any(ids & {x.vuln_id, *x.aliases} for x in g)]
        if not hits:
            groups.append([f])
            continue
        target = hits[0]
        target.append(f)
        for other in hits[1:]:  # this finding links two groups: fold them together
            target.extend(other)
            groups.remove(other)
    out: list[Vulnerability] = []
    for groups in by_pkg.values():
        for g in groups:
            out.append(_combine(g))
    return out


def _combine(group: list[Finding]) -> Vulnerability:
    ids = {i for f in group for i in (f.vuln_id, *f.aliases)}
    vid = _canonical(ids)
    first = next((f for f in group if f.purl), group[0])
    cvss = best([c for f in group for c in f.cvss])
    sev = max((f.severity for f in group), key=lambda s: SEVERITY_RANK.get(s, 0))
    if sev == "unknown" and cvss is not None:
        sev = cvss.severity
    epss = [f.epss for f in group if f.epss is not None]
    return Vulnerability(
        id=vid, aliases=sorted(ids - {vid}), package=first.package, version=first.version, ecosystem=first.ecosystem,
        purl=first.purl, severity=sev, cvss=cvss,
        cwes=sorted({c for f in group for c in f.cwes}),
        fixed_versions=list(dict.fromkeys(v for f in group for v in f.fixed_versions)),
        fix_states=sorted({f.fix_state for f in group if f.fix_state}),
        references=list(dict.fromkeys(r for f in group for r in f.references))[:15],
        title=next((f.title for f in group if f.title), None),
        sources=sorted({f.source for f in group}),
        elements=[f"{f.element}" for f in group],
        epss=max(epss) if epss else None,
        kev=any(f.kev for f in group),
        suppressed=any(f.suppressed for f in group),
    )
