"""Grype JSON (`matches[]` with vulnerability, relatedVulnerabilities, artifact)."""

from __future__ import annotations

from typing import Any

from intelsec.sbom.models import Document, Finding, Problem, severity_of
from intelsec.sbom.readers.common import as_dict, as_list, make_package, scored
from intelsec.sbom.readers.interface import Reader


class GrypeReader(Reader):
    format = "grype-json"

    def detect(self, data: Any) -> bool:
        return isinstance(data, dict) and isinstance(data.get("matches"), list) and (
            "descriptor" in data or "source" in data)

    def read(self, data: Any, path: str) -> Document:
        doc = Document(path=path, format=self.format)
        for i, raw in enumerate(as_list(data.get("matches"))):
            where = f"matches[{i}]"
            m = as_dict(raw)
            v, art = as_dict(m.get("vulnerability")), as_dict(m.get("artifact"))
            vid, name = v.get("id"), art.get("name")
            if not isinstance(vid, str) or not isinstance(name, str):
                doc.problems.append(Problem(path, where, "match without vulnerability.id/artifact.name: skipped"))
                continue
            locs = [str(loc.get("path")) for loc in as_list(art.get("locations"))[:5] if isinstance(loc, dict)]
            pkg = make_package(name, str(art.get("version") or ""), art.get("purl") or None, art.get("type"),
                               locations=locs)
            related = [as_dict(r) for r in as_list(m.get("relatedVulnerabilities"))]
            vectors = [c.get("vector") for src in [v, *related] for c in as_list(src.get("cvss"))
                       if isinstance(c, dict) and isinstance(c.get("vector"), str)]
            refs = [u for src in [v, *related] for u in as_list(src.get("urls")) if isinstance(u, str)]
            cwes = sorted({str(c.get("cwe")) for c in as_list(v.get("cwes")) if isinstance(c, dict) and c.get("cwe")})
            epss = [e.get("epss") for e in as_list(v.get("epss")) if isinstance(e, dict)]
            fix = as_dict(v.get("fix"))
            doc.findings.append(Finding(
                vuln_id=vid, package=pkg.name, version=pkg.version, ecosystem=pkg.ecosystem, purl=pkg.purl,
                source="grype", aliases=[r["id"] for r in related if isinstance(r.get("id"), str) and r["id"] != vid],
                severity=severity_of(v.get("severity")), cvss=scored(vectors), cwes=cwes,
                fixed_versions=[f for f in as_list(fix.get("versions")) if isinstance(f, str)],
                fix_state=fix["state"] if isinstance(fix.get("state"), str) else None,
                references=list(dict.fromkeys(refs))[:20],
                title=v.get("description") if isinstance(v.get("description"), str) else None,
                epss=float(epss[0]) if epss and isinstance(epss[0], int | float) else None,
                kev=bool(v.get("knownExploited")) or None, element=where,
            ))
        return doc
