"""Trivy JSON report, schema version 2 (`Results[].Vulnerabilities[]`, plus `Packages` when listed)."""

from __future__ import annotations

from typing import Any

from intelsec.sbom.models import Document, Finding, Problem, severity_of
from intelsec.sbom.readers.common import as_dict, as_list, make_package, scored, split_versions, strs
from intelsec.sbom.readers.interface import Reader


class TrivyReader(Reader):
    format = "trivy-json"

    def detect(self, data: Any) -> bool:
        return isinstance(data, dict) and "Results" in data and (
            data.get("SchemaVersion") == 2 or "ArtifactName" in data)

    def read(self, data: Any, path: str) -> Document:
        doc = Document(path=path, format=self.format)
        for i, raw in enumerate(as_list(data.get("Results"))):
            res = as_dict(raw)
            rtype, target = res.get("Type"), str(res.get("Target") or "")
            for p in as_list(res.get("Packages")):
                p = as_dict(p)
                if isinstance(p.get("Name"), str):
                    ident = as_dict(p.get("Identifier"))
                    pkg = make_package(p["Name"], str(p.get("Version") or ""), ident.get("PURL"), rtype,
                                       ref=p.get("ID") or ident.get("UID"), locations=[target])
                    doc.edges.extend((str(p.get("ID")), str(dep)) for dep in as_list(p.get("DependsOn")))
                    if p.get("Relationship") == "root":  # the project itself, not a dependency
                        doc.roots.append(str(p.get("ID")))
                        continue
                    pkg.direct = {"direct": True, "indirect": False}.get(str(p.get("Relationship")))
                    doc.packages.append(pkg)
            for j, raw_v in enumerate(as_list(res.get("Vulnerabilities"))):
                where = f"Results[{i}].Vulnerabilities[{j}]"
                v = as_dict(raw_v)
                vid, name = v.get("VulnerabilityID"), v.get("PkgName")
                if not isinstance(vid, str) or not isinstance(name, str):
                    doc.problems.append(Problem(path, where, "vulnerability without VulnerabilityID/PkgName: skipped"))
                    continue
                pkg = make_package(name, str(v.get("InstalledVersion") or ""),
                                   as_dict(v.get("PkgIdentifier")).get("PURL"), rtype)
                vectors = [vec for c in map(as_dict, as_dict(v.get("CVSS")).values())
                           for vec in (c.get("V40Vector"), c.get("V3Vector"), c.get("V2Vector"))]
                refs = [r for r in as_list(v.get("References")) if isinstance(r, str)] + strs(v.get("VendorIDs"))
                if isinstance(v.get("PrimaryURL"), str):
                    refs.insert(0, v["PrimaryURL"])
                doc.findings.append(Finding(
                    vuln_id=vid, package=pkg.name, version=pkg.version, ecosystem=pkg.ecosystem, purl=pkg.purl,
                    source="trivy",  # VendorIDs (RHSA, DSA...) cover several CVEs: references, not aliases
                    severity=severity_of(v.get("Severity")), cvss=scored(vectors),
                    cwes=[c for c in as_list(v.get("CweIDs")) if isinstance(c, str)],
                    fixed_versions=split_versions(v.get("FixedVersion")),
                    fix_state=v["Status"] if isinstance(v.get("Status"), str) else None,
                    references=refs, title=v.get("Title"), element=where,
                ))
        return doc
