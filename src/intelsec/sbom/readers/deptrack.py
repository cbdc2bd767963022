"""Dependency-Track Finding Packaging Format (FPF) exports (`findings[]`)."""

from __future__ import annotations

from typing import Any

from intelsec.sbom.models import Document, Finding, Problem, severity_of
from intelsec.sbom.readers.common import as_dict, as_list, make_package, scored
from intelsec.sbom.readers.interface import Reader


class DependencyTrackReader(Reader):
    format = "dependency-track-fpf"

    def detect(self, data: Any) -> bool:
        return isinstance(data, dict) and isinstance(data.get("findings"), list) and "Dependency-Track" in str(
            as_dict(data.get("meta")).get("application"))

    def read(self, data: Any, path: str) -> Document:
        doc = Document(path=path, format=self.format)
        for i, raw in enumerate(as_list(data.get("findings"))):
            f = as_dict(raw)
            c, v = as_dict(f.get("component")), as_dict(f.get("vulnerability"))
            vid, name = v.get("vulnId"), c.get("name")
            if not isinstance(vid, str) or not isinstance(name, str):
                doc.problems.append(Problem(path, f"findings[{i}]", "finding without vulnId/component name: skipped"))
                continue
            group = c.get("group")
            full = f"{group}/{name}" if isinstance(group, str) and group and not c.get("purl") else name
            pkg = make_package(full, str(c.get("version") or ""), c.get("purl"), None)
            aliases = sorted({a for al in map(as_dict, as_list(v.get("aliases"))) for a in al.values()
                              if isinstance(a, str) and a != vid})
            cwes = [f"CWE-{x.get('cweId')}" for x in map(as_dict, as_list(v.get("cwes"))) if x.get("cweId")]
            if not cwes and v.get("cweId"):
                cwes = [f"CWE-{v['cweId']}"]
            analysis = as_dict(f.get("analysis"))
            doc.findings.append(Finding(
                vuln_id=vid, package=pkg.name, version=pkg.version, ecosystem=pkg.ecosystem, purl=pkg.purl,
                source="dependency-track", aliases=aliases, severity=severity_of(v.get("severity")),
                cvss=scored([v.get("cvssV4Vector"), v.get("cvssV3Vector"), v.get("cvssV2Vector")]), cwes=cwes,
                title=v.get("title") if isinstance(v.get("title"), str) else None, element=f"findings[{i}]",
                suppressed=bool(analysis.get("isSuppressed")) or analysis.get("state") in ("NOT_AFFECTED",
                                                                                           "FALSE_POSITIVE"),
            ))
        return doc
