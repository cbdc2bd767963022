"""Triage: read inputs, match findings to the SBOM, merge, enrich, rank, plan. Pure apart from
reading the input files; the CLI, the PR bot and the benchmark all call `triage()`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intelsec.errors import InputError
from intelsec.sbom.feeds import Feed
from intelsec.sbom.graph import DependencyGraph
from intelsec.sbom.merge import fill_ecosystems, group_key, merge
from intelsec.sbom.models import SEVERITIES, Document, Finding, Package, Problem, Vulnerability
from intelsec.sbom.plans import Plan, build_plans
from intelsec.sbom.ranking import enrich, rank
from intelsec.sbom.readers import load_document


def apply_vex(vulns: list[Vulnerability], suppressions: list[Finding]) -> None:
    """VEX `not_affected`/`fixed` (and analyst suppressions) hide matching vulnerabilities; a statement
    without a version covers every version of the package."""
    by_pkg: dict[tuple[str, str], list[Finding]] = {}
    for s in suppressions:
        by_pkg.setdefault(group_key(s.ecosystem, s.package, "")[:2], []).append(s)
    for v in vulns:
        key = group_key(v.ecosystem, v.package, v.version)
        for s in by_pkg.get(key[:2], ()):
            if (not s.version or group_key(s.ecosystem, s.package, s.version) == key) and (
                    {s.vuln_id, *s.aliases} & set(v.ids)):
                v.suppressed = True
                break


@dataclass
class TriageResult:
    vulnerabilities: list[Vulnerability]
    plans: list[Plan]
    summary: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    failed_inputs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"vulnerabilities": [v.to_json() for v in self.vulnerabilities if not v.suppressed],
                "plans": [p.to_json() for p in self.plans], "summary": self.summary}

    @property
    def open(self) -> list[Vulnerability]:
        return [v for v in self.vulnerabilities if not v.suppressed]


def _load(paths: list[Path], problems: list[Problem], failed: list[str]) -> list[Document]:
    docs = []
    for p in paths:
        try:
            docs.append(load_document(p))
        except InputError as exc:
            problems.append(Problem(str(p), "", str(exc).removeprefix(f"{p}: "), "bad_file"))
            failed.append(str(p))
    return docs


def triage(sboms: list[Path], findings: list[Path], epss: Feed | None = None, kev: Feed | None = None,
           allow_major: bool = True) -> TriageResult:
    problems: list[Problem] = []
    failed: list[str] = []
    sbom_docs = _load(sboms, problems, failed)
    finding_docs = _load(findings, problems, failed)
    if not sbom_docs and not finding_docs:
        raise InputError("nothing to triage: " + ("; ".join(str(p) for p in problems) if problems
                                                 else "give --sbom and/or --findings"))
    packages: list[Package] = [p for d in sbom_docs for p in d.packages]
    all_findings: list[Finding] = [f for d in (*sbom_docs, *finding_docs) for f in d.findings]
    for d in (*sbom_docs, *finding_docs):
        problems.extend(d.problems)
    fill_ecosystems(all_findings, packages)

    index: dict[tuple[str, str, str], Package] = {}
    loose: dict[tuple[str, str], Package] = {}
    for p in packages:
        index.setdefault(group_key(p.ecosystem, p.name, p.version), p)
        loose.setdefault((p.name.lower(), p.version), p)
    doc_of = {id(f): d.path for d in (*sbom_docs, *finding_docs) for f in d.findings}
    suppressions = [f for f in all_findings if f.suppressed]
    active = [f for f in all_findings if not f.suppressed]
    matched: dict[tuple[str, str, str], Package] = {}
    unmatched = 0
    for f in active:
        key = group_key(f.ecosystem, f.package, f.version)
        pkg = index.get(key) or loose.get((f.package.lower(), f.version))
        if pkg is not None:
            matched[key] = pkg
        elif packages:
            unmatched += 1
            problems.append(Problem(doc_of[id(f)], f.element, f"{f.vuln_id} for {f.package}@{f.version}: package not "
                                    "in the SBOM (still triaged)", "not_in_sbom"))

    for f in active:
        f.element = f"{doc_of[id(f)]}\t{f.element}"  # where each merged report came from
    vulns = merge(active)
    apply_vex(vulns, suppressions)
    graph = DependencyGraph(sbom_docs + finding_docs)
    # scanner reports that list packages (Trivy `Packages`) tell directness when no SBOM does
    reported = {group_key(p.ecosystem, p.name, p.version): p for d in finding_docs for p in d.packages}
    for v in vulns:
        key = group_key(v.ecosystem, v.package, v.version)
        pkg = matched.get(key) or reported.get(key)
        if pkg is not None:
            graph.classify(pkg)
            v.direct, v.via, v.purl = pkg.direct, pkg.via, v.purl or pkg.purl
    enrich(vulns, epss, kev)
    ranked = rank(vulns)
    plans = build_plans(ranked, allow_major)
    for plan in plans:
        for u in plan.unfixed:
            if u.reason.startswith("installed version"):
                file, _, element = plan.vulns[0].elements[0].partition("\t")
                problems.append(Problem(file, element, f"{plan.package}: {u.reason}", "bad_version"))
                break

    open_vulns = [v for v in ranked if not v.suppressed]
    affected = {group_key(v.ecosystem, v.package, v.version) for v in open_vulns}
    sev = Counter(v.severity for v in open_vulns)
    kinds = Counter(p.kind for p in problems)
    summary: dict[str, Any] = {
        "inputs": [{"path": d.path, "format": d.format, "packages": len(d.packages), "findings": len(d.findings)}
                   for d in (*sbom_docs, *finding_docs)],
        "failed_inputs": failed,
        "packages": len(packages),
        "packages_without_findings": len({group_key(p.ecosystem, p.name, p.version) for p in packages} - affected)
        if packages else None,
        "findings_read": len(all_findings),
        "vulnerabilities": len(open_vulns),
        "duplicates_merged": len(active) - len(vulns),
        "vex_statements": len(suppressions),
        "suppressed": len(ranked) - len(open_vulns),
        "by_severity": {s: sev.get(s, 0) for s in SEVERITIES},
        "kev": sum(1 for v in open_vulns if v.kev),
        "fixable": sum(1 for v in open_vulns if v.fixed_versions),
        "plans": {"pr": sum(1 for p in plans if p.action == "pr"),
                  "ticket": sum(1 for p in plans if p.action == "ticket"),
                  "crosses_major": sum(1 for p in plans if p.crosses_major)},
        "not_in_sbom": unmatched,
        "bad_versions": kinds.get("bad_version", 0),
        "problems": len(problems),
        "problem_details": [str(p) for p in problems[:200]],
        "feeds": {"epss": epss.describe() if epss else None, "kev": kev.describe() if kev else None},
    }
    return TriageResult(ranked, plans, summary, problems, failed)
