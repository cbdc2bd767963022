"""Risk score (0-100) used to order vulnerabilities and plans. Documented in docs/sbom.md.

    risk = 100 * (0.35 * cvss/10 + 0.25 * epss + 0.30 * kev + 0.05 * fix + 0.05 * direct)

- cvss: base score of the newest CVSS vector (computed by the `cvss` library); without a vector,
  the scanner severity stands in (critical 9.5, high 8.0, medium 5.5, low 2.0, unknown 5.0).
- epss: FIRST EPSS probability of exploitation in the next 30 days (0 when unknown).
- kev: 1 when CISA lists the CVE as known exploited, so a KEV entry outranks any non-KEV one of
  similar severity.
- fix: 1 when a fixed version exists (actionable work first).
- direct: 1 for direct dependencies, 0 for transitive ones, 0.5 when the SBOM does not say.
"""

from __future__ import annotations

from intelsec.sbom.feeds import Feed
from intelsec.sbom.models import SEVERITY_RANK, Vulnerability

SEVERITY_SCORE = {"critical": 9.5, "high": 8.0, "medium": 5.5, "low": 2.0, "unknown": 5.0}
WEIGHTS = {"cvss": 0.35, "epss": 0.25, "kev": 0.30, "fix": 0.05, "direct": 0.05}


def enrich(vulns: list[Vulnerability], epss: Feed | None, kev: Feed | None) -> None:
    """Feed values override scanner-embedded ones: the feed is what the user chose and dated."""
    for v in vulns:
        cves = [i.upper() for i in v.ids if i.upper().startswith("CVE-")]
        if epss is not None:
            hits = [epss.epss[c] for c in cves if c in epss.epss]
            if hits:
                v.epss, v.epss_percentile = max(hits)
        if kev is not None:
            entry = next((kev.kev[c] for c in cves if c in kev.kev), None)
            v.kev = entry is not None or v.kev
            v.kev_entry = entry


def risk(v: Vulnerability) -> float:
    base = v.cvss.score if v.cvss is not None else SEVERITY_SCORE.get(v.severity, 5.0)
    direct = 0.5 if v.direct is None else float(v.direct)
    score = (WEIGHTS["cvss"] * base / 10 + WEIGHTS["epss"] * (v.epss or 0.0) + WEIGHTS["kev"] * float(v.kev)
             + WEIGHTS["fix"] * float(bool(v.fixed_versions)) + WEIGHTS["direct"] * direct)
    return round(100 * score, 1)


def rank(vulns: list[Vulnerability]) -> list[Vulnerability]:
    for v in vulns:
        v.risk = risk(v)
    return sorted(vulns, key=lambda v: (-v.risk, -SEVERITY_RANK.get(v.severity, 0), v.package, v.id))
