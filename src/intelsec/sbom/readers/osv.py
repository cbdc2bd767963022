"""osv-scanner JSON (`results[].packages[].vulnerabilities[]`, OSV schema, alias groups)."""

from __future__ import annotations

from typing import Any

from intelsec.sbom.models import Document, Finding, Problem, severity_of
from intelsec.sbom.readers.common import as_dict, as_list, make_package, scored, strs
from intelsec.sbom.readers.interface import Reader


class OsvScannerReader(Reader):
    format = "osv-scanner-json"

    def detect(self, data: Any) -> bool:
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            return False
        first = as_dict((data["results"] or [{}])[0])
        return "packages" in first or "source" in first or not data["results"]

    def read(self, data: Any, path: str) -> Document:
        doc = Document(path=path, format=self.format)
        for i, raw in enumerate(as_list(data.get("results"))):
            res = as_dict(raw)
            src = str(as_dict(res.get("source")).get("path") or "")
            for j, rp in enumerate(as_list(res.get("packages"))):
                rp = as_dict(rp)
                p = as_dict(rp.get("package"))
                where = f"results[{i}].packages[{j}]"
                if not isinstance(p.get("name"), str) or not p["name"]:
                    what = f"git commit {p['commit']}" if p.get("commit") else "nothing"
                    doc.problems.append(Problem(path, where, f"package identified by {what}, not a name: skipped"))
                    continue
                pkg = make_package(p["name"], str(p.get("version") or ""), p.get("purl"), p.get("ecosystem"),
                                   locations=[src] if src else [])
                for k, rv in enumerate(as_list(rp.get("vulnerabilities"))):
                    v = as_dict(rv)
                    vid = v.get("id")
                    if not isinstance(vid, str):
                        doc.problems.append(Problem(path, f"{where}.vulnerabilities[{k}]", "vulnerability without id"))
                        continue
                    # `aliases` only: osv-scanner `groups` also join merely related advisories
                    aliases = set(strs(v.get("aliases"))) - {vid}
                    doc.findings.append(Finding(
                        vuln_id=vid, package=pkg.name, version=pkg.version, ecosystem=pkg.ecosystem, purl=pkg.purl,
                        source="osv-scanner", aliases=sorted(aliases), severity=_severity(v),
                        cvss=scored([s.get("score") for s in map(as_dict, as_list(v.get("severity")))
                                     if isinstance(s.get("score"), str) and s["score"].startswith(("CVSS", "AV:"))]),
                        cwes=strs(as_dict(v.get("database_specific")).get("cwe_ids")),
                        fixed_versions=_fixed(v, pkg.name),
                        references=strs([as_dict(r).get("url") for r in as_list(v.get("references"))])[:20],
                        title=v.get("summary") if isinstance(v.get("summary"), str) else None,
                        element=f"{where}.vulnerabilities[{k}]",
                    ))
        return doc


def _severity(v: dict[str, Any]) -> str:
    return severity_of(as_dict(v.get("database_specific")).get("severity"))


def _fixed(v: dict[str, Any], name: str) -> list[str]:
    """`fixed` events of ECOSYSTEM/SEMVER ranges for this package (GIT ranges hold commits)."""
    out: list[str] = []
    for aff in map(as_dict, as_list(v.get("affected"))):
        aname = as_dict(aff.get("package")).get("name")
        if isinstance(aname, str) and aname.lower() != name.lower() and not name.lower().endswith(aname.lower()):
            continue
        for rng in map(as_dict, as_list(aff.get("ranges"))):
            if rng.get("type") == "GIT":
                continue
            out.extend(str(e["fixed"]) for e in map(as_dict, as_list(rng.get("events"))) if e.get("fixed"))
    return list(dict.fromkeys(out))
